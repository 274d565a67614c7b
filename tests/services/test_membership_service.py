"""Membership running on nodes over the in-memory transport, in virtual time: join through seeds, actor lookup, node
selection, leave, death, other clusters."""

from __future__ import annotations

import asyncio

import pytest
from memcluster import FAST, Hold, Holder, cluster

from zactor import NodeConfig
from zactor.errors import ActorTerminated, ClusterMismatch
from zactor.services.cluster import ClusterNode
from zactor.services.membership.gossip import EventKind
from zactor.services.membership.service import MembershipService
from zactor.services.selector import Consistency, NotEnoughNodes
from zactor.testing import FakeClock, wait_until
from zactor.transport import InMemoryNetwork


async def test_nodes_find_each_other_and_each_others_actors(clock: FakeClock) -> None:
    """Three nodes joined through a seed see each other, find actors by name, and address them by node id."""
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await nodes[2].add_actor("holder", Holder())
        for node in nodes:
            await node.membership.wait_for_members(3, timeout_s=5.0)
        await wait_until(lambda: nodes[0].membership.lookup("holder") == ["n2"], what="the actor to be gossiped")
        assert await nodes[0].ref("holder", node_id="n2").ask(Hold(seconds=0)) == Hold(seconds=0)
        assert await nodes[1].ref_any("holder").ask(Hold(seconds=0)) == Hold(seconds=0)
        members = nodes[1].membership.members()
        assert [(m.node_id, m.data_center) for m in members] == [("n0", "dc0"), ("n1", "dc1"), ("n2", "dc0")]
        assert (
            len(nodes[0].selector.select(Consistency.QUORUM)) == 1
            and len(nodes[0].selector.select(Consistency.ALL)) == 2
        )
        assert len(nodes[0].selector.select(Consistency.THREE)) == 2
        with pytest.raises(NotEnoughNodes):
            nodes[0].selector.select(Consistency.THREE, hosting="holder")


async def test_graceful_stop_is_seen_at_once(clock: FakeClock) -> None:
    """A node that stops leaves gracefully: the others drop it without waiting for failure detection."""
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        for node in nodes:
            await node.membership.wait_for_members(3, timeout_s=5.0)
        events = nodes[0].membership.watch()
        await nodes[2].stop()
        event = await asyncio.wait_for(anext(events), timeout=1.0)
        assert (event.kind, event.node_id) == (EventKind.LEFT, "n2")
        await wait_until(lambda: len(nodes[1].membership.members()) == 2, timeout_s=1.0, what="n1 to drop n2")


async def test_dead_node_fails_pending_asks_at_once(clock: FakeClock) -> None:
    """When a node is declared dead, asks waiting on it fail with ActorTerminated (reason node_dead) well before their
    timeout."""
    network = InMemoryNetwork()
    async with cluster(3, network, clock, stop_timeout_s=0.5) as nodes:
        await nodes[2].add_actor("holder", Holder())
        for node in nodes:
            await node.membership.wait_for_members(3, timeout_s=5.0)
        pending = asyncio.ensure_future(nodes[0].ref("holder", node_id="n2").ask(Hold(seconds=30), timeout_s=60))
        await asyncio.sleep(0.05)
        for other in nodes[:2]:
            network.cut(other.address, nodes[2].address)
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ActorTerminated) as caught:
            await asyncio.wait_for(pending, timeout=10)
        assert (caught.value.actor, caught.value.node, caught.value.reason) == ("holder", "n2", "node_dead")
        assert loop.time() - start < 5.0
        assert [m.node_id for m in nodes[0].membership.members()] == ["n0", "n1"]


async def test_a_node_seeded_into_another_cluster_refuses_to_start(clock: FakeClock) -> None:
    """A node whose seed is of another cluster fails to start with ClusterMismatch naming the seed and its own id
    (never the seed's); the cluster does not take it in."""
    network = InMemoryNetwork()
    async with cluster(2, network, clock, cluster_ids=lambda i: "main") as nodes:
        stranger = ClusterNode(
            NodeConfig(node_id="n9", bind="mem://n:0", seeds=(nodes[0].address,), cluster_id="other"),
            transport=network.transport(),
            membership=MembershipService(FAST),
            time_source=clock,
        )
        with pytest.raises(ClusterMismatch) as info:
            await stranger.start()
        assert nodes[0].address in str(info.value) and "'other'" in str(info.value) and "main" not in str(info.value)
        await asyncio.sleep(1.0)
        assert [m.node_id for m in nodes[0].membership.members()] == ["n0", "n1"]


async def test_a_seed_that_does_not_answer_is_survived(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    """A node whose only seed never answers keeps running, counts failed rounds, serves local asks, and warns once,
    naming the seed, after a few rounds."""
    cfg = NodeConfig(node_id="lonely", bind="mem://n:0", seeds=("mem://nobody:1",))
    node = ClusterNode(
        cfg, transport=InMemoryNetwork().transport(), membership=MembershipService(FAST), time_source=clock
    )
    async with node:
        await node.add_actor("holder", Holder())
        membership = node.membership
        await wait_until(lambda: membership.stats["gossip_failures"] >= 2, what="failed rounds with the seed")
        assert await node.ref("holder").ask(Hold(seconds=0)) == Hold(seconds=0)
        assert [m.node_id for m in node.membership.members()] == ["lonely"]
        warned = lambda: [r for r in caplog.records if "no seed has answered" in r.getMessage()]  # noqa: E731
        await wait_until(warned, what="the warning about the seeds")
        [record] = warned()
        assert record.levelname == "WARNING" and "mem://nobody:1" in record.getMessage()
