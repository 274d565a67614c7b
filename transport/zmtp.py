"""ZMTP 3.1 over a plain socket: a DEALER peer of a node's ROUTER without libzmq, for unencrypted connections.

Why: libzmq moves every message through its I/O thread, a thread hop each way that costs a blocking caller as much
CPU as its whole Python path (``../shared/reference/hot-path-profile.md``). A blocking caller needs no I/O thread:
it writes a request and waits for the reply on the same socket, as Pyro5 does. The wire stays ZeroMQ's, so the node's
ROUTER does not change.

What it speaks (ZMTP 3.1, rfc.zeromq.org/spec/37, with the NULL mechanism of spec 23): the 64-byte greeting, a READY
command with ``Socket-Type: DEALER``, frames with the MORE, LONG and COMMAND flags, PING answered with PONG, and ERROR
(a refusal, such as a ZAP handler's) raised as :class:`~zactor.transport.errors.HandshakeFailed`. A node that
encrypts (CURVE) greets with another mechanism and is refused the same way: CURVE stays on libzmq, which does the
cryptography.

What it leaves out: a thread of its own. Between calls nobody reads the socket, so a node's ROUTER, whose ZMTP
heartbeat closes a connection that answers no PING for its timeout, may close an idle one. A zactor node's READY
gives that timeout (``X-Silence-Timeout-Ms``, :attr:`ZmtpSocket.silence_timeout_s`), so the caller connects anew before
it passes; :meth:`ZmtpSocket.usable` says whether the node closed the connection anyway before a request is written
(nothing was sent on the old connection).

Blocking I/O on one socket (the framing is :class:`~zactor.transport.framing.FrameReader`'s); not thread-safe:
one per thread, as libzmq sockets are.
"""

from __future__ import annotations

import collections
import select
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from zactor.transport.endpoint import ipc_path
from zactor.transport.errors import HandshakeFailed
from zactor.transport.framing import (
    GREETING,
    SILENCE_PROPERTY,
    FrameReader,
    Item,
    ZmtpProtocolError,
    command,
    error_reason,
    is_zmtp3,
    mechanism_of,
    message_parts,
    pong,
    properties_of,
    ready,
)

__all__ = ["ZmtpSocket", "ZmtpClosed"]

_READY = ready(b"DEALER")


class ZmtpClosed(ConnectionError):
    """The node closed the connection (or it broke)."""


class ZmtpSocket:
    """One ZMTP connection to a node's ROUTER, blocking.

    Args:
        endpoint: ``tcp://HOST:PORT`` or ``ipc://PATH``.
        timeout_s: the deadline of connecting and of the handshake, in seconds.
        max_frame_bytes: the largest frame accepted, in bytes (a larger one closes the connection as malformed).

    Attributes:
        silence_timeout_s: after how many seconds without traffic the node closes the connection, as its READY
            says (``None``: it does not say).

    Raises:
        OSError: no connection could be made (``ConnectionRefusedError`` when nothing listens there).
        HandshakeFailed: the node refused the handshake, wants a mechanism other than NULL (CURVE), or sent a
            malformed READY.
        ZmtpClosed: the node closed the connection during the handshake.
        ValueError: ``endpoint`` is neither ``tcp://`` nor ``ipc://``.
    """

    __slots__ = ("endpoint", "last_read", "silence_timeout_s", "_sock", "_poll", "_reader", "_items", "_wait_s")

    def __init__(self, endpoint: str, timeout_s: float, max_frame_bytes: int = 2**31) -> None:
        self.endpoint = endpoint
        self._reader = FrameReader(max_frame_bytes)
        self._items: collections.deque[Item] = collections.deque()  # read, not yet taken
        self._wait_s = -1.0
        self.last_read = time.monotonic()  # when anything last came from the node (monotonic s)
        self.silence_timeout_s: float | None = None  # after how long the node closes a silent connection, if it says
        self._sock = _connect(endpoint, timeout_s)
        try:
            self._sock.settimeout(None)  # blocking; waits are bounded by SO_RCVTIMEO (one system call per read)
            self._handshake(timeout_s)
        except BaseException:
            self._sock.close()
            raise
        self._poll = select.poll()
        self._poll.register(self._sock.fileno(), select.POLLIN)

    def _handshake(self, timeout_s: float) -> None:
        """Greetings first, READY only once the node's mechanism is known to be NULL: a node that wants another
        one closes the connection, and READY unread at that moment would make its close a reset that discards the
        greeting that says why."""
        self._sock.sendall(GREETING)
        try:
            while self._reader.greeting is None:
                self._read(timeout_s)
        except ZmtpClosed:
            raise HandshakeFailed(self.endpoint, "the node closed the connection at the greeting") from None
        except ZmtpProtocolError:
            raise HandshakeFailed(self.endpoint, "the peer does not speak ZMTP 3") from None
        greeting = self._reader.greeting
        if not is_zmtp3(greeting):
            raise HandshakeFailed(self.endpoint, "the peer does not speak ZMTP 3")
        mechanism = mechanism_of(greeting)
        if mechanism != b"NULL":
            reason = f"the node wants the {mechanism.decode(errors='replace')} mechanism: give this client a keyring"
            raise HandshakeFailed(self.endpoint, reason)
        self._sock.sendall(_READY)
        while True:  # READY, or ERROR
            name, value = self._next(timeout_s)
            if name == b"READY":
                self.silence_timeout_s = self._silence_timeout(value)
                return
            if name == b"ERROR":
                raise HandshakeFailed(self.endpoint, f"the node refused the connection ({error_reason(value)})")

    def _silence_timeout(self, ready_body: memoryview) -> float | None:
        """The node's silence timeout in seconds, from its READY (``None`` when it gives none, as libzmq's ROUTER).

        Raises:
            HandshakeFailed: the READY or its timeout is malformed.
        """
        try:
            value = properties_of(ready_body).get(SILENCE_PROPERTY.lower())
            if value is None:
                return None
            if not value.isdigit():
                raise ZmtpProtocolError(f"{SILENCE_PROPERTY.decode()} is not a number of milliseconds")
        except ZmtpProtocolError as exc:
            raise HandshakeFailed(self.endpoint, f"the node sent a malformed READY ({exc})") from None
        return int(value) / 1000

    def send(self, frames: Sequence[Any]) -> None:
        """Write one multipart message (bytes-like frames), in one system call when the kernel takes it whole.

        Raises:
            ZmtpClosed: the connection broke.
        """
        parts, total = message_parts(frames)
        try:
            sent = self._sock.sendmsg(parts)
            if sent < total:
                self._send_rest(parts, sent)
        except OSError as exc:
            raise ZmtpClosed(f"writing to {self.endpoint} failed: {exc}") from None

    def _send_rest(self, parts: list[Any], sent: int) -> None:
        for part in parts:
            view = memoryview(part).cast("B")
            if sent >= view.nbytes:
                sent -= view.nbytes
                continue
            self._sock.sendall(view[sent:])
            sent = 0

    def send_command(self, name: bytes, body: bytes = b"") -> None:
        """Write one command (such as a PING).

        Raises:
            ZmtpClosed: the connection broke.
        """
        self._write(command(name, body))

    def _write(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise ZmtpClosed(f"writing to {self.endpoint} failed: {exc}") from None

    def usable(self) -> bool:
        """Whether a request may be written now: reads what waits without blocking (messages stay for
        :meth:`receive`) and returns False when the node has closed the connection, or sent something malformed."""
        while self._poll.poll(0):
            try:
                got = self._sock.recv_into(self._reader.get_buffer(), 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not got:
                return False
            self.last_read = time.monotonic()
            self._items.extend(self._reader.buffer_updated(got))
            if self._reader.error is not None:
                return False
        return True

    def receive(self, wait_s: float) -> list[Any] | None:
        """The next message, waiting up to ``wait_s`` seconds for each read (``None`` when nothing more came): its
        frames as ``bytes`` or, from 64 KiB, ``memoryview``. PINGs on the way are answered; what was read of an
        unfinished message stays for the next call.

        Raises:
            ZmtpClosed: the node closed the connection.
            HandshakeFailed: the node sent ERROR.
            DecodeError: a malformed frame (over the size limit, or a command that does not parse).
        """
        try:
            while True:
                name, value = self._next(wait_s)
                if name is None:
                    return list(value)
                if name == b"ERROR":
                    raise HandshakeFailed(self.endpoint, f"the node refused the connection ({error_reason(value)})")
        except TimeoutError:
            return None

    def _next(self, wait_s: float) -> Item:
        """The next message or command other than PING (PINGs are answered), reading as needed.

        Raises:
            TimeoutError: a read waited ``wait_s`` seconds in vain.
        """
        items = self._items
        while True:
            while not items:
                self._read(wait_s)
            name, value = items.popleft()
            if name != b"PING":
                return name, value
            self._write(pong(value))

    def _read(self, wait_s: float) -> None:
        """One blocking read of up to ``wait_s`` seconds into the reader; what it completed is kept.

        Raises:
            TimeoutError: nothing came in time.
            ZmtpClosed: the connection closed or broke.
            ZmtpProtocolError: what came is malformed (raised once what came before it was taken).
        """
        if self._reader.error is not None:
            raise self._reader.error
        if wait_s != self._wait_s:  # SO_RCVTIMEO, set only when it changes
            seconds = max(wait_s, 1e-3)
            timeval = struct.pack("ll", int(seconds), int(seconds % 1 * 1e6))
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
            self._wait_s = wait_s
        try:
            got = self._sock.recv_into(self._reader.get_buffer())
        except (TimeoutError, BlockingIOError):
            raise TimeoutError from None
        except OSError as exc:
            raise ZmtpClosed(f"the connection to {self.endpoint} broke: {exc}") from None
        if not got:
            raise ZmtpClosed(f"{self.endpoint} closed the connection")
        self.last_read = time.monotonic()
        self._items.extend(self._reader.buffer_updated(got))

    def close(self) -> None:
        """Close the connection (what was written and not yet read by the node may be lost)."""
        self._sock.close()


def _connect(endpoint: str, timeout_s: float) -> socket.socket:
    parts = urlsplit(endpoint)
    if parts.scheme == "tcp" and parts.hostname and parts.port is not None:
        sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    if parts.scheme == "ipc":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_s)
        try:
            sock.connect(ipc_path(endpoint))
        except BaseException:
            sock.close()
            raise
        return sock
    raise ValueError(f"{endpoint!r}: ZMTP over a plain socket needs tcp://HOST:PORT or ipc://PATH")
