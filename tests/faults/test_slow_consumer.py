"""A slow consumer costs only itself: its neighbours are answered and what its unread replies hold is bounded."""

from __future__ import annotations

import asyncio
import resource

import pytest
import zmq

from zactor import Actor, Context, Node, NodeConfig, handler, message
from zactor.transport.codec import encode_body
from zactor.transport.envelope import Kind, pack_header

pytestmark = pytest.mark.fault


@message("test.slow.Want")
class Want:
    size: int


@message("test.slow.Blob")
class Blob:
    data: bytes


class Source(Actor):
    max_concurrency = 16

    @handler
    async def want(self, msg: Want, ctx: Context) -> Blob:
        return Blob(data=bytes(msg.size))


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _slow_consumer(address: str, num_asks: int, size: int) -> zmq.Socket:
    """A raw DEALER that sends ``num_asks`` asks for ``size``-byte replies and never reads."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.rcvhwm = 2
    sock.connect(address)
    type_name, body, _ = encode_body(Want(size=size))
    for request_id in range(1, num_asks + 1):
        sock.send_multipart([pack_header(Kind.REQUEST, request_id, "source", type_name), body])
    return sock


async def test_neighbours_of_a_slow_consumer_are_answered() -> None:
    """While a consumer that never reads fills its connection to the high-water mark, every ask of a normal
    client is answered (the node does not go deaf after failed sends)."""
    config = NodeConfig(node_id="server", hwm=20, default_timeout_s=1.0)
    async with Node(config, extensions=[]) as server, Node(NodeConfig(node_id="client"), extensions=[]) as client:
        await server.add_actor("source", Source())
        slow = _slow_consumer(server.address, 400, 200_000)
        try:
            ref = client.ref("source", address=server.address)
            for _ in range(3):
                await asyncio.sleep(0.3)
                for _ in range(50):
                    assert (await ref.ask(Want(size=16), timeout_s=2.0)).data == bytes(16)
            assert server.transport.stats["send_waits"] > 0, "the slow consumer reached the high-water mark"
        finally:
            slow.close()


async def test_unread_replies_of_one_peer_are_bounded_in_bytes() -> None:
    """1,000 unread 1 MiB replies hold at most the per-peer budget: the node's memory grows by far less than
    the 1,000 MiB asked for, and the replies past the budget are dropped and counted."""
    config = NodeConfig(node_id="server", default_timeout_s=0.5, max_unread_bytes_per_peer=32 * 1024 * 1024)
    async with Node(config, extensions=[]) as server, Node(NodeConfig(node_id="client"), extensions=[]) as client:
        await server.add_actor("source", Source())
        before = _rss_mib()
        slow = _slow_consumer(server.address, 1000, 1024 * 1024)
        try:
            ref = client.ref("source", address=server.address)
            for _ in range(40):
                assert (await ref.ask(Want(size=16), timeout_s=2.0)).data == bytes(16)
                await asyncio.sleep(0.05)
            grown = _rss_mib() - before
            assert grown < 250, f"the node grew by {grown:.0f} MiB"
            assert server.transport.stats["reply_budget_drops"] > 0
        finally:
            slow.close()
