"""The per-peer reply outbox: replies that find no room wait in order, are all delivered once the peer reads, and
leave nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import zmq

from zactor.testing import wait_until
from zactor.transport import ZmqTransport


@contextlib.asynccontextmanager
async def _peer(transport: ZmqTransport, rcvhwm: int) -> AsyncIterator[tuple[zmq.Socket[bytes], bytes]]:
    """A DEALER connected to ``transport``, which has heard from it: ``(socket, its peer id)``."""
    peers: list[bytes] = []
    address = await transport.start("tcp://127.0.0.1:0", lambda peer, frames: peers.append(peer), lambda e, f: None)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.rcvhwm = rcvhwm
    sock.connect(address)
    try:
        sock.send_multipart([b"hello", b""])
        await wait_until(lambda: peers, what="the peer's first envelope")
        yield sock, peers[0]
    finally:
        sock.close()
        await transport.close()


async def test_queued_replies_drain_in_order_and_leave_no_state() -> None:
    """A peer pauses reading while 3,000 replies of 20 KiB go out (its connection holds far fewer): every reply
    arrives, in order, once it reads; the outbox then holds no peer and no bytes."""
    transport = ZmqTransport(hwm=10, asyncio_zmtp=False)  # the ROUTER's outbox
    async with _peer(transport, 10) as (sock, peer):
        peers = [peer]
        body = bytes(20 * 1024)
        accepted = [transport.reply(peers[0], [i.to_bytes(4, "big"), body], 30.0) for i in range(3000)]
        assert all(accepted)
        outbox: Any = transport._outbox
        out = outbox._peers[peers[0]]
        assert out.waiting and out.waiting_bytes > 3 * 20 * 1024, "the connection filled up: replies wait"
        received = []
        while len(received) < 3000:
            if await asyncio.to_thread(sock.poll, 5000):
                received.append(int.from_bytes(sock.recv_multipart()[0], "big"))
            else:
                break
        assert received == list(range(3000))
        assert not out.waiting and out.waiting_bytes == 0
        await wait_until(lambda: not outbox._peers, what="the outbox to forget the idle peer")
        assert transport.stats["send_timeouts"] == 0 and transport.stats["reply_budget_drops"] == 0


async def test_reply_room_says_whether_a_reply_fits_the_peers_budget() -> None:
    """A peer that does not read: replies fill its 1 MiB budget until ``reply_room`` says no (and a reply then is
    dropped); once it reads, there is room again. A peer never heard of has room."""
    transport = ZmqTransport(hwm=4, max_unread_bytes_per_peer=1 << 20)
    async with _peer(transport, 4) as (sock, peer):
        peers = [peer]
        assert transport.reply_room(b"unknown", 10 << 20)
        body = bytes(64 * 1024)
        sent = 0
        while transport.reply_room(peers[0], len(body) + 4) and sent < 1000:
            assert transport.reply(peers[0], [sent.to_bytes(4, "big"), body], 30.0)
            sent += 1
        assert 4 < sent < 1000
        assert not transport.reply(peers[0], [b"last", body], 30.0)
        assert transport.stats["reply_budget_drops"] == 1
        for _ in range(sent):
            assert await asyncio.to_thread(sock.poll, 5000)
            sock.recv_multipart()
        await wait_until(lambda: transport.reply_room(peers[0], len(body) + 4), what="room once the peer read")
