"""The ZeroMQ transport: one bound ROUTER for what comes in, one DEALER per remote endpoint for what goes out.

Without CURVE, the transport speaks ZMTP from the event loop instead (the default): what comes in on the asyncio
listener (:mod:`zactor.transport.listener`), what goes out through asyncio connections
(:mod:`zactor.transport.dialer`); the same wire without libzmq's I/O thread on the path. What follows describes the
libzmq sockets.

The sockets are drained and written by pumps (:mod:`zactor.transport.pump`): no task and no future per message.

An inbound peer's connection is known by its file descriptor (``SRCFD`` of the first envelope it sends, one dict
lookup per envelope afterwards); the ROUTER's socket monitor reports a closed connection by that descriptor, and
``on_peer_gone`` names the peer, so the node can cancel what it runs for a client that is gone.

A peer that stops reading is disconnected by the ZMTP heartbeat after three intervals (its pings go unanswered once
its receive queue is full); its queued replies are then dropped and counted as ``dropped_unroutable``.

Socket options (see the pyzmq pitfalls these avoid): ``ROUTER_MANDATORY`` so an unroutable reply raises instead of
vanishing; bounded ``LINGER`` so closing never hangs; ``MAXMSGSIZE`` so a peer cannot make the node allocate an
unbounded frame; ZMTP heartbeats so a half-open TCP connection is noticed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import zmq

from zactor.transport.base import DEFAULT_MAX_MESSAGE_BYTES, ReplyHandler, RequestHandler, Transport
from zactor.transport.codec import DEFAULT_COPY_THRESHOLD_BYTES
from zactor.transport.curve import MONITOR_EVENTS, SocketSecurity, handshake_failure, next_event, refusal_reason
from zactor.transport.dialer import ZmtpDialer
from zactor.transport.endpoint import check_endpoint
from zactor.transport.errors import SendTimeout, TransportClosed
from zactor.transport.listener import ZmtpListener
from zactor.transport.outbox import Outbox
from zactor.transport.pump import Pump, recv_envelope, recv_rest, send_envelope
from zactor.transport.ratelog import RateLimitedLogger
from zactor.transport.security import Credentials
from zactor.transport.zerocopy import prepare_zero_copy

__all__ = ["ZmqTransport"]

log = logging.getLogger("zactor.transport")

_NOBLOCK = int(zmq.NOBLOCK)  # a plain int: pyzmq's constants are enums, slower to combine
_ROUTER = ""  # the ROUTER's key among the monitors (DEALERs are keyed by endpoint)
_RELOAD_S = 1.0  # how often a secure node re-reads its authorized keys, in seconds
_PEER_GONE = int(zmq.EVENT_DISCONNECTED)


class ZmqTransport(Transport):
    """ROUTER/DEALER transport over real ZeroMQ sockets (tcp:// or ipc://).

    Args:
        max_message_bytes: the largest envelope sent or accepted, in bytes (inbound: per frame, via ``MAXMSGSIZE``;
            a peer that exceeds it is disconnected by ZeroMQ).
        linger_s: how long closing a socket may wait to flush what it has queued, in seconds.
        hwm: the send and receive high-water marks, in messages, per connection.
        heartbeat_s: the ZMTP heartbeat interval, in seconds; a peer silent for 3 intervals is disconnected.
        max_unread_bytes_per_peer: what replies one inbound peer has not read yet may hold, in bytes (see
            :mod:`zactor.transport.outbox`); replies past it are dropped and counted.
        credentials: CURVE keys from a keyring (:mod:`zactor.transport.security`); ``None``: protected mode, see
            :mod:`zactor.transport.curve`.
        insecure: without credentials, allow binding an address other hosts can reach.
        asyncio_zmtp: speak ZMTP from the event loop where CURVE is not needed: a node that does not serve CURVE
            takes what comes in on an asyncio listener (:mod:`zactor.transport.listener`) instead of a ROUTER, and
            one without CURVE keys reaches ``tcp://`` and ``ipc://`` peers through asyncio connections
            (:mod:`zactor.transport.dialer`) instead of DEALERs: no libzmq thread on the path (default; ``False``:
            libzmq sockets).
    """

    def __init__(
        self,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        linger_s: float = 0.1,
        hwm: int = 10_000,
        heartbeat_s: float = 1.0,
        max_unread_bytes_per_peer: int = 64 * 1024 * 1024,
        credentials: Credentials | None = None,
        insecure: bool = False,
        asyncio_zmtp: bool = True,
    ) -> None:
        super().__init__(max_message_bytes)
        self._use_asyncio = asyncio_zmtp
        self._listener: ZmtpListener | None = None
        self._dialers: dict[str, ZmtpDialer] = {}
        self._security = SocketSecurity(credentials, insecure)
        self._refusal_log = RateLimitedLogger(log)
        self._monitors: dict[str, Pump] = {}
        self._reload: asyncio.TimerHandle | None = None
        self._max_unread_bytes = max_unread_bytes_per_peer
        self._outbox: Outbox | None = None
        self._linger_ms = int(linger_s * 1000)
        self._hwm = hwm
        self._heartbeat_ms = int(heartbeat_s * 1000)
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._router: Pump | None = None
        self._dealers: dict[str, Pump] = {}
        self._peer_fds: dict[bytes, int] = {}  # inbound routing identity -> its connection's file descriptor
        self._fd_peers: dict[int, bytes] = {}
        self._principals: dict[bytes, str] = {}  # inbound routing identity -> the name of its ZAP-authenticated key

    def _configure(self, sock: zmq.Socket[bytes]) -> None:
        sock.setsockopt(zmq.LINGER, self._linger_ms)
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        sock.setsockopt(zmq.SNDHWM, self._hwm)
        sock.setsockopt(zmq.RCVHWM, self._hwm)
        if self._heartbeat_ms > 0:
            sock.setsockopt(zmq.HEARTBEAT_IVL, self._heartbeat_ms)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * self._heartbeat_ms)

    async def start(self, bind: str, on_request: RequestHandler, on_reply: ReplyHandler) -> str:
        if self._ctx is not None:
            raise RuntimeError("transport already started")
        self._loop = asyncio.get_running_loop()
        self._on_request, self._on_reply = on_request, on_reply
        security = self._security
        security.check_bind(bind)
        prepare_zero_copy()  # other threads of this process (clients, nodes) may send zero-copy frames too
        ctx = zmq.Context()
        if self._use_asyncio and not security.serves:
            return await self._start_listener(ctx, bind)
        security.start(ctx)
        sock = ctx.socket(zmq.ROUTER)
        self._configure(sock)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        security.secure_router(sock)
        try:
            sock.bind(bind)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            security.stop()
            ctx.term()
            raise OSError(exc.errno, f"cannot bind {bind}: {exc.strerror}") from None
        self._ctx = ctx
        self._address = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        receive = self._receive_checked if security.serves else self._receive_request
        router = self._router = Pump(sock, self._loop, lambda: receive(sock))
        events = _PEER_GONE | (MONITOR_EVENTS if security.serves else 0)
        monitor = sock.get_monitor_socket(events)
        self._monitors[_ROUTER] = Pump(monitor, self._loop, lambda: self._router_event(monitor))
        if security.serves:
            self._reload = self._loop.call_later(_RELOAD_S, self._reload_keys)
        self._outbox = Outbox(
            sock, self._loop, router.rearm, self.stats, self._max_unread_bytes, DEFAULT_COPY_THRESHOLD_BYTES
        )
        return self._address

    async def _start_listener(self, ctx: zmq.Context[zmq.Socket[bytes]], bind: str) -> str:
        listener = ZmtpListener(
            self._deliver_request,
            self._gone,
            self.stats,
            self.max_message_bytes,
            self._max_unread_bytes,
            self._heartbeat_ms / 1000,
        )
        try:
            self._address = await listener.start(bind)
        except OSError as exc:
            ctx.term()
            raise OSError(exc.errno, f"cannot bind {bind}: {exc.strerror}") from None
        self._listener, self._ctx = listener, ctx
        return self._address

    def _receive_request(self, sock: zmq.Socket[bytes]) -> bool:
        try:
            peer = sock.recv(_NOBLOCK)  # a ROUTER's routing identity is never the last frame
            head = sock.recv(_NOBLOCK, copy=False)
            frames = recv_rest(sock, head)
        except zmq.ZMQError:  # Again: nothing left; anything else: the socket is closing
            return False
        if peer not in self._peer_fds:
            self._track(peer, head)
        self._deliver_request(peer, frames)
        return True

    def _receive_checked(self, sock: zmq.Socket[bytes]) -> bool:
        """Receive a request and deliver it only if its connection's key is still authorized (not revoked)."""
        try:
            first = sock.recv(_NOBLOCK, copy=False)
            frames = recv_envelope(sock)
        except zmq.ZMQError:  # Again: nothing left; anything else: the socket is closing
            return False
        keys = self._security.keys
        principal = keys.name_of(str(first.get("User-Id"))) if keys is not None else None
        if keys is not None and principal is None:
            self.stats["refused_revoked"] += 1
            self._refusal_log.warning("dropped an envelope from a connection whose key was revoked")
            return True
        peer = first.bytes
        if peer not in self._peer_fds:
            self._track(peer, first)
        if principal is not None:
            self._principals[peer] = principal
        self._deliver_request(peer, frames)
        return True

    def principal_of(self, peer: bytes) -> str | None:
        return self._principals.get(peer)

    def _track(self, peer: bytes, frame: zmq.Frame) -> None:
        """Remember which connection (file descriptor) a new inbound peer speaks on, so that its disconnect event
        can name it. Pending monitor events are read first: libzmq emits a connection's disconnect before a later
        connection can reuse its descriptor and send, so an older peer on the same descriptor is gone by now."""
        monitor = self._monitors.get(_ROUTER)
        if monitor is not None:
            monitor.drain()
        fd = int(frame.get(zmq.SRCFD))  # the descriptor ``frame`` was read from
        self._peer_gone(fd)  # a peer still listed on this descriptor: its disconnect was missed
        self._peer_fds[peer] = fd
        self._fd_peers[fd] = peer

    def _peer_gone(self, fd: int) -> None:
        peer = self._fd_peers.pop(fd, None)
        if peer is None:
            return
        del self._peer_fds[peer]
        self._principals.pop(peer, None)
        self.stats["peers_gone"] += 1
        self._gone(peer)

    def _router_event(self, monitor: zmq.Socket[bytes]) -> bool:
        event = next_event(monitor)
        if event is None:
            return False
        if event[0] == _PEER_GONE:
            self._peer_gone(event[1])
            return True
        reason = refusal_reason(event[0])
        if reason is not None:
            self.stats["refused_handshakes"] += 1
            self._refusal_log.warning("refused a connection: %s", reason)
        return True

    def _dealer_event(self, endpoint: str, monitor: zmq.Socket[bytes]) -> bool:
        event = next_event(monitor)
        if event is None:
            return False
        error = handshake_failure(endpoint, event[0])
        if error is not None:
            self.stats["handshake_failures"] += 1
            self._handshake_failed(endpoint, error)
        return True

    def _reload_keys(self) -> None:
        keys = self._security.keys
        if keys is not None and self._loop is not None and self._ctx is not None:  # not closed meanwhile
            keys.refresh()
            self._reload = self._loop.call_later(_RELOAD_S, self._reload_keys)

    def _receive_reply(self, endpoint: str, sock: zmq.Socket[bytes]) -> bool:
        try:
            frames = recv_envelope(sock)
        except zmq.ZMQError:  # Again: nothing left; anything else: the socket is closing
            return False
        self._deliver_reply(endpoint, frames)
        return True

    def _dealer(self, endpoint: str) -> Pump:
        pump = self._dealers.get(endpoint)
        if pump is None:
            if self._ctx is None or self._loop is None:
                raise TransportClosed("transport is closed")
            sock = self._ctx.socket(zmq.DEALER)
            self._configure(sock)
            self._security.secure_dealer(sock)
            monitor = sock.get_monitor_socket(MONITOR_EVENTS)
            try:
                sock.connect(endpoint)
            except zmq.ZMQError as exc:
                sock.disable_monitor()
                monitor.close(linger=0)
                sock.close(linger=0)
                raise ValueError(f"cannot connect to {endpoint!r}: {exc.strerror}") from None
            pump = Pump(sock, self._loop, lambda: self._receive_reply(endpoint, sock))
            self._dealers[endpoint] = pump
            self._monitors[endpoint] = Pump(monitor, self._loop, lambda: self._dealer_event(endpoint, monitor))
        return pump

    def _dialer(self, endpoint: str) -> ZmtpDialer | None:
        """The asyncio ZMTP connection to ``endpoint`` (made on first use) for a node without CURVE keys, or None
        when a libzmq DEALER serves it (CURVE keys, an endpoint other than ``tcp://`` and ``ipc://``, or the
        option off).

        Raises:
            TransportClosed: the transport is closed.
            ValueError: a malformed ``tcp://`` endpoint (see :func:`~zactor.transport.endpoint.check_endpoint`).
        """
        dialer = self._dialers.get(endpoint)
        if dialer is not None:
            return dialer
        if not self._use_asyncio or self._security.credentials is not None or self._ctx is None:
            return None
        if urlsplit(endpoint).scheme not in ("tcp", "ipc"):
            return None
        check_endpoint(endpoint)
        dialer = self._dialers[endpoint] = ZmtpDialer(
            endpoint,
            self._deliver_reply,
            self._handshake_failed,
            self.stats,
            self._hwm,
            self.max_message_bytes,
            self._heartbeat_ms / 1000,
        )
        return dialer

    async def send(self, endpoint: str, frames: Sequence[Any], timeout_s: float) -> None:
        self._outgoing(frames)
        dialer = self._dialer(endpoint)
        if dialer is not None:
            if not dialer.try_send(frames):  # no coroutine of the dialer's while there is room
                await dialer.send_when_room(frames, timeout_s)
            return
        pump = self._dealer(endpoint)
        await self._send(pump, frames, 1, timeout_s, endpoint)

    def send_nowait(self, endpoint: str, frames: Sequence[Any]) -> bool:
        self._outgoing(frames)
        dialer = self._dialer(endpoint)
        if dialer is not None:
            return dialer.send_nowait(frames)
        pump = self._dealer(endpoint)
        if pump.blocked:  # behind the sends that wait: it keeps its place, and nobody waits for it
            pump.blocked.append((frames, 1, None))
            return True
        try:
            send_envelope(pump.sock, frames, 1)
            return True
        except zmq.ZMQError:  # Again: at the high-water mark; anything else: the socket is closing
            return False
        finally:
            pump.rearm()

    def reply_room(self, peer: bytes, nbytes: int) -> bool:
        if self._listener is not None:
            return self._listener.has_room(peer, nbytes)
        return self._outbox is None or self._outbox.has_room(peer, nbytes)

    def reply(self, peer: bytes, frames: Sequence[Any], timeout_s: float) -> bool:
        nbytes = self._outgoing(frames)
        if self._listener is not None:
            return self._listener.reply(peer, frames, nbytes)
        if self._outbox is None:
            raise TransportClosed("transport is closed")
        try:
            return self._outbox.reply(peer, [peer, *frames], nbytes, timeout_s)
        except zmq.ZMQError as exc:
            raise TransportClosed(f"the ROUTER socket failed: {exc.strerror}") from None

    async def _send(self, pump: Pump, frames: Sequence[Any], num_small: int, timeout_s: float, what: str) -> None:
        """Send now, or wait in the pump's queue of blocked sends (first in, first out) up to ``timeout_s``.

        Raises:
            SendTimeout: still blocked at the deadline (the envelope is then never sent).
            TransportClosed: the transport closed, or the socket failed.
        """
        if not pump.blocked:
            try:
                send_envelope(pump.sock, frames, num_small)
                return
            except zmq.Again:
                pass
            except zmq.ZMQError as exc:
                if exc.errno == zmq.ENOTSOCK:
                    raise TransportClosed("transport is closed") from None
                raise TransportClosed(f"sending to {what} failed: {exc.strerror}") from None
            finally:
                pump.rearm()
        self.stats["send_waits"] += 1
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pump.blocked.append((frames, num_small, waiter))
        pump.schedule()  # the socket may have become writable since the failed send
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except TimeoutError:
            self.stats["send_timeouts"] += 1
            raise SendTimeout(what, timeout_s) from None

    def forget(self, endpoint: str) -> None:
        dialer = self._dialers.pop(endpoint, None)
        if dialer is not None:
            dialer.close(flush=False)
        pump = self._dealers.pop(endpoint, None)
        if pump is not None:
            self._close_pump(endpoint, pump, 0)

    def _close_pump(self, key: str, pump: Pump, linger_ms: int) -> None:
        """Close a socket's pump and its monitor (``key``: the DEALER's endpoint, or ``_ROUTER``)."""
        monitor = self._monitors.pop(key, None)
        if monitor is not None:
            try:
                pump.sock.disable_monitor()
            except zmq.ZMQError:
                pass
            monitor.close(0)
        pump.close(linger_ms)

    async def close(self) -> None:
        if self._ctx is None:
            return
        if self._reload is not None:
            self._reload.cancel()
            self._reload = None
        for endpoint in list(self._dealers):
            self._close_pump(endpoint, self._dealers.pop(endpoint), self._linger_ms)
        dialers = list(self._dialers.values())
        self._dialers.clear()
        for dialer in dialers:
            dialer.close(flush=True)
        await asyncio.gather(*(dialer.linger(self._linger_ms / 1000) for dialer in dialers))
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._router is not None:
            self._close_pump(_ROUTER, self._router, self._linger_ms)
            self._router = None
        self._security.stop()
        ctx, self._ctx = self._ctx, None
        self._address = None
        await asyncio.get_running_loop().run_in_executor(None, ctx.term)
