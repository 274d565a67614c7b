"""The election extension on in-memory nodes in virtual time: election, failover, watch, resign, lost majority,
explicit voters, several groups per node, the durable vote."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from zactor import Node, NodeConfig
from zactor.errors import ClusterMismatch
from zactor.services.cluster import ClusterNode
from zactor.services.election import Election, ElectionConfig, LeaderChange, NoLeader
from zactor.services.election.actor import ELECTION_ACTOR
from zactor.services.election.messages import GetLeaders, Heartbeat, HeartbeatAck, RequestVote, Resign, Vote
from zactor.services.membership.gossip import MembershipConfig
from zactor.services.membership.service import MembershipService
from zactor.testing import FakeClock, Seeds, wait_until
from zactor.transport import InMemoryNetwork

FAST = MembershipConfig.for_interval(0.05)
SEEDS = Seeds(12)
CONFIG = ElectionConfig(lease_s=1.0, heartbeat_s=0.2, rank_step_s=0.2, round_s=0.3)
CONFIG_0: dict[str, Any] = {"config_term": 0, "config_seq": 0, "voters": ["n0", "n1", "n2"]}


async def start(network: InMemoryNetwork, clock: FakeClock, i: int, seeds: tuple[str, ...]) -> ClusterNode:
    config = NodeConfig(node_id=f"n{i}", bind="mem://n:0", seeds=seeds, cluster_id="el")
    node = ClusterNode(
        config,
        transport=network.transport(),
        membership=MembershipService(FAST),
        time_source=clock,
        rng=SEEDS.rng(f"n{i}"),
    )
    await node.start()
    return node


@asynccontextmanager
async def group(
    clock: FakeClock, n: int = 3, state_dir: Path | None = None, network: InMemoryNetwork | None = None
) -> AsyncIterator[tuple[list[ClusterNode], list[Election]]]:
    network = network or InMemoryNetwork()
    nodes: list[ClusterNode] = []
    elections: list[Election] = []
    try:
        for i in range(n):
            nodes.append(await start(network, clock, i, (nodes[0].address,) if nodes else ()))
        for node in nodes:
            await node.membership.wait_for_members(n, timeout_s=5.0)
        for node in nodes:
            state = state_dir / node.node_id if state_dir is not None else None
            elections.append(await node.add_extension(Election("g", group_size=3, config=CONFIG, state_dir=state)))
        yield nodes, elections
    finally:
        for node in nodes:
            await node.stop()


async def test_one_leader_known_everywhere_and_a_new_one_with_a_higher_term_when_it_stops(clock: FakeClock) -> None:
    async with group(clock) as (nodes, elections):
        leader = await elections[0].wait_for_leader(timeout_s=10)
        await wait_until(lambda: all(e.leader == leader for e in elections), what="every node knows the leader")
        first = elections[0].term
        await wait_until(lambda: [e.is_leader for e in elections].count(True) == 1, what="the leader's lease")
        old = next(i for i, node in enumerate(nodes) if node.node_id == leader)
        backup = elections[old].backup
        await nodes[old].stop()
        others = [e for i, e in enumerate(elections) if i != old]
        await wait_until(lambda: all(e.leader not in (None, leader) for e in others), timeout_s=10, what="failover")
        assert {e.leader for e in others} == {backup} and all(e.term > first for e in others)
        assert others[0].primaries() == {backup} and others[0].secondaries() == set(others[0].voters) - {backup}


async def test_watch_reports_changes_and_resign_hands_over(clock: FakeClock) -> None:
    async with group(clock) as (nodes, elections):
        leader = await elections[0].wait_for_leader(timeout_s=10)
        leading = next(e for e, node in zip(elections, nodes, strict=True) if node.node_id == leader)
        watcher = next(e for e in elections if e is not leading)
        changes: list[LeaderChange] = []
        watch = watcher.watch()

        async def collect() -> None:
            async for change in watch:
                changes.append(change)
                if change.leader not in (None, leader):
                    return

        task = asyncio.create_task(collect())
        term = leading.term
        await leading.resign()
        assert not leading.is_leader
        await asyncio.wait_for(task, timeout=5)
        watch.close()
        assert changes[0].leader is None and changes[-1].leader not in (None, leader)
        assert changes[-1].term > term


async def test_a_minority_has_no_leader_and_says_why_while_the_majority_keeps_one(clock: FakeClock) -> None:
    """n0 cut off from the others: it has no leader (and wait_for_leader says the group lost its majority there),
    while n1 and n2 keep or elect one."""
    network = InMemoryNetwork()
    async with group(clock, network=network) as (nodes, elections):
        await elections[0].wait_for_leader(timeout_s=10)
        for other in nodes[1:]:
            network.cut(nodes[0].address, other.address)
        await wait_until(lambda: len(nodes[0].membership.members()) == 1, timeout_s=30, what="n0 alone")
        await wait_until(lambda: not elections[0].is_leader and elections[0].leader is None, timeout_s=10)
        with pytest.raises(NoLeader, match="lost its majority: 1 of 3 voters live, a leader needs 2"):
            await elections[0].wait_for_leader(timeout_s=5)
        await wait_until(lambda: elections[1].is_leader or elections[2].is_leader, timeout_s=10, what="majority leads")


async def test_the_term_and_vote_are_stored_before_they_leave(tmp_path: Path, clock: FakeClock) -> None:
    async with group(clock, state_dir=tmp_path) as (nodes, elections):
        await elections[0].wait_for_leader(timeout_s=10)
        for node, election in zip(nodes, elections, strict=True):
            stored = json.loads((tmp_path / node.node_id / "election-g.json").read_text())
            assert stored["term"] == election.term and stored["voted_for"] in {n.node_id for n in nodes}


async def test_a_vote_is_durable_file_and_directory_before_it_leaves_and_never_blocks_the_loop(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every granted vote and every vote request leaves only after the state naming it is fsynced, file and then
    directory (so a power loss after the rename cannot lose it), and no fsync runs on the event loop's thread."""
    events: list[tuple[str, str, Any]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        on_loop = threading.current_thread() is threading.main_thread()
        if path.is_dir():
            state = json.loads((path / "election-g.json").read_text())
            events.append(("durable", path.name, (state["term"], state["voted_for"], on_loop)))
        else:
            events.append(("file", path.parent.name, on_loop))

    real_tell = Election._tell

    async def tell(node: ClusterNode, address: str, msg: Any) -> None:
        events.append(("sent", node.node_id, msg))
        await real_tell(node, address, msg)

    monkeypatch.setattr("zactor.services.election.service.os.fsync", fsync)
    monkeypatch.setattr(Election, "_tell", staticmethod(tell))
    async with group(clock, state_dir=tmp_path) as (nodes, elections):
        await elections[0].wait_for_leader(timeout_s=10)
    durable: dict[str, tuple[int, str | None]] = {}
    checked = 0
    for kind, node_id, what in events:
        if kind == "file":
            assert not what, "an fsync ran on the event loop"
        elif kind == "durable":
            term, voted_for, on_loop = what
            assert not on_loop, "an fsync ran on the event loop"
            durable[node_id] = (term, voted_for)
        elif isinstance(what, Vote) and what.granted and not what.pre:
            assert durable.get(node_id, (0, None))[0] >= what.term, f"{node_id} sent {what} before storing it"
            checked += 1
        elif isinstance(what, RequestVote) and not what.pre:
            assert durable.get(node_id) == (what.term, node_id), f"{node_id} asked for votes before storing its own"
            checked += 1
    assert checked >= 2


async def test_explicit_voters_and_two_groups_on_one_node(clock: FakeClock) -> None:
    async with group(clock, n=3) as (nodes, elections):
        solo = await nodes[2].add_extension(Election("solo", voters=[nodes[2].node_id], config=CONFIG))
        assert await solo.wait_for_leader(timeout_s=5) == nodes[2].node_id
        assert solo.voters == (nodes[2].node_id,) and solo.term == 1
        with pytest.raises(ValueError, match="installed already"):
            await nodes[2].add_extension(Election("g", config=CONFIG))
        leaders = await nodes[0].ref(ELECTION_ACTOR, address=nodes[2].address).ask(GetLeaders())
        assert set(leaders.groups) == {"g", "solo"} and leaders.groups["solo"][:2] == (nodes[2].node_id, 1)
        await nodes[2].remove_extension("election:solo")
        assert elections[2].leader is not None or await elections[2].wait_for_leader(timeout_s=10)


async def test_malformed_election_messages_are_refused_and_change_nothing(clock: FakeClock) -> None:
    """Terms, sequence numbers or flags of the wrong type are refused at decode, before any handler runs, and a
    node that is no member of the cluster is refused: the term does not move, the leader stays."""
    network = InMemoryNetwork()
    async with group(clock, network=network) as (nodes, elections):
        leader = await elections[0].wait_for_leader(timeout_s=10)
        term = elections[0].term
        router = nodes[1].ref(ELECTION_ACTOR, address=nodes[0].address)
        for bad in (
            Heartbeat(group="g", term="99", seq=1, **CONFIG_0),  # type: ignore[arg-type]
            Heartbeat(group="g", term=99, seq=None, **CONFIG_0),  # type: ignore[arg-type]
            Heartbeat(group="g", term=99, seq=1, config_term=0, config_seq=0, voters=[1]),  # type: ignore[list-item]
            HeartbeatAck(group="g", term=term, seq=1, ok="yes"),  # type: ignore[arg-type]
            RequestVote(group="g", term=[99], **CONFIG_0),  # type: ignore[arg-type]
            Vote(group="g", term=99, granted="yes"),  # type: ignore[arg-type]
            Resign(group=None, term=term),  # type: ignore[arg-type]
        ):
            await router.tell(bad)
        mailbox = nodes[0].registry.get(ELECTION_ACTOR)
        assert mailbox is not None
        await wait_until(lambda: nodes[0].stats["decode_errors"] >= 7, what="the seven tells refused")
        stranger = Node(NodeConfig(node_id="n2", bind="mem://s:0"), transport=network.transport(), time_source=clock)
        async with stranger:  # a plain node claiming a member's id: its envelope names no cluster
            with pytest.raises(ClusterMismatch):
                await stranger.ref(ELECTION_ACTOR, address=nodes[0].address).ask(
                    Heartbeat(group="g", term=term + 5, seq=1, **CONFIG_0)
                )
        assert mailbox.stats.failures == 0
        assert elections[0].term == term and elections[0].leader == leader
