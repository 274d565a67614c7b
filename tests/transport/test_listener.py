"""The asyncio ZMTP listener in place of the ROUTER: a hostile or silent peer is closed and counted while the node
serves the others, a peer that does not read loses replies past its budget (counted), and a closed connection is
reported as gone."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from typing import Any

import pytest

from zactor.loops import run
from zactor.testing import wait_until
from zactor.transport import ZmqTransport
from zactor.transport.framing import GREETING, frame_header
from zactor.transport.zmtp import ZmtpSocket

READY = frame_header(28, 4) + b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"
CURVE = GREETING[:12] + b"CURVE".ljust(20, b"\0") + GREETING[32:]


class _Node:
    """A started transport with the listener that echoes every request and records the peers reported gone."""

    def __init__(self, **options: Any) -> None:
        self.transport = ZmqTransport(asyncio_zmtp=True, **options)
        self.gone: list[bytes] = []
        self.transport.on_peer_gone = self.gone.append

    async def start(self) -> str:
        return await self.transport.start("tcp://127.0.0.1:0", self._on_request, lambda *_: None)

    def _on_request(self, peer: bytes, frames: list[Any]) -> None:
        self.transport.reply(peer, [bytes(f) for f in frames], 5.0)


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _raw(address: str, data: bytes) -> bytes:
    """Write ``data`` on a new connection, then read until the node closes it (at most 2 s)."""
    with socket.create_connection(("127.0.0.1", _port(address)), timeout=2.0) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def _round_trip(address: str) -> bytes:
    zmtp = ZmtpSocket(address, 2.0)
    try:
        zmtp.send([b"still serving"])
        frames = zmtp.receive(2.0)
        assert frames is not None
        return bytes(frames[0])
    finally:
        zmtp.close()


@pytest.mark.parametrize(
    ("data", "counter"),
    [
        (b"GET / HTTP/1.1\r\n\r\n" * 4, "zmtp_protocol_errors"),
        (GREETING + READY + frame_header(2000, 0) + bytes(2000), "oversized_frames"),
        (GREETING + frame_header(5, 0) + b"early", "zmtp_protocol_errors"),
        (GREETING + READY + bytes((0x40, 3)) + b"bad", "zmtp_protocol_errors"),
        (GREETING + READY + frame_header(3, 4) + b"\x09ab", "zmtp_protocol_errors"),
    ],
    ids=["not-zmtp", "oversized", "message-before-ready", "reserved-flag", "bad-command"],
)
def test_a_malformed_connection_is_closed_and_the_node_serves_on(data: bytes, counter: str) -> None:
    async def main() -> None:
        node = _Node(max_message_bytes=1024)
        address = await node.start()
        try:
            await asyncio.to_thread(_raw, address, data)
            assert node.transport.stats[counter] == 1
            assert await asyncio.to_thread(_round_trip, address) == b"still serving"
        finally:
            await node.transport.close()

    run(main())


def test_a_curve_peer_is_told_why_before_the_close() -> None:
    async def main() -> None:
        node = _Node()
        address = await node.start()
        try:
            received = await asyncio.to_thread(_raw, address, CURVE)
            assert received.startswith(GREETING) and b"ERROR" in received and b"NULL mechanism" in received
        finally:
            await node.transport.close()

    run(main())


def test_a_silent_peer_is_closed_after_three_heartbeats_and_reported_gone() -> None:
    """A peer that completes the handshake, then neither sends nor answers PINGs."""

    async def main() -> None:
        node = _Node(heartbeat_s=0.1)
        address = await node.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(address))
            writer.write(GREETING + READY)
            await wait_until(lambda: node.transport.stats["heartbeat_timeouts"] == 1, timeout_s=3.0)
            await wait_until(lambda: len(node.gone) == 1, timeout_s=1.0)
            received = await reader.read()  # what came before the close: greeting, READY, PINGs
            assert b"PING" in received
            writer.close()
        finally:
            await node.transport.close()

    run(main())


def test_replies_past_the_budget_of_a_peer_that_does_not_read_are_dropped_and_counted() -> None:
    """256 KiB replies to a peer that reads nothing: the first that would pass its 1 MiB of unsent bytes and the rest
    are dropped, counted, and ``reply`` says so; what was kept arrives whole and in order once it reads."""

    async def main() -> None:
        node = _Node(max_unread_bytes_per_peer=1 << 20)
        peers: list[bytes] = []
        node._on_request = lambda peer, frames: peers.append(peer)  # type: ignore[method-assign]
        address = await node.start()
        zmtp = await asyncio.to_thread(ZmtpSocket, address, 2.0)
        try:
            zmtp.send([b"go"])
            await wait_until(lambda: peers, timeout_s=2.0)
            results = [node.transport.reply(peers[0], [bytes([i]) * (256 * 1024)], 5.0) for i in range(40)]
            assert results[:4] == [True] * 4 and not all(results)
            assert node.transport.stats["reply_budget_drops"] == results.count(False)
            kept = [i for i, ok in enumerate(results) if ok]
            for i in kept:
                frames = await asyncio.to_thread(zmtp.receive, 2.0)
                assert frames is not None and bytes(frames[0]) == bytes([i]) * (256 * 1024)
        finally:
            zmtp.close()
            await node.transport.close()

    run(main())


def test_a_fuzzed_zmtp_stream_never_breaks_the_node(caplog: pytest.LogCaptureFixture) -> None:
    """400 seeded hostile streams (random bytes; a valid handshake then random bytes, or well-framed frames of random
    kinds and contents; a valid stream with bytes flipped), each on a connection of its own: no callback fails,
    nothing is logged as an error, and the node still answers."""
    rng = random.Random(2412)
    valid = GREETING + READY + frame_header(5, 1) + b"hello" + frame_header(5, 0) + b"world"

    def frames() -> bytes:  # well framed, of random kinds (message, last or not; command) and contents
        sizes = [rng.randrange(0, 12) for _ in range(rng.randrange(1, 8))]
        return b"".join(frame_header(n, rng.choice((0, 1, 4, 5))) + rng.randbytes(n) for n in sizes)

    def stream(i: int) -> bytes:
        if i % 4 == 0:
            return rng.randbytes(rng.randrange(1, 400))
        if i % 4 == 1:
            return GREETING + READY + rng.randbytes(rng.randrange(1, 400))
        if i % 4 == 2:
            return GREETING + READY + frames()
        flipped = bytearray(valid)
        for _ in range(rng.randrange(1, 4)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        return bytes(flipped)

    def attack(address: str) -> None:
        for i in range(400):
            with socket.create_connection(("127.0.0.1", _port(address)), timeout=2.0) as sock:
                sock.sendall(stream(i))

    async def main() -> None:
        node = _Node(max_message_bytes=1 << 20)
        address = await node.start()
        try:
            await asyncio.to_thread(attack, address)
            assert await asyncio.to_thread(_round_trip, address) == b"still serving"
            assert node.transport.stats["callback_errors"] == 0
        finally:
            await node.transport.close()

    with caplog.at_level(logging.ERROR):
        run(main())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
