"""A store started on connected nodes counts every live member that hosts it at once (datacake's
``test_consistency_all`` and ``test_member_join``): a level is never met by fewer replicas than the live members
hosting the store, whatever gossip has shown so far and whatever ``replication_factor`` says."""

from __future__ import annotations

import pytest

from zactor import NodeConfig
from zactor.services.cluster import ClusterNode
from zactor.services.membership.gossip import MembershipConfig
from zactor.services.membership.service import MembershipService
from zactor.services.replication import MemoryStorage, ReplicatedStore
from zactor.services.selector import Consistency
from zactor.testing import FakeClock, Seeds
from zactor.transport import InMemoryNetwork

pytestmark = pytest.mark.fault

FAST = MembershipConfig.for_interval(0.05)
SEEDS = Seeds(19)


async def _connected(network: InMemoryNetwork, clock: FakeClock, n: int) -> list[ClusterNode]:
    nodes: list[ClusterNode] = []
    for i in range(n):
        seeds = (nodes[0].address,) if nodes else ()
        config = NodeConfig(node_id=f"n{i}", bind="mem://n:0", seeds=seeds, cluster_id="join")
        node = ClusterNode(
            config,
            transport=network.transport(),
            membership=MembershipService(FAST),
            time_source=clock,
            rng=SEEDS.rng(f"n{i}"),
        )
        nodes.append(await node.start())
    for node in nodes:
        await node.membership.wait_for_members(n, timeout_s=5.0)
    return nodes


@pytest.mark.parametrize("level", [Consistency.ALL, Consistency.QUORUM, Consistency.EACH_QUORUM])
async def test_a_write_right_after_the_stores_start_reaches_the_level_over_every_host(
    clock: FakeClock, level: Consistency
) -> None:
    """Three connected nodes add their stores, and at once node 0 writes: ALL is held by all three when it
    returns, a majority level by at least two (not by node 0 alone)."""
    network = InMemoryNetwork()
    nodes = await _connected(network, clock, 3)
    try:
        stores = [await node.add_extension(ReplicatedStore(MemoryStorage(), write_timeout_s=2.0)) for node in nodes]
        await stores[0].put("ks", "k", b"v", level)
        holders = [i for i, store in enumerate(stores) if await store.get("ks", "k") is not None]
        assert len(holders) == (3 if level is Consistency.ALL else 2) or len(holders) == 3, holders
        assert stores[0].replica_set is not None and set(stores[0].replica_set.members) == {"n0", "n1", "n2"}
    finally:
        for node in nodes:
            await node.stop()


async def test_a_live_member_without_a_store_is_not_counted(clock: FakeClock) -> None:
    """Of three connected nodes only two host the store: ALL is met by those two, and the third is not waited for."""
    network = InMemoryNetwork()
    nodes = await _connected(network, clock, 3)
    try:
        stores = [await node.add_extension(ReplicatedStore(MemoryStorage(), write_timeout_s=2.0)) for node in nodes[:2]]
        await stores[0].put("ks", "k", b"v", Consistency.ALL)
        assert await stores[1].get("ks", "k") is not None
        assert stores[0].replica_set is not None and set(stores[0].replica_set.members) == {"n0", "n1"}
    finally:
        for node in nodes:
            await node.stop()
