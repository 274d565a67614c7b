"""A node's outbound connection to one endpoint without libzmq, for a node without credentials: ZMTP 3.x (NULL
mechanism) spoken by an asyncio protocol, in a DEALER's stead.

Why: as for :mod:`zactor.transport.listener`, libzmq's I/O thread costs an asyncio caller as much CPU per ask as its
whole Python path. The wire is unchanged: the peer's ROUTER, or its listener, sees a DEALER.

What it does in the DEALER's stead: it connects when first used and again 0.1 s after a connection is lost (libzmq's
reconnect interval); envelopes sent before the handshake completes wait, up to ``hwm`` of them; a send that finds the
connection's write buffer over its limit (or envelopes already waiting) waits in first-in-first-out order, up to its
deadline (``send_waits``, ``send_timeouts``), as a DEALER's send waits at its high-water mark; replies are handed on
as the DEALER's are; the ZMTP heartbeat runs both ways (a connection silent for three intervals is closed, then made
anew); a peer that greets with another mechanism (CURVE) is a :class:`~zactor.transport.errors.HandshakeFailed`,
reported once per connection attempt.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from zactor.transport.endpoint import ipc_path
from zactor.transport.errors import HandshakeFailed, SendTimeout, TransportClosed
from zactor.transport.framing import GREETING, error_reason, is_zmtp3, mechanism_of, message_parts, ready
from zactor.transport.zmtp_protocol import ZmtpStream

__all__ = ["ZmtpDialer"]

_HELLO = GREETING + ready(b"DEALER")
_RECONNECT_S = 0.1
_MISMATCH = "security mismatch (plaintext on one side, CURVE on the other)"
_CLOSED_AT_GREETING = "the peer closed the connection at the greeting (plaintext on one side, or another cluster key)"


class ZmtpDialer:
    """The outbound connection of one node to ``endpoint`` (see the module docstring).

    Args:
        endpoint: ``tcp://HOST:PORT`` or ``ipc://PATH``.
        deliver: called with ``(endpoint, frames)`` for each message that arrives.
        handshake_failed: called with ``(endpoint, error)`` when the peer refuses the handshake.
        stats: the transport's counters.
        hwm: envelopes that may wait for the connection (a send past it waits for room).
        max_message_bytes: the largest frame accepted, in bytes.
        heartbeat_s: the heartbeat interval, in seconds (0: none).
    """

    def __init__(
        self,
        endpoint: str,
        deliver: Callable[[str, list[Any]], None],
        handshake_failed: Callable[[str, HandshakeFailed], None],
        stats: collections.Counter[str],
        hwm: int,
        max_message_bytes: int,
        heartbeat_s: float,
    ) -> None:
        self.endpoint = endpoint
        self._deliver = deliver
        self._handshake_failed = handshake_failed
        self.stats = stats
        self._hwm = hwm
        self._max_frame = max_message_bytes
        self._heartbeat_s = heartbeat_s
        self._loop = asyncio.get_running_loop()
        self._made: _Connection | None = None  # the connection, from connection_made until it is lost
        self._ready: _Connection | None = None  # the connection, once its handshake completed
        self._waiting: list[list[Any]] = []  # envelopes (as write parts) sent before the handshake completed
        self._blocked: collections.deque[tuple[list[Any], asyncio.Future[None]]] = collections.deque()
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._connecting: asyncio.Task[None] | None = self._loop.create_task(self._connect())

    async def _connect(self) -> None:
        parts = urlsplit(self.endpoint)
        try:
            if parts.scheme == "ipc":
                await self._loop.create_unix_connection(lambda: _Connection(self), ipc_path(self.endpoint))
            else:  # checked by the transport: a host and a port
                host, port = str(parts.hostname), int(parts.port or 0)
                await self._loop.create_connection(lambda: _Connection(self), host, port)
        except OSError:
            self._retry()

    def _retry(self) -> None:
        if not self._closed:
            self._timer = self._loop.call_later(_RECONNECT_S, self._reconnect)

    def _reconnect(self) -> None:
        self._timer = None
        if not self._closed:
            self._connecting = self._loop.create_task(self._connect())

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Write (or, before the handshake, queue) one envelope if there is room now; False when there is not (then
        :meth:`send_when_room` sends it).

        Raises:
            TransportClosed: the transport closed.
        """
        if self._closed:
            raise TransportClosed("transport is closed")
        if self._blocked:
            return False
        ready = self._ready
        if ready is not None:
            if ready.paused:
                return False
            ready.transport.writelines(message_parts(frames)[0])
            return True
        if len(self._waiting) >= self._hwm:
            return False
        self._waiting.append(message_parts(frames)[0])
        return True

    async def send_when_room(self, frames: Sequence[Any], timeout_s: float) -> None:
        """Send one envelope that :meth:`try_send` had no room for, waiting for room (first in, first out) up to
        ``timeout_s`` seconds.

        Raises:
            SendTimeout: still no room at the deadline (the envelope is then never sent).
            TransportClosed: the transport closed.
        """
        self.stats["send_waits"] += 1
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._blocked.append((message_parts(frames)[0], waiter))
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except TimeoutError:
            self.stats["send_timeouts"] += 1
            raise SendTimeout(self.endpoint, timeout_s) from None

    def send_nowait(self, frames: Sequence[Any]) -> bool:
        """Send one envelope without waiting: behind the sends that wait it keeps its place, and nobody waits for it;
        False when there is no room now.

        Raises:
            TransportClosed: the transport closed.
        """
        if self._blocked:
            self._blocked.append((message_parts(frames)[0], self._loop.create_future()))
            return True
        return self.try_send(frames)

    def _flush(self) -> None:
        """Write what waits, in order, while the connection takes it (abandoned sends are dropped unsent)."""
        ready = self._ready
        if ready is None:
            return
        transport = ready.transport
        for parts in self._waiting:
            transport.writelines(parts)
        self._waiting.clear()
        blocked = self._blocked
        while blocked and not ready.paused:
            parts, waiter = blocked.popleft()
            if waiter.done():
                continue
            transport.writelines(parts)
            waiter.set_result(None)

    def _on_ready(self, connection: _Connection) -> None:
        self._ready = connection
        self._flush()
        if self._heartbeat_s > 0 and self._timer is None:
            self._timer = self._loop.call_later(self._heartbeat_s, self._heartbeat)

    def _on_made(self, connection: _Connection) -> None:
        self._made = connection

    def _on_lost(self, connection: _Connection) -> None:
        if self._made is connection:
            self._made = None
        if self._ready is connection:
            self._ready = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._retry()

    def _heartbeat(self) -> None:
        self._timer = None
        ready = self._ready
        if ready is None or self._closed:
            return
        if not ready.beat(self._heartbeat_s):
            self.stats["heartbeat_timeouts"] += 1
            return
        self._timer = self._loop.call_later(self._heartbeat_s, self._heartbeat)

    def close(self, flush: bool) -> None:
        """Close the connection, after writing what its buffer holds when ``flush`` and its handshake completed (else
        it is dropped); waiting sends fail with ``TransportClosed``.

        A connect call is cancelled only while no connection is made: cancelled later, uvloop's
        ``create_connection`` closes the socket without ``connection_lost``, which :meth:`linger` waits for.
        """
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        made = self._made
        if made is None:
            if self._connecting is not None:
                self._connecting.cancel()
        elif flush and made is self._ready:
            made.transport.close()
        else:
            made.transport.abort()
        while self._blocked:
            waiter = self._blocked.popleft()[1]
            if not waiter.done():
                waiter.set_exception(TransportClosed("transport is closed"))

    async def linger(self, linger_s: float) -> None:
        """After :meth:`close` with ``flush``: wait up to ``linger_s`` seconds for the connection to write what it
        holds and close, then drop the rest and close it (libzmq's ``ZMQ_LINGER``); a peer that never reads cannot
        keep the socket open. The wait for ``connection_lost`` after that is bounded by ``linger_s`` too: a
        connection made as its connect call was cancelled is closed by uvloop without one."""
        made = self._made
        if made is None:
            return
        done, _ = await asyncio.wait([made.lost], timeout=linger_s)
        if not done:
            made.transport.abort()
            await asyncio.wait([made.lost], timeout=linger_s)


class _Connection(ZmtpStream):
    """One connection attempt of a dialer: the handshake, then replies."""

    def __init__(self, dialer: ZmtpDialer) -> None:
        super().__init__(_HELLO, dialer._max_frame)
        self.dialer = dialer
        self.lost: asyncio.Future[None] = dialer._loop.create_future()  # done once the connection is lost
        self.paused = False
        self._ready = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.dialer._on_made(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.greeted and not self.closed:  # a node that refuses the mechanism closes without greeting
            self._fail(HandshakeFailed(self.dialer.endpoint, _CLOSED_AT_GREETING))
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        self.dialer._on_lost(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self._ready:
            self.dialer._flush()

    def greet(self, greeting: bytes) -> bool:
        if not is_zmtp3(greeting):
            self._fail(HandshakeFailed(self.dialer.endpoint, "the peer does not speak ZMTP 3"))
            return False
        if mechanism_of(greeting) != b"NULL":
            self._fail(HandshakeFailed(self.dialer.endpoint, _MISMATCH))
            return False
        return True

    def message(self, frames: list[Any]) -> None:
        if self._ready:
            self.dialer._deliver(self.dialer.endpoint, frames)

    def command(self, name: bytes, body: memoryview) -> None:
        if name == b"READY" and not self._ready:
            self._ready = True
            self.dialer._on_ready(self)
        elif name == b"ERROR":
            reason = f"the peer refused the connection ({error_reason(body)})"
            self._fail(HandshakeFailed(self.dialer.endpoint, reason))

    def malformed(self, counter: str) -> None:
        self.dialer.stats[counter] += 1
        self.closed = True
        self.transport.abort()

    def _fail(self, error: HandshakeFailed) -> None:
        self.closed = True
        self.dialer.stats["handshake_failures"] += 1
        self.transport.abort()
        if not self.dialer._closed:
            self.dialer._handshake_failed(self.dialer.endpoint, error)
