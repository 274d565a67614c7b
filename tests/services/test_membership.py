"""Membership scenarios on simulated time: join, leave, kill, partition, loss, other clusters, restarts."""

from __future__ import annotations

import msgpack
import pytest

from zactor.errors import DecodeError
from zactor.services.membership.detector import DetectorConfig, PhiAccrualDetector
from zactor.services.membership.gossip import EventKind, MembershipConfig, MemberStatus
from zactor.services.membership.messages import Ack, Syn, SynAck
from zactor.services.membership.simulation import Simulation
from zactor.services.membership.state import DeltaEntry
from zactor.transport.codec import decode_body

LIVE, DEAD, LEFT = MemberStatus.LIVE, MemberStatus.DEAD, MemberStatus.LEFT


def _cluster(n: int, seed: int = 1, **kwargs: object) -> Simulation:
    sim = Simulation(seed=seed, **kwargs)  # type: ignore[arg-type]
    for i in range(n):
        sim.add_node(f"n{i}", seeds=["n0"] if i else [])
    return sim


def test_pauses_longer_than_max_interval_are_left_out_of_the_mean() -> None:
    """An interval above max_interval_s (a pause) does not inflate the mean."""
    detector = PhiAccrualDetector(DetectorConfig(max_interval_s=1.0, initial_interval_s=0.2), now_s=0.0)
    detector.heartbeat(0.2)
    detector.heartbeat(30.0)
    detector.heartbeat(30.2)
    assert detector.mean_interval_s == pytest.approx(0.2)


def test_nodes_joining_through_a_seed_all_see_each_other() -> None:
    """Five nodes started with one seed are all LIVE to each other within 2 simulated seconds."""
    sim = _cluster(5)
    elapsed = sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=2.0)
    assert elapsed <= 2.0
    members = sim.nodes["n3"].members(sim.now_s)
    assert [m.node_id for m in members] == ["n0", "n1", "n2", "n3", "n4"]
    assert {e.kind for e in sim.nodes["n3"].take_events()} == {EventKind.JOINED}


def test_killed_node_is_declared_dead_by_all_within_five_seconds() -> None:
    """A node that stops answering is DEAD for every other node within 5 simulated seconds, with a DEAD event."""
    sim = _cluster(3)
    sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=3.0)
    for core in sim.nodes.values():
        core.take_events()
    sim.kill("n2")
    elapsed = sim.run_until(lambda: sim.all_see(["n2"], DEAD), max_s=10.0)
    assert elapsed < 5.0
    assert [e.kind for e in sim.nodes["n0"].take_events()] == [EventKind.DEAD]


def test_graceful_leave_is_seen_at_once() -> None:
    """A node that leaves gracefully is LEFT for its peers right away, not after failure detection."""
    sim = _cluster(3)
    sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=3.0)
    sim.leave("n1")
    assert sim.all_see(["n1"], LEFT, observers=["n0", "n2"])
    sim.run_for(10.0)
    assert sim.all_see(["n1"], LEFT, observers=["n0", "n2"]), "a leaving node must not come back as live or dead"


def test_partition_declares_the_other_side_dead_and_healing_revives_it() -> None:
    """Across a partition each side sees the other DEAD; after healing everyone is LIVE again."""
    sim = _cluster(4)
    sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=3.0)
    sim.partition(["n0", "n1"], ["n2", "n3"])
    sim.run_until(lambda: sim.all_see(["n2", "n3"], DEAD, observers=["n0", "n1"]), max_s=10.0)
    assert sim.all_see(["n1"], LIVE, observers=["n0"])
    sim.heal()
    sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=5.0)


def test_half_the_messages_lost_causes_no_false_death() -> None:
    """With 50% message loss for 60 simulated seconds, no live node is ever seen dead."""
    sim = _cluster(5, seed=3, loss_rate=0.5)
    sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=10.0)
    for _ in range(300):
        sim.step()
        assert sim.all_see(sim.nodes, LIVE)


def test_gossip_from_another_cluster_is_refused_and_never_merged() -> None:
    """Two clusters pointed at each other stay apart: rounds opened across clusters are refused (as nodes refuse
    each other's envelopes) and counted."""
    sim = Simulation(seed=5)
    sim.add_node("a0", cluster_id="alpha")
    sim.add_node("a1", seeds=["a0"], cluster_id="alpha")
    sim.add_node("b0", seeds=["a0"], cluster_id="beta")
    sim.run_until(lambda: sim.all_see(["a1"], LIVE, observers=["a0"]), max_s=3.0)
    sim.run_for(3.0)
    assert sim.nodes["a0"].status_of("b0") is None and sim.nodes["b0"].status_of("a0") is None
    assert sim.refused["a0"] > 0


def test_restarted_node_replaces_its_old_state() -> None:
    """A node restarted with a new generation replaces the old one everywhere and its old state never returns."""
    sim = _cluster(3)
    sim.nodes["n2"].set("meta.version", "1")
    sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=3.0)
    sim.kill("n2")
    sim.run_until(lambda: sim.all_see(["n2"], DEAD), max_s=10.0)
    sim.add_node("n2", seeds=["n0"])
    sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=3.0)
    member = next(m for m in sim.nodes["n1"].members(sim.now_s) if m.node_id == "n2")
    assert member.generation == 2 and member.meta == {}


def test_actor_names_and_meta_are_gossiped() -> None:
    """Keys a node sets (its actors, user meta) reach every other node."""
    sim = _cluster(3)
    sim.nodes["n1"].set("actors", ["calc", "kv"])
    sim.nodes["n1"].set("meta.role", "worker")
    sim.run_until(lambda: sim.all_see(sim.nodes, LIVE), max_s=3.0)
    sim.run_for(1.0)
    member = next(m for m in sim.nodes["n2"].members(sim.now_s) if m.node_id == "n1")
    assert member.actors == ("calc", "kv") and member.meta == {"role": "worker"}


def test_malformed_and_impossible_gossip_is_refused_without_merging() -> None:
    """Malformed digests and deltas are refused at decode; impossible counters, versions and oversized deltas raise
    DecodeError in the core; nothing of them is merged. False claims about ourselves are refuted with a newer
    generation."""
    sim = _cluster(2)
    core = sim.nodes["n0"]
    for name, fields in (
        ("zactor.gossip.SynAck", {"digest": "x", "delta": []}),
        ("zactor.gossip.SynAck", {"digest": [["n9", 1, 1]], "delta": []}),
        ("zactor.gossip.Ack", {"delta": [["n9", 1, 1, [["k", 5, 1]]]]}),
        ("zactor.gossip.Ack", {"delta": [["n9", 1, 1, [["k", ["a", 2], 1]]]]}),
    ):
        with pytest.raises(DecodeError, match=rf"^{name}\.(digest|delta)"):
            decode_body(name, msgpack.packb(fields))
    with pytest.raises(DecodeError):
        core.handle_synack(SynAck(digest=[], delta=[("n9", 1, 1, [("k", "v", 0)])]), sim.now_s)
    with pytest.raises(DecodeError):
        core.handle_syn(Syn(digest=[("n9", -1, 0, 0)]), sim.now_s)
    assert core.status_of("n9") is None
    core.handle_ack(Ack(delta=[("n0", 1, 99, [("address", "sim://evil", 50)])]), sim.now_s)
    assert core.stats["refuted"] == 1 and core.address_of("n0") == "sim://n0" and core.generation == 2
    core.handle_ack(Ack(delta=[("n0", 7, 1, [])]), sim.now_s)
    assert core.stats["refuted"] == 2 and core.generation == 8
    oversized: list[DeltaEntry] = [("n9", 1, 1, [(f"k{i}", "v", i + 1) for i in range(10_001)])]
    with pytest.raises(DecodeError):
        core.handle_ack(Ack(delta=oversized), sim.now_s)
    assert core.status_of("n9") is None


def test_oversized_state_travels_in_bounded_deltas() -> None:
    """A node with more state than one delta holds still converges, each delta staying under the byte cap."""
    sim = Simulation(seed=2, config=MembershipConfig(max_delta_bytes=2_000))
    sim.add_node("n0")
    sim.add_node("n1", seeds=["n0"])
    for i in range(200):
        sim.nodes["n0"].set(f"meta.k{i}", "x" * 40)

    def keys_known() -> int:
        known = [m for m in sim.nodes["n1"].members(sim.now_s, include_down=True) if m.node_id == "n0"]
        return len(known[0].meta) if known else 0

    sim.run_until(lambda: keys_known() == 200, max_s=20.0)
    assert max(sim.bytes_sent.values()) / max(sim.messages_sent.values()) < 2_500
