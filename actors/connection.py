"""One blocking client thread's connection to one node, in two kinds with the same methods (``send``,
``send_nowait``, ``receive``, ``stale``, ``check``, ``close``):

- :class:`PlainConnection`, for unencrypted nodes: ZMTP spoken on a plain socket
  (:mod:`zactor.transport.zmtp`), with no libzmq I/O thread between the caller and the wire. A connection idle for
  two heartbeat intervals is made anew before a request (the node's heartbeat may be about to close it, since nobody
  answers its PINGs between calls), and a wait that hears nothing from the node for three intervals, its PINGs
  unanswered, counts the node as gone.
- :class:`Connection`, for CURVE: a libzmq DEALER and its socket monitor.

The monitor tells whether the ZMTP handshake succeeded (what is sent from then on reaches the node), whether a
connection that was up closed (a waiting ask's node died, or stopped answering the heartbeat), and whether no
connection could be made at all (refused, or a failed security handshake). An ask that never reached a node is
:class:`NotDelivered`, and may go to another host of its actor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import zmq

from zactor.errors import HandshakeFailed, NodeUnavailable
from zactor.transport.curve import MONITOR_EVENTS, handshake_failure, next_event
from zactor.transport.framing import SILENT_INTERVALS
from zactor.transport.pump import recv_envelope
from zactor.transport.zmtp import ZmtpClosed, ZmtpSocket

__all__ = ["EVENTS", "LINGER_MS", "Connection", "PlainConnection", "NotDelivered"]

LINGER_MS = 100
"""How long closing a connection may wait to flush what it queued (such as a CANCEL), in ms."""
EVENTS = MONITOR_EVENTS | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED
"""The monitor events a connection follows."""
_POLLIN = int(zmq.POLLIN)


class NotDelivered(Exception):
    """The ask never reached a node: it may go to another host of the actor. ``error`` is what to raise if there
    is none."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Connection:
    """One thread's DEALER to one node, its monitor, what the monitor said, and the receive timeout last set.

    Args:
        sock: the DEALER, connecting or connected to ``endpoint``.
        monitor: its monitor socket, following :data:`EVENTS`.
        endpoint: the node's endpoint.
    """

    __slots__ = ("sock", "monitor", "endpoint", "is_ready", "is_lost", "refused", "_wait_ms")

    def __init__(self, sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes], endpoint: str) -> None:
        self.sock = sock
        self.monitor = monitor
        self.endpoint = endpoint
        self.is_ready = False  # the handshake succeeded: what is sent now reaches the node
        self.is_lost = False  # a ready connection closed
        self.refused: Exception | None = None  # why no connection could be made
        self._wait_ms = -1

    def send(self, frames: Sequence[Any]) -> None:
        """Queue one envelope (ZeroMQ sends it once connected)."""
        self.sock.send_multipart(frames, copy=len(frames) == 1)

    def send_nowait(self, frame: bytes) -> None:
        """Send one control envelope (CANCEL, CREDIT) if the socket takes it now (best effort, never blocks)."""
        try:
            self.sock.send(frame, zmq.NOBLOCK)
        except zmq.ZMQError:  # at the high-water mark, or the socket is closed
            pass

    def receive(self, wait_s: float) -> list[Any] | None:
        """The next envelope, waiting up to ``wait_s`` seconds (``None`` when none came)."""
        wait_ms = max(1, int(wait_s * 1000))
        if wait_ms != self._wait_ms:  # an option set only when it changes
            self.sock.setsockopt(zmq.RCVTIMEO, wait_ms)
            self._wait_ms = wait_ms
        try:
            return recv_envelope(self.sock, block=True)
        except zmq.Again:
            return None

    def stale(self) -> bool:
        """Whether the connection closed since it was up (the next request needs a new one)."""
        self.read_events()
        return self.is_lost

    def check(self) -> None:
        """Between slices of a wait: raise if the connection was refused or lost.

        Raises:
            NodeUnavailable: the connection closed while an ask waited.
            NotDelivered: no connection could be made.
        """
        self.read_events()
        if self.is_lost:
            raise NodeUnavailable(self.endpoint, "the connection closed while an ask waited")
        if self.refused is not None and not self.is_ready:
            raise NotDelivered(self.refused)

    def read_events(self) -> None:
        """Take what the monitor reported: handshakes, disconnects, refused connections (an option read when
        nothing is waiting, the common case: 1.5 us where a failed receive costs 4)."""
        if not int(self.monitor.get(zmq.EVENTS)) & _POLLIN:
            return
        while (event := next_event(self.monitor)) is not None:
            kind = event[0]
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.is_ready, self.refused = True, None
            elif kind == zmq.EVENT_DISCONNECTED and self.is_ready:
                self.is_lost = True
            elif kind == zmq.EVENT_CONNECT_RETRIED and not self.is_ready and self.refused is None:
                self.refused = NodeUnavailable(self.endpoint, "the connection was refused (is a node running there?)")
            else:
                self.refused = handshake_failure(self.endpoint, kind) or self.refused

    def close(self, linger_ms: int) -> None:
        """Close the socket, flushing what it queued for up to ``linger_ms`` ms (0: dropped), and its monitor."""
        self.sock.disable_monitor()
        self.monitor.close(linger=0)
        self.sock.close(linger=linger_ms)


class PlainConnection:
    """One thread's ZMTP connection to an unencrypted node, without libzmq (see the module docstring).

    Args:
        endpoint: the node's endpoint (``tcp://`` or ``ipc://``).
        timeout_s: the deadline of connecting, in seconds.
        heartbeat_s: this client's heartbeat interval, in seconds (assumed for the node too when its READY gives no
            silence timeout).

    Raises:
        NotDelivered: no connection could be made (refused, unreachable, or the handshake failed).
    """

    __slots__ = ("endpoint", "_zmtp", "_heartbeat_s", "_idle_s", "_sent_at", "_pinged_at")

    def __init__(self, endpoint: str, timeout_s: float, heartbeat_s: float) -> None:
        self.endpoint = endpoint
        self._heartbeat_s = heartbeat_s
        try:
            self._zmtp = ZmtpSocket(endpoint, timeout_s)
        except HandshakeFailed as exc:
            raise NotDelivered(exc) from None
        except (OSError, TimeoutError) as exc:
            reason = "the connection was refused (is a node running there?)"
            if not isinstance(exc, ConnectionRefusedError | FileNotFoundError):
                reason = f"no connection could be made ({exc or type(exc).__name__})"
            raise NotDelivered(NodeUnavailable(endpoint, reason)) from None
        self._idle_s = 2 * heartbeat_s  # replaced before a request after this long idle: two heartbeat intervals
        node_timeout_s = self._zmtp.silence_timeout_s
        if node_timeout_s is not None:  # the node's own intervals, when its READY gives its silence timeout
            self._idle_s = min(self._idle_s, 2 * node_timeout_s / SILENT_INTERVALS)
        self._sent_at = self._pinged_at = time.monotonic()

    def send(self, frames: Sequence[Any]) -> None:
        """Write one envelope.

        Raises:
            NodeUnavailable: the connection broke (the envelope may have reached the node in part, or whole).
        """
        try:
            self._zmtp.send(frames)
        except ZmtpClosed as exc:
            raise NodeUnavailable(self.endpoint, str(exc)) from None
        self._sent_at = time.monotonic()

    def send_nowait(self, frame: bytes) -> None:
        """Write one small control envelope (CANCEL, CREDIT), best effort."""
        try:
            self._zmtp.send((frame,))
        except ZmtpClosed:
            pass

    def receive(self, wait_s: float) -> list[Any] | None:
        """The next envelope, waiting up to ``wait_s`` seconds (``None`` when none came).

        Raises:
            NodeUnavailable: the connection closed, or the node sent ERROR.
        """
        try:
            return self._zmtp.receive(wait_s)
        except ZmtpClosed:
            raise NodeUnavailable(self.endpoint, "the connection closed while an ask waited") from None
        except HandshakeFailed as exc:
            raise NodeUnavailable(self.endpoint, exc.reason) from None

    def stale(self) -> bool:
        """Whether the next request needs a new connection: the node closed this one, or it has been idle for two
        heartbeat intervals, the node's when its READY gives its timeout, else this client's (the node's heartbeat
        may close it any moment after: nobody answered its PINGs)."""
        return time.monotonic() - self._sent_at > self._idle_s or not self._zmtp.usable()

    def check(self) -> None:
        """Between slices of a wait: PING the node after a heartbeat interval of silence; raise after three.

        Raises:
            NodeUnavailable: nothing came from the node for three heartbeat intervals.
        """
        now = time.monotonic()
        silent_s = now - self._zmtp.last_read
        if silent_s > SILENT_INTERVALS * self._heartbeat_s:
            reason = f"the connection closed while an ask waited: the node sent nothing for {silent_s:.1f} s"
            raise NodeUnavailable(self.endpoint, reason)
        if silent_s > self._heartbeat_s and now - self._pinged_at > self._heartbeat_s:
            self._pinged_at = now
            try:
                self._zmtp.send_command(b"PING", bytes(2))  # a TTL of 0, no context
            except ZmtpClosed:
                raise NodeUnavailable(self.endpoint, "the connection closed while an ask waited") from None

    def close(self, linger_ms: int) -> None:
        """Close the connection (``linger_ms`` is for the libzmq kind; the kernel sends what was written)."""
        self._zmtp.close()
