"""A node's inbound side for unencrypted peers without libzmq: ZMTP 3.x (NULL mechanism) spoken by an asyncio protocol
on the event loop, in place of the ROUTER.

Why: libzmq hands every inbound message and every reply across its I/O thread; for a sequential request that hop
costs the node as much CPU as its whole Python path (``benchmarks/floor.py``: 70 us per request in all for an echo
on this listener, 128 for the same echo on a ROUTER). The wire is unchanged: peers' libzmq DEALERs and the blocking
client's plain connections (:mod:`zactor.transport.zmtp`) connect as they would to a ROUTER.

What it does in the ROUTER's stead: a 5-byte routing id per connection (libzmq's form); a message's frames delivered
as the ROUTER's are (the head as ``bytes``, the rest ``bytes`` or, from 64 KiB, a ``memoryview`` over a buffer of
its own); replies written to their peer's connection, dropped and counted when its unsent bytes would pass the
per-peer budget (``reply_budget_drops``) or the peer is gone (``dropped_unroutable``); frames over
``max_message_bytes`` close the connection (``oversized_frames``, libzmq's ``MAXMSGSIZE``); the ZMTP heartbeat both
ways (a PING to every peer each interval, PONG to theirs, a connection silent for three intervals closed:
``heartbeat_timeouts``); a peer that greets with another mechanism (CURVE) gets an ERROR and is closed, and any
other protocol error closes the connection (``zmtp_protocol_errors``); a closed connection is reported as gone.

Unlike the ROUTER's outbox, a reply that does not fit is dropped at once rather than waiting for room until its
deadline: the connection's write buffer is the queue.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from zactor.transport.zmtp import GREETING, frame_header

__all__ = ["ZmtpListener"]

_MORE, _LONG, _COMMAND = 1, 2, 4
_BIG_FRAME = 64 * 1024
_SCRATCH_BYTES = 256 * 1024  # what one read takes at most, outside a large frame
_READY = frame_header(28, _COMMAND) + b"\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER"
_PING = frame_header(7, _COMMAND) + b"\x04PING\x00\x00"
_REASON = b"security mismatch: this node speaks the NULL mechanism"
_MECHANISM_ERROR = frame_header(7 + len(_REASON), _COMMAND) + b"\x05ERROR" + bytes((len(_REASON),)) + _REASON


class ZmtpListener:
    """The listener of one node (see the module docstring).

    Args:
        deliver: called with ``(routing id, frames)`` for each message that arrives.
        gone: called with the routing id of each connection that closes.
        stats: the transport's counters.
        max_message_bytes: the largest frame accepted, in bytes.
        max_unread_bytes: a peer's unsent replies may hold this many bytes, in bytes.
        heartbeat_s: the heartbeat interval, in seconds (0: none).
    """

    def __init__(
        self,
        deliver: Callable[[bytes, list[Any]], None],
        gone: Callable[[bytes], None],
        stats: collections.Counter[str],
        max_message_bytes: int,
        max_unread_bytes: int,
        heartbeat_s: float,
    ) -> None:
        self._deliver = deliver
        self._gone = gone
        self.stats = stats
        self._max_frame = max_message_bytes
        self._max_unread = max_unread_bytes
        self._heartbeat_s = heartbeat_s
        self._peers: dict[bytes, _Peer] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.AbstractServer | None = None
        self._beat: asyncio.TimerHandle | None = None

    async def start(self, bind: str) -> str:
        """Listen on ``bind`` (``tcp://HOST:PORT``, port 0 for a free one, or ``ipc://PATH``); returns the endpoint.

        Raises:
            OSError: it cannot be bound.
            ValueError: another kind of endpoint.
        """
        loop = asyncio.get_running_loop()
        parts = urlsplit(bind)
        if parts.scheme == "tcp" and parts.hostname is not None and parts.port is not None:
            host = None if parts.hostname == "*" else parts.hostname
            self._server = await loop.create_server(self._protocol, host, parts.port)
            name = self._server.sockets[0].getsockname()
            address = f"tcp://[{name[0]}]:{name[1]}" if ":" in name[0] else f"tcp://{name[0]}:{name[1]}"
        elif parts.scheme == "ipc":
            path = parts.netloc + parts.path
            if path.startswith("@"):  # libzmq's name for Linux's abstract namespace
                path = "\0" + path[1:]
            self._server = await loop.create_unix_server(self._protocol, path)
            address = bind
        else:
            raise ValueError(f"{bind!r}: the ZMTP listener binds tcp://HOST:PORT or ipc://PATH")
        if self._heartbeat_s > 0:
            self._beat = loop.call_later(self._heartbeat_s, self._heartbeat)
        return address

    def _protocol(self) -> _Peer:
        return _Peer(self, b"\x00" + next(self._ids).to_bytes(4, "big"))

    def reply(self, peer: bytes, frames: Sequence[Any], nbytes: int) -> bool:
        """Write one envelope to ``peer``; False when it is gone or its unsent replies fill its budget (dropped,
        counted)."""
        connection = self._peers.get(peer)
        if connection is None:
            self.stats["dropped_unroutable"] += 1
            return False
        transport = connection.transport
        pending = transport.get_write_buffer_size()
        if pending and pending + nbytes > self._max_unread:
            self.stats["reply_budget_drops"] += 1
            return False
        parts: list[Any] = []
        last = len(frames) - 1
        for i, frame in enumerate(frames):
            size = len(frame) if type(frame) is bytes else memoryview(frame).nbytes
            parts.append(frame_header(size, _MORE if i < last else 0))
            parts.append(frame)
        transport.writelines(parts)
        return True

    def has_room(self, peer: bytes, nbytes: int) -> bool:
        """Whether a reply of ``nbytes`` to ``peer`` fits its budget now."""
        connection = self._peers.get(peer)
        if connection is None:
            return True
        pending = connection.transport.get_write_buffer_size()
        return not pending or pending + nbytes <= self._max_unread

    def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        silent_after = loop.time() - 3 * self._heartbeat_s
        for connection in list(self._peers.values()):
            if connection.last_read < silent_after:
                self.stats["heartbeat_timeouts"] += 1
                connection.transport.abort()
            else:
                connection.transport.write(_PING)
        self._beat = loop.call_later(self._heartbeat_s, self._heartbeat)

    def close(self) -> None:
        """Stop listening and close every connection (what they had not sent is dropped)."""
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in list(self._peers.values()):
            connection.transport.abort()


class _Peer(asyncio.BufferedProtocol):
    """One inbound connection: the handshake, then frames parsed as they come (see the module docstring). A buffered
    protocol: the event loop reads into a scratch buffer, or straight into a large frame's own buffer while one is
    being read (no copy in between)."""

    transport: asyncio.Transport

    def __init__(self, listener: ZmtpListener, peer_id: bytes) -> None:
        self.listener = listener
        self.peer_id = peer_id
        self.last_read = 0.0
        self._buf = bytearray()
        self._scratch = memoryview(bytearray(_SCRATCH_BYTES))
        self._frames: list[Any] = []
        self._big: tuple[bytearray, int, int] | None = None  # a large frame being read: (payload, bytes read, flags)
        self._greeted = False
        self._ready = False
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport
        self.last_read = asyncio.get_running_loop().time()
        self.transport.write(GREETING + _READY)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self.listener._peers.pop(self.peer_id, None) is not None:
            self.listener.stats["peers_gone"] += 1
            self.listener._gone(self.peer_id)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._big is not None:
            payload, have, _ = self._big
            return memoryview(payload)[have:]
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        self.last_read = asyncio.get_running_loop().time()
        if self._big is not None:
            payload, have, flags = self._big
            have += nbytes
            if have < len(payload):
                self._big = (payload, have, flags)
                return
            self._big = None
            self._frame(memoryview(payload), flags)
            if not self._buf:
                return
        else:
            self._buf += self._scratch[:nbytes]
        self._parse()

    def _parse(self) -> None:
        buf = self._buf
        if not self._greeted and not self._greet():
            return
        max_frame = self.listener._max_frame
        while not self._closed:
            n = len(buf)
            if n < 2:
                return
            flags = buf[0]
            if flags & _LONG:
                if n < 9:
                    return
                size, start = int.from_bytes(buf[1:9], "big"), 9
            else:
                size, start = buf[1], 2
            if flags & ~(_MORE | _LONG | _COMMAND) or size > max_frame:
                self._fail("oversized_frames" if size > max_frame else "zmtp_protocol_errors")
                return
            if n - start < size:
                if size >= _BIG_FRAME:  # read the rest straight into a buffer of its own
                    payload = bytearray(size)
                    payload[: n - start] = buf[start:]
                    buf.clear()
                    self._big = (payload, n - start, flags)
                return
            payload_bytes = bytes(buf[start : start + size])
            del buf[: start + size]
            self._frame(payload_bytes, flags)

    def _greet(self) -> bool:
        """Check the peer's greeting once 64 bytes came; False while waiting for them, or after refusing it."""
        buf = self._buf
        if len(buf) < 64:
            if buf and buf[0] != 0xFF:
                self._fail("zmtp_protocol_errors")
            return False
        if buf[0] != 0xFF or buf[9] != 0x7F or buf[10] < 3:
            self._fail("zmtp_protocol_errors")
            return False
        if bytes(buf[12:32]).rstrip(b"\0") != b"NULL":
            self.transport.write(_MECHANISM_ERROR)
            self._fail("zmtp_protocol_errors", graceful=True)
            return False
        del buf[:64]
        self._greeted = True
        return True

    def _frame(self, payload: Any, flags: int) -> None:
        if flags & _COMMAND:
            self._command(memoryview(payload))
            return
        if not self._ready:
            self._fail("zmtp_protocol_errors")
            return
        self._frames.append(payload)
        if not flags & _MORE:
            frames, self._frames = self._frames, []
            self.listener._deliver(self.peer_id, frames)

    def _command(self, payload: memoryview) -> None:
        if not payload.nbytes or payload[0] + 1 > payload.nbytes:
            self._fail("zmtp_protocol_errors")
            return
        name = bytes(payload[1 : 1 + payload[0]])
        body = payload[1 + payload[0] :]
        if name == b"READY" and not self._ready:
            self._ready = True
            self.listener._peers[self.peer_id] = self
        elif name == b"PING":  # a 2-byte TTL, then up to 16 bytes of context, echoed in the PONG
            context = bytes(body[2:18])
            self.transport.write(frame_header(5 + len(context), _COMMAND) + b"\x04PONG" + context)
        elif name == b"ERROR":
            self._fail("zmtp_protocol_errors", graceful=True)

    def _fail(self, counter: str, graceful: bool = False) -> None:
        """Close the connection on a protocol error (counted); ``graceful`` lets what was written go first."""
        self.listener.stats[counter] += 1
        self._closed = True
        if graceful:
            self.transport.close()
        else:
            self.transport.abort()
