"""A dead replica never disappears from view while it still counts: after membership forgets a dead node, the member
table of ``members``/``top``/the page still shows it (status ``gone``) with how to remove it for good, and ALL keeps
refusing until an operator removes it."""

from __future__ import annotations

import attrs
import pytest

from zactor import NodeConfig
from zactor.directory import MEMBERSHIP_ACTOR, GetMembers
from zactor.services.cluster import ClusterNode
from zactor.services.cluster.observer import GONE, OBSERVER_ACTOR, GetNodeStats, replica_note, with_replica_set
from zactor.services.membership.gossip import MembershipConfig
from zactor.services.membership.service import MembershipService
from zactor.services.replication import MemoryStorage, ReplicatedStore
from zactor.services.selector import Consistency, NotEnoughNodes
from zactor.testing import FakeClock, Seeds, wait_until
from zactor.transport import InMemoryNetwork

pytestmark = pytest.mark.fault

GOSSIP = attrs.evolve(MembershipConfig.for_interval(0.05), dead_grace_s=2.0)
SEEDS = Seeds(7)


async def test_a_forgotten_dead_replica_stays_in_view_until_removed(clock: FakeClock) -> None:
    """node2 is cut off for good: once membership forgot it, node0's table still lists it as gone with the
    remove-node hint, and ALL is refused; after remove-node, ALL succeeds and the hint is gone."""
    network = InMemoryNetwork()
    nodes: list[ClusterNode] = []
    stores: list[ReplicatedStore] = []
    try:
        for i in range(3):
            seeds = (nodes[0].address,) if nodes else ()
            config = NodeConfig(node_id=f"node{i}", bind="mem://n:0", seeds=seeds, cluster_id="view")
            store = ReplicatedStore(MemoryStorage(), write_timeout_s=1.0)
            node = ClusterNode(
                config,
                transport=network.transport(),
                membership=MembershipService(GOSSIP),
                extensions=[store],
                time_source=clock,
                rng=SEEDS.rng(f"node{i}"),
            )
            nodes.append(await node.start())
            stores.append(store)
        for node in nodes:
            await node.membership.wait_for_members(3, timeout_s=5.0)
        await stores[0].put("ks", "k", b"v", Consistency.ALL)
        for other in nodes[:2]:
            network.cut(other.address, nodes[2].address)
        forgotten = lambda: "node2" not in {m.node_id for m in nodes[0].membership.members(include_down=True)}  # noqa: E731
        await wait_until(forgotten, timeout_s=30.0, what="membership to forget node2")
        with pytest.raises(NotEnoughNodes):
            await stores[0].put("ks", "k", b"w", Consistency.ALL)

        async def view() -> tuple[list[list[object]], str]:
            client = nodes[1]
            table = await client.ref(MEMBERSHIP_ACTOR, address=nodes[0].address).ask(GetMembers())
            stats = await client.ref(OBSERVER_ACTOR, address=nodes[0].address).ask(GetNodeStats())
            shown = with_replica_set(table, {stats.node_id: stats})
            return shown.rows, replica_note(shown, "SEED")

        rows, note = await view()
        assert next(row for row in rows if row[0] == "node2")[3] == GONE
        assert "node2 (gone)" in note and "zactor kv remove-node NODE_ID --seed SEED" in note
        assert await stores[0].remove_replica("node2")
        await stores[0].put("ks", "k", b"w", Consistency.ALL)
        rows, note = await view()
        assert "node2" not in {r[0] for r in rows} and note == ""
    finally:
        for node in nodes:
            await node.stop()
