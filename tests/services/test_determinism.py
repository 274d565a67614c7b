"""Service shells in virtual time are deterministic: one seed, one history, even with message loss and a partition."""

from __future__ import annotations

from typing import Any

from zactor import NodeConfig
from zactor.services.cluster import ClusterNode
from zactor.services.membership.gossip import MembershipConfig
from zactor.services.membership.service import MembershipService
from zactor.services.replication import MemoryStorage, ReplicatedStore
from zactor.services.selector import Consistency
from zactor.testing import FakeClock, Seeds, wait_until
from zactor.transport import InMemoryNetwork


async def _scenario(clock: FakeClock, seeds: Seeds) -> list[Any]:
    """Three store nodes on a lossy network: writes at NONE, a partition of n2, healing, convergence."""
    network = InMemoryNetwork(seed=seeds.seed_for("network"))
    network.loss_rate = 0.05
    nodes: list[ClusterNode] = []
    stores: list[ReplicatedStore] = []
    try:
        for i in range(3):
            config = NodeConfig(
                node_id=f"n{i}", bind="mem://n:0", seeds=(nodes[0].address,) if nodes else (), cluster_id="det"
            )
            store = ReplicatedStore(MemoryStorage(), anti_entropy_interval_s=0.2, write_timeout_s=0.5)
            node = ClusterNode(
                config,
                transport=network.transport(),
                membership=MembershipService(MembershipConfig.for_interval(0.05)),
                extensions=[store],
                time_source=clock,
                rng=seeds.rng(config.node_id),
            )
            nodes.append(await node.start())
            stores.append(store)
        for node in nodes:
            await node.membership.wait_for_members(3, timeout_s=10.0)
        for other in nodes[:2]:
            network.cut(other.address, nodes[2].address)
        await stores[2].put_many("ks", [(f"k{i}", bytes([i])) for i in range(30)], Consistency.NONE)
        await wait_until(lambda: len(nodes[0].membership.members()) == 2, timeout_s=30.0, what="n2 dead to n0")
        network.heal()

        async def converged() -> bool:
            return all([len(await s.get_many("ks", [f"k{i}" for i in range(30)])) == 30 for s in stores])

        await wait_until(converged, timeout_s=30.0, what="convergence")
        return [
            clock.monotonic_s(),
            [(m.node_id, m.status.value, m.heartbeat) for m in nodes[0].membership.members(include_down=True)],
            [dict(node.membership.core.stats) for node in nodes],
            [dict(store.anti_entropy.stats) for store in stores if store.anti_entropy is not None],
            [node.clock.now().to_wire() for node in nodes],
        ]
    finally:
        for node in nodes:
            await node.stop()


def test_the_same_seed_gives_the_same_history() -> None:
    """Run twice with one seed: the same virtual end time, member table, gossip and anti-entropy counters, and HLC."""
    histories = [clock.run(_scenario(clock, Seeds(5))) for clock in (FakeClock(), FakeClock())]
    assert histories[0] == histories[1]
    end_s = histories[0][0]
    assert end_s > 1.0, "the scenario spans gossip rounds and a failure detection"
