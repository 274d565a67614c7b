"""The asyncio ZMTP dialer in a DEALER's stead: what is sent before the peer listens arrives once it does, a peer that
restarts is reached again, and one that goes silent is dropped after three heartbeats and dialed anew."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from zactor.loops import run
from zactor.testing import wait_until
from zactor.transport import ZmqTransport
from zactor.transport.framing import GREETING, frame_header


class _Server:
    """A transport that records what arrives and answers each envelope with its own frames."""

    def __init__(self) -> None:
        self.transport = ZmqTransport()
        self.seen: list[bytes] = []

    async def start(self, bind: str) -> str:
        return await self.transport.start(bind, self._on_request, lambda *_: None)

    def _on_request(self, peer: bytes, frames: list[Any]) -> None:
        self.seen.append(bytes(frames[0]))
        self.transport.reply(peer, [bytes(f) for f in frames], 5.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sends_before_the_peer_listens_arrive_once_it_does_and_a_restarted_peer_is_reached_again() -> None:
    async def main() -> None:
        address = f"tcp://127.0.0.1:{_free_port()}"
        replies: list[bytes] = []
        client = ZmqTransport(heartbeat_s=0.2)
        await client.start("tcp://127.0.0.1:0", lambda *_: None, lambda _e, frames: replies.append(bytes(frames[0])))
        try:
            assert client.send_nowait(address, [b"early"])  # nobody listens yet: it waits for the connection
            await asyncio.sleep(0.3)
            server = _Server()
            await server.start(address)
            await wait_until(lambda: replies == [b"early"], timeout_s=3.0)
            await server.transport.close()
            await asyncio.sleep(0.3)
            again = _Server()
            await again.start(address)
            await client.send(address, [b"after the restart"], 5.0)
            await wait_until(lambda: replies[-1:] == [b"after the restart"], timeout_s=3.0)
            assert again.seen == [b"after the restart"]
            await again.transport.close()
        finally:
            await client.close()

    run(main())


def test_a_peer_that_goes_silent_is_dropped_after_three_heartbeats_and_dialed_anew() -> None:
    """A peer that completes the handshake and then neither answers PINGs nor sends anything."""
    accepted: list[Any] = []

    async def main() -> None:
        server = await asyncio.start_server(_silent(accepted), "127.0.0.1", 0)
        address = f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        client = ZmqTransport(heartbeat_s=0.1)
        await client.start("tcp://127.0.0.1:0", lambda *_: None, lambda *_: None)
        try:
            assert client.send_nowait(address, [b"hello"])
            await wait_until(lambda: client.stats["heartbeat_timeouts"] >= 1, timeout_s=3.0)
            await wait_until(lambda: len(accepted) >= 2, timeout_s=3.0, what="a second connection")
        finally:
            await client.close()
            server.close()

    run(main())


def _silent(accepted: list[Any]) -> Any:
    ready = frame_header(28, 4) + b"\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        writer.write(GREETING + ready)
        while await reader.read(65536):  # reads, never answers
            pass
        writer.close()

    return handle
