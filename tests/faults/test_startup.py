"""No false deaths at startup: a 5-process cluster and a node joining it see no DEAD event, and asks issued right
after ``wait_for_members`` are all answered."""

from __future__ import annotations

import asyncio

import pytest

from zactor import NodeConfig
from zactor.services.clock import CLOCK_ACTOR, GetTime, Time
from zactor.services.cluster import ClusterNode
from zactor.services.cluster.local_cluster import LocalCluster
from zactor.services.membership.gossip import EventKind

pytestmark = [pytest.mark.fault, pytest.mark.timeout(120)]


async def test_a_joining_node_sees_no_false_death_and_its_first_asks_succeed() -> None:
    """Join a fresh 5-node cluster, wait for the 6 members, ask every other node 6 times at once: 30 answers; then
    3 s of watching brings no DEAD event, here or in any node's table."""
    with LocalCluster(5) as cluster:
        config = NodeConfig(node_id="joiner", seeds=(cluster.seed,))
        async with ClusterNode(config) as node:
            watch = node.membership.watch()
            members = await node.membership.wait_for_members(6, timeout_s=10.0)
            others = [m.node_id for m in members if m.node_id != "joiner"]
            asks = [node.ref(CLOCK_ACTOR, node_id=n).ask(GetTime(), timeout_s=5.0) for n in others * 6]
            replies = await asyncio.gather(*asks, return_exceptions=True)
            assert [r for r in replies if not isinstance(r, Time)] == []
            deaths = []

            async def collect() -> None:
                async for event in watch:
                    if event.kind is EventKind.DEAD:
                        deaths.append(event.node_id)

            collector = asyncio.create_task(collect())
            await asyncio.sleep(3.0)
            collector.cancel()
            assert deaths == []
        for i in range(5):
            assert {row[3] for row in cluster.members(i).rows} <= {"live", "left"}
