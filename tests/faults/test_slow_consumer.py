"""A slow consumer costs only itself: its neighbours are answered and what its unread replies hold is bounded."""

from __future__ import annotations

import asyncio

import pytest

from zactor import Node, NodeConfig
from zactor.services.cluster.process import rss_mib
from zactor.services.cluster.scenarios import PayloadSource, Want
from zactor.transport.fuzzing import unread_requests

pytestmark = pytest.mark.fault


@pytest.mark.parametrize("asyncio_zmtp", [True, False], ids=["listener", "router"])
async def test_neighbours_of_a_slow_consumer_are_answered(asyncio_zmtp: bool) -> None:
    """While a consumer that never reads fills its connection (to the ROUTER's high-water mark, or the listener's
    per-peer budget), every ask of a normal client is answered (the node does not go deaf after failed sends)."""
    config = NodeConfig(node_id="server", hwm=20, default_timeout_s=1.0, asyncio_zmtp=asyncio_zmtp)
    async with Node(config) as server, Node(NodeConfig(node_id="client")) as client:
        await server.add_actor("source", PayloadSource())
        slow = unread_requests(server.address, "source", Want(size=200_000), 400)
        try:
            ref = client.ref("source", address=server.address)
            for _ in range(3):
                await asyncio.sleep(0.3)
                for _ in range(50):
                    assert (await ref.ask(Want(size=16), timeout_s=2.0)).data == bytes(16)
            held_back = "send_waits" if not asyncio_zmtp else "reply_budget_drops"
            assert server.transport.stats[held_back] > 0, "the slow consumer's replies were held back"
        finally:
            slow.close()


async def test_unread_replies_of_one_peer_are_bounded_in_bytes() -> None:
    """1,000 unread 1 MiB replies hold at most the per-peer budget: the node's memory grows by far less than
    the 1,000 MiB asked for, and the replies past the budget are dropped and counted."""
    config = NodeConfig(node_id="server", default_timeout_s=0.5, max_unread_bytes_per_peer=32 * 1024 * 1024)
    async with Node(config) as server, Node(NodeConfig(node_id="client")) as client:
        await server.add_actor("source", PayloadSource())
        before = rss_mib()
        slow = unread_requests(server.address, "source", Want(size=1024 * 1024), 1000)
        try:
            ref = client.ref("source", address=server.address)
            for _ in range(40):
                assert (await ref.ask(Want(size=16), timeout_s=2.0)).data == bytes(16)
                await asyncio.sleep(0.05)
            grown = rss_mib() - before
            assert grown < 250, f"the node grew by {grown:.0f} MiB"
            assert server.transport.stats["reply_budget_drops"] > 0
        finally:
            slow.close()
