"""Sends that meet the high-water mark wait in one first-in-first-out queue per connection, served when the socket
becomes writable: they leave in the order they were made, and one past its deadline is never sent."""

from __future__ import annotations

import asyncio

import pytest
import zmq

from zactor.errors import SendTimeout
from zactor.transport import ZmqTransport
from zactor.transport.envelope import Kind, pack, unpack

pytestmark = pytest.mark.fault


async def _ignore(*_: object) -> None:
    return None


def _router() -> tuple[zmq.Socket[bytes], str]:
    """A peer that reads only when told to, with a receive high-water mark of 1."""
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.linger = 0
    sock.rcvhwm = 1
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    return sock, f"tcp://127.0.0.1:{port}"


def _read(sock: zmq.Socket[bytes], count: int) -> list[int]:
    """The request ids of the next ``count`` envelopes."""
    ids = []
    for _ in range(count):
        assert sock.poll(5000), "an envelope did not arrive"
        ids.append(unpack(sock.recv_multipart()[1:]).request_id)
    return ids


async def test_blocked_sends_leave_in_the_order_they_were_made() -> None:
    """60 concurrent senders to a peer that does not read: once it reads, their envelopes arrive in order."""
    transport = ZmqTransport(hwm=1)
    await transport.start("tcp://127.0.0.1:0", lambda *_: None, lambda *_: None)
    sock, endpoint = _router()
    try:
        blob = b"x" * 100_000  # a few fill the kernel buffers too
        sends = [
            asyncio.create_task(transport.send(endpoint, pack(Kind.TELL, i, "t", None) + [blob], 10.0))
            for i in range(1, 61)
        ]
        for _ in range(20):  # every sender has tried once by now; most wait
            await asyncio.sleep(0.01)
        assert transport.stats["send_waits"] > 0
        arrived = await asyncio.to_thread(_read, sock, 60)
        await asyncio.gather(*sends)
        assert arrived == list(range(1, 61))
    finally:
        sock.close()
        await transport.close()


async def test_a_blocked_send_past_its_deadline_is_never_sent() -> None:
    """A send that waits past its deadline raises SendTimeout and does not leave later; the next one does."""
    transport = ZmqTransport(hwm=1)
    await transport.start("tcp://127.0.0.1:0", lambda *_: None, lambda *_: None)
    sock, endpoint = _router()
    try:
        blob = b"x" * 4_000_000  # more than the kernel's socket buffers hold
        first = [
            asyncio.create_task(transport.send(endpoint, pack(Kind.TELL, i, "t", None) + [blob], 10.0))
            for i in range(1, 9)
        ]
        await asyncio.sleep(0.2)
        with pytest.raises(SendTimeout):
            await transport.send(endpoint, pack(Kind.TELL, 99, "t", None), 0.2)
        late = asyncio.create_task(transport.send(endpoint, pack(Kind.TELL, 9, "t", None), 10.0))
        arrived = await asyncio.to_thread(_read, sock, 9)
        await asyncio.gather(*first, late)
        assert arrived == list(range(1, 10)) and transport.stats["send_timeouts"] == 1
    finally:
        sock.close()
        await transport.close()
