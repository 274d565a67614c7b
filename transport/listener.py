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
``heartbeat_timeouts``, a timeout its READY gives in ``X-Silence-Timeout-Ms``); a peer that greets with another
mechanism (CURVE) gets an ERROR and is closed, and any other protocol error closes the connection
(``zmtp_protocol_errors``); a closed connection is reported as gone.

Unlike the ROUTER's outbox, a reply that does not fit is dropped at once rather than waiting for room until its
deadline: the connection's write buffer is the queue.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from zactor.transport.endpoint import ipc_path
from zactor.transport.framing import (
    GREETING,
    SILENCE_PROPERTY,
    SILENT_INTERVALS,
    error_command,
    is_zmtp3,
    mechanism_of,
    message_parts,
    ready,
)
from zactor.transport.zmtp_protocol import ZmtpStream

__all__ = ["ZmtpListener"]

_MECHANISM_ERROR = error_command(b"security mismatch: this node speaks the NULL mechanism")


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
        timeout_ms = round(SILENT_INTERVALS * heartbeat_s * 1000)
        silence = ((SILENCE_PROPERTY, str(timeout_ms).encode()),) if heartbeat_s > 0 else ()
        self._hello = GREETING + ready(b"ROUTER", *silence)  # what each connection is greeted with
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
            self._server = await loop.create_unix_server(self._protocol, ipc_path(bind))
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
        if not self._fits(connection, nbytes):
            self.stats["reply_budget_drops"] += 1
            return False
        connection.transport.writelines(message_parts(frames)[0])
        return True

    def has_room(self, peer: bytes, nbytes: int) -> bool:
        """Whether a reply of ``nbytes`` to ``peer`` fits its budget now."""
        connection = self._peers.get(peer)
        return connection is None or self._fits(connection, nbytes)

    def _fits(self, connection: _Peer, nbytes: int) -> bool:
        """Whether ``nbytes`` more fit ``connection``'s budget: what its write buffer holds unsent, plus them."""
        pending = connection.transport.get_write_buffer_size()
        return not pending or pending + nbytes <= self._max_unread

    def _heartbeat(self) -> None:
        for connection in list(self._peers.values()):
            if not connection.beat(self._heartbeat_s):
                self.stats["heartbeat_timeouts"] += 1
        self._beat = asyncio.get_running_loop().call_later(self._heartbeat_s, self._heartbeat)

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


class _Peer(ZmtpStream):
    """One inbound connection (see the module docstring)."""

    def __init__(self, listener: ZmtpListener, peer_id: bytes) -> None:
        super().__init__(listener._hello, listener._max_frame)
        self.listener = listener
        self.peer_id = peer_id
        self._ready = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.listener._peers.pop(self.peer_id, None) is not None:
            self.listener.stats["peers_gone"] += 1
            self.listener._gone(self.peer_id)

    def greet(self, greeting: bytes) -> bool:
        if not is_zmtp3(greeting):
            self.malformed("zmtp_protocol_errors")
            return False
        if mechanism_of(greeting) != b"NULL":
            self.transport.write(_MECHANISM_ERROR)
            self._fail("zmtp_protocol_errors", graceful=True)
            return False
        return True

    def message(self, frames: list[Any]) -> None:  # before READY: messages are delivered from READY on
        self.malformed("zmtp_protocol_errors")

    def command(self, name: bytes, body: memoryview) -> None:
        if name == b"READY" and not self._ready:
            self._ready = True
            self.listener._peers[self.peer_id] = self
            self.deliver = functools.partial(self.listener._deliver, self.peer_id)
        elif name == b"ERROR":
            self._fail("zmtp_protocol_errors", graceful=True)

    def malformed(self, counter: str) -> None:
        self._fail(counter)

    def _fail(self, counter: str, graceful: bool = False) -> None:
        """Close the connection on a protocol error (counted); ``graceful`` lets what was written go first."""
        self.listener.stats[counter] += 1
        self.closed = True
        if graceful:
            self.transport.close()
        else:
            self.transport.abort()
