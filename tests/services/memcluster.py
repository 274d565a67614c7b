"""Cluster nodes over the in-memory transport, in virtual time, for the service tests; and an actor that holds asks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from zactor import Actor, Context, NodeConfig, handler, message
from zactor.services.cluster import ClusterNode
from zactor.services.membership.gossip import MembershipConfig
from zactor.services.membership.service import MembershipService
from zactor.services.virtual import VirtualActors
from zactor.testing import FakeClock, Seeds, wait_until
from zactor.transport import InMemoryNetwork

FAST = MembershipConfig.for_interval(0.05)


@message("test.member.Hold")
class Hold:
    seconds: float


class Holder(Actor):
    max_concurrency = 4

    @handler
    async def hold(self, msg: Hold, ctx: Context) -> Hold:
        await asyncio.sleep(msg.seconds)
        return msg


@asynccontextmanager
async def cluster(
    n: int,
    network: InMemoryNetwork,
    clock: FakeClock,
    cluster_ids: Callable[[int], str] = lambda i: "c",
    virtual: type[VirtualActors] = VirtualActors,
    **config: Any,
) -> AsyncIterator[list[ClusterNode]]:
    run_seeds = Seeds(1)
    nodes: list[ClusterNode] = []
    try:
        for i in range(n):
            seeds = (nodes[0].address,) if nodes else ()
            cfg = NodeConfig(
                node_id=f"n{i}",
                bind="mem://n:0",
                seeds=seeds,
                cluster_id=cluster_ids(i),
                data_center=f"dc{i % 2}",
                **config,
            )
            membership = MembershipService(FAST)
            node = ClusterNode(
                cfg,
                transport=network.transport(),
                membership=membership,
                virtual_actors=virtual(membership),
                time_source=clock,
                rng=run_seeds.rng(cfg.node_id),
            )
            nodes.append(await node.start())
        yield nodes
    finally:
        for node in nodes:
            await node.stop()


async def hosting(
    nodes: list[ClusterNode], kind: str, factory: Callable[[], Actor], shards: int, idle_s: float
) -> None:
    """Every node of ``nodes`` hosts ``kind``, once all of them are members, and every node has heard so."""
    for node in nodes:
        await node.membership.wait_for_members(len(nodes), timeout_s=5.0)
    for node in nodes:
        await node.register_kind(kind, factory, shards=shards, idle_s=idle_s)
    await wait_until(
        lambda: all(len(n.membership.hosts_with_meta(f"virtual.{kind}")) == len(nodes) for n in nodes),
        timeout_s=5.0,
        what="the kind to be gossiped",
    )
