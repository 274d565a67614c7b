"""The asyncio ZMTP dialer in a DEALER's stead: what is sent before the peer listens arrives once it does, a peer that
restarts is reached again, and one that goes silent is dropped after three heartbeats and dialed anew."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from zactor.loops import run
from zactor.testing import wait_until
from zactor.transport import ZmqTransport
from zactor.transport.dialer import ZmtpDialer, _Connection
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


_READY = frame_header(28, 4) + b"\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER"


def _silent(accepted: list[Any]) -> Any:

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        writer.write(GREETING + _READY)
        while await reader.read(65536):  # reads, never answers
            pass
        writer.close()

    return handle


def _open_local_ports() -> set[int]:
    """The local TCP ports of this process's open sockets (from ``/proc``)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc")
def test_closing_lets_unsent_bytes_linger_then_releases_the_socket_of_a_peer_that_never_reads() -> None:
    """A peer that greets and then never reads: closing the transport waits up to its linger (0.1 s) for the 8 MiB
    still unsent, then closes the connection's socket rather than leaving it open with the bytes."""
    accepted: list[asyncio.StreamWriter] = []

    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)
            writer.write(GREETING + _READY)
            await asyncio.sleep(3600)  # never reads

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        address = f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        client = ZmqTransport(linger_s=0.1)
        await client.start("tcp://127.0.0.1:0", lambda *_: None, lambda *_: None)
        try:
            await client.send(address, [bytes(8 * 1024 * 1024)], 5.0)
            await wait_until(lambda: bool(accepted), timeout_s=3.0)
            client_port = accepted[0].get_extra_info("peername")[1]
            assert client_port in _open_local_ports()
            async with asyncio.timeout(2.0):
                await client.close()
            assert client_port not in _open_local_ports()
        finally:
            for writer in accepted:
                writer.transport.abort()
            server.close()

    run(main())


@pytest.mark.parametrize("handshake", [True, False], ids=["after-handshake", "before-handshake"])
def test_closing_before_the_connect_call_returns_still_releases_the_connection(
    monkeypatch: pytest.MonkeyPatch, handshake: bool
) -> None:
    """uvloop's connect call returns a loop turn after the connection is made. A close in that turn, before or after
    a handshake that completes in it, must leave the connect call alone: cancelling it closes the socket without
    telling the connection, whose linger then waited for that forever."""
    made: list[Any] = []
    connection_made = _Connection.connection_made

    def made_then_closed(self: _Connection, transport: asyncio.BaseTransport) -> None:
        connection_made(self, transport)
        if handshake:
            hello = GREETING + _READY  # the node's greeting and READY, as if they came at once
            buffer = self.get_buffer(-1)
            buffer[: len(hello)] = hello
            self.buffer_updated(len(hello))
        self.dialer.close(flush=True)  # before the connect call returns
        made.append(self)

    monkeypatch.setattr(_Connection, "connection_made", made_then_closed)

    async def main() -> None:
        accepted: list[asyncio.StreamWriter] = []
        server = await asyncio.start_server(lambda reader, writer: accepted.append(writer), "127.0.0.1", 0)
        address = f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            dialer = ZmtpDialer(address, lambda *_: None, lambda *_: None, collections.Counter(), 10, 1 << 20, 0)
            await wait_until(lambda: bool(made), timeout_s=3.0)
            assert made[0].greeted == handshake
            async with asyncio.timeout(2.0):
                await dialer.linger(0.1)
            assert made[0].lost.done()
        finally:
            for writer in accepted:
                writer.transport.abort()
            server.close()

    run(main())
