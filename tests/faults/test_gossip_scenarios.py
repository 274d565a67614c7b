"""Membership under faults, in simulated time: startups, partitions longer than the grace period, forged gossip."""

from __future__ import annotations

import pytest

from zactor import Node, NodeConfig
from zactor.directory import MEMBERSHIP_ACTOR
from zactor.errors import ClusterMismatch
from zactor.services.cluster import ClusterNode
from zactor.services.membership.detector import DetectorConfig, PhiAccrualDetector
from zactor.services.membership.gossip import EventKind, MembershipConfig, MemberStatus
from zactor.services.membership.messages import Ack
from zactor.services.membership.simulation import Simulation
from zactor.services.membership.state import DeltaEntry, NodeState

pytestmark = pytest.mark.fault

LIVE, DEAD = MemberStatus.LIVE, MemberStatus.DEAD


def _cluster(n: int, seed: int = 1, **kwargs: object) -> Simulation:
    sim = Simulation(seed=seed, **kwargs)  # type: ignore[arg-type]
    for i in range(n):
        sim.add_node(f"n{i}", seeds=["n0"] if i else [])
    return sim


def _dead_events(sim: Simulation) -> list[tuple[str, str]]:
    return [(o, e.node_id) for o, core in sim.nodes.items() for e in core.take_events() if e.kind is EventKind.DEAD]


def test_relayed_heartbeats_close_together_do_not_make_an_ordinary_gap_fatal() -> None:
    """Two heartbeats 3 ms apart (one direct, one relayed) early on, then a 0.4 s gap: the peer stays alive."""
    detector = PhiAccrualDetector(DetectorConfig(initial_interval_s=0.2, min_interval_s=0.2), now_s=0.0)
    detector.heartbeat(0.200)
    detector.heartbeat(0.203)
    assert detector.is_alive(0.603)
    assert detector.phi(0.603) < 3.0


def test_phi_counts_silence_in_mean_intervals() -> None:
    """phi is the silence divided by the mean interval (chitchat's scale): threshold 8 waits 8 mean intervals."""
    detector = PhiAccrualDetector(DetectorConfig(phi_threshold=8.0, initial_interval_s=0.2), now_s=0.0)
    for i in range(1, 11):
        detector.heartbeat(i * 0.2)
    assert detector.phi(2.0 + 1.0) == pytest.approx(5.0)
    assert detector.is_alive(2.0 + 1.55) and not detector.is_alive(2.0 + 1.65)


def test_no_false_death_in_100_five_node_startups() -> None:
    """100 seeded startups of 5 nodes, each gossiping at its own phase: no node is ever declared dead."""
    false_deaths = []
    for seed in range(100):
        sim = _cluster(5, seed=seed)
        sim.run_until(lambda sim=sim: sim.all_see(list(sim.nodes), LIVE), max_s=10.0)
        sim.run_for(10.0)
        false_deaths += [(seed, *pair) for pair in _dead_events(sim)]
    assert false_deaths == []


def test_a_partition_longer_than_the_grace_period_heals() -> None:
    """Both sides forget each other after dead_grace_s; when the link returns, the cluster is whole again."""
    config = MembershipConfig(dead_grace_s=5.0)
    sim = _cluster(3, config=config)
    sim.run_until(lambda: sim.all_see(["n0", "n1", "n2"], LIVE), max_s=10.0)
    sim.partition(["n0"], ["n1", "n2"])
    sim.run_for(20.0)
    assert sim.nodes["n1"].status_of("n0") is None and sim.nodes["n0"].status_of("n1") is None, "forgotten"
    sim.heal()
    sim.run_until(lambda: sim.all_see(["n0", "n1", "n2"], LIVE), max_s=10.0)


async def test_gossip_from_a_client_or_another_cluster_is_refused_and_never_merged() -> None:
    """An Ack injecting a member, sent by a plain node (its envelope names no cluster) or by a node of another
    cluster, is refused with ClusterMismatch and nothing of it is merged."""
    delta: list[DeltaEntry] = [("intruder", 1, 5, [("address", "tcp://127.0.0.1:9", 1)])]
    async with ClusterNode(NodeConfig(node_id="n0", cluster_id="prod")) as node:
        async with Node() as client, ClusterNode(NodeConfig(node_id="x", cluster_id="other")) as stranger:
            for sender in (client, stranger):
                with pytest.raises(ClusterMismatch):
                    await sender.ref(MEMBERSHIP_ACTOR, address=node.address).ask(Ack(delta=delta))
        assert node.membership.core.status_of("intruder") is None
        assert node.stats["wrong_cluster"] == 1


def test_forged_newer_generation_of_a_live_node_is_refuted() -> None:
    """An Ack claiming a newer generation of n1 reaches n0 and spreads; n1 refutes it with a still newer
    generation, and no node ever declares n1 dead."""
    sim = _cluster(3)
    sim.run_until(lambda: sim.all_see(["n0", "n1", "n2"], LIVE), max_s=10.0)
    _dead_events(sim)
    n1 = sim.nodes["n1"]
    real_generation = n1.generation
    forged = NodeState(("n1", real_generation + 1_000))
    forged.heartbeat = 10**6
    sim.nodes["n0"].handle_ack(Ack(delta=[("n1", forged.key[1], forged.heartbeat, [])]), sim.now_s)
    sim.run_for(20.0)
    assert n1.generation > real_generation + 1_000
    assert all(sim.sees(o, "n1", LIVE) for o in ("n0", "n2"))
    assert _dead_events(sim) == []
    assert n1.stats["refuted"] >= 1


def test_a_node_that_was_paused_does_not_convict_its_peers() -> None:
    """After its own 10 s pause (SIGSTOP, a VM stall), a node does not declare its peers dead for the silence it
    caused (Cassandra's local-pause rule); a peer that stays silent afterwards is still detected."""
    sim = _cluster(3)
    sim.run_until(lambda: sim.all_see(["n0", "n1", "n2"], LIVE), max_s=10.0)
    _dead_events(sim)
    n0 = sim.nodes["n0"]
    resumed_s = sim.now_s + 10.0
    n0.tick(resumed_s)
    assert n0.status_of("n1") is LIVE and n0.status_of("n2") is LIVE
    assert n0.stats["local_pauses"] == 1
    assert _dead_events(sim) == []
    for k in range(1, 40):  # n0 runs on, but nobody answers it any more
        n0.tick(resumed_s + k * sim.config.gossip_interval_s)
    assert n0.status_of("n1") is DEAD
