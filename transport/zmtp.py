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
heartbeat closes a connection that answers no PING for its timeout, may close an idle one; :meth:`ZmtpSocket.usable`
says so before a request is written, and the caller connects anew (nothing was sent on the old connection).

Pure protocol and blocking I/O on one socket; not thread-safe (one per thread, as libzmq sockets are).
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from zactor.transport.errors import DecodeError, HandshakeFailed

__all__ = ["GREETING", "ZmtpSocket", "ZmtpClosed", "frame_header"]

_MORE, _LONG, _COMMAND = 1, 2, 4
_PREFIX = b"\xff" + bytes(8) + b"\x7f"
GREETING = _PREFIX + bytes([3, 1]) + b"NULL".ljust(20, b"\0") + b"\0" + bytes(31)
"""This peer's greeting: ZMTP 3.1, the NULL mechanism, not as-server (64 bytes)."""
_LONG_SIZE = struct.Struct(">Q")
_MAX_COMMAND_BYTES = 64 * 1024
_BIG_FRAME = 64 * 1024  # frames at least this large are read straight into a buffer of their own


class ZmtpClosed(ConnectionError):
    """The node closed the connection (or it broke)."""


def frame_header(size: int, flags: int) -> bytes:
    """The header of a frame of ``size`` bytes: the flags byte, then the size in 1 byte, or 8 with ``LONG``."""
    if size < 256:
        return bytes((flags, size))
    return bytes((flags | _LONG,)) + _LONG_SIZE.pack(size)


def _command(name: bytes, body: bytes = b"") -> bytes:
    """A command frame: the name's length and the name, then the body."""
    payload = bytes((len(name),)) + name + body
    return frame_header(len(payload), _COMMAND) + payload


def _property(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + struct.pack(">I", len(value)) + value


_READY = _command(b"READY", _property(b"Socket-Type", b"DEALER") + _property(b"Identity", b""))


class ZmtpSocket:
    """One ZMTP connection to a node's ROUTER, blocking.

    Args:
        endpoint: ``tcp://HOST:PORT`` or ``ipc://PATH``.
        timeout_s: the deadline of connecting and of the handshake, in seconds.
        max_frame_bytes: the largest frame accepted, in bytes (a larger one closes the connection as malformed).

    Raises:
        OSError: no connection could be made (``ConnectionRefusedError`` when nothing listens there).
        HandshakeFailed: the node refused the handshake, or wants a mechanism other than NULL (CURVE).
        ZmtpClosed: the node closed the connection during the handshake.
        ValueError: ``endpoint`` is neither ``tcp://`` nor ``ipc://``.
    """

    __slots__ = ("endpoint", "last_read", "_sock", "_poll", "_buf", "_max_frame", "_wait_s", "_partial", "_big")

    def __init__(self, endpoint: str, timeout_s: float, max_frame_bytes: int = 2**31) -> None:
        self.endpoint = endpoint
        self._max_frame = max_frame_bytes
        self._buf = bytearray()
        self._partial: list[Any] = []  # the frames of a message read so far, kept across a timeout
        self._big: tuple[bytearray, int, int] | None = None  # a large frame being read: (payload, bytes read, flags)
        self._wait_s = -1.0
        self.last_read = time.monotonic()  # when anything last came from the node (monotonic s)
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
            self._fill(64, timeout_s)
        except ZmtpClosed:
            raise HandshakeFailed(self.endpoint, "the node closed the connection at the greeting") from None
        greeting = bytes(self._buf[:64])
        del self._buf[:64]
        if greeting[:1] != b"\xff" or greeting[9:10] != b"\x7f" or greeting[10] < 3:
            raise HandshakeFailed(self.endpoint, "the peer does not speak ZMTP 3")
        mechanism = greeting[12:32].rstrip(b"\0")
        if mechanism != b"NULL":
            reason = f"the node wants the {mechanism.decode(errors='replace')} mechanism: give this client a keyring"
            raise HandshakeFailed(self.endpoint, reason)
        self._sock.sendall(_READY)
        while True:  # READY, or ERROR
            name, body = _parse_command(memoryview(self._next(timeout_s, commands=True)[0]))
            if name == b"READY":
                return
            if name == b"ERROR":
                raise HandshakeFailed(self.endpoint, _error_reason(body))

    def send(self, frames: Sequence[Any]) -> None:
        """Write one multipart message (bytes-like frames), in one system call when the kernel takes it whole.

        Raises:
            ZmtpClosed: the connection broke.
        """
        parts: list[Any] = []
        total = 0
        last = len(frames) - 1
        for i, frame in enumerate(frames):
            size = len(frame) if type(frame) is bytes else memoryview(frame).nbytes
            parts.append(frame_header(size, _MORE if i < last else 0))
            parts.append(frame)
            total += size + len(parts[-2])
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
        """Write one command (such as a PONG).

        Raises:
            ZmtpClosed: the connection broke.
        """
        try:
            self._sock.sendall(_command(name, body))
        except OSError as exc:
            raise ZmtpClosed(f"writing to {self.endpoint} failed: {exc}") from None

    def usable(self) -> bool:
        """Whether a request may be written now: reads what waits without blocking (messages stay buffered for
        :meth:`receive`) and returns False when the node has closed the connection."""
        while self._poll.poll(0):
            try:
                chunk = self._sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self._buf += chunk
            self.last_read = time.monotonic()
        return True

    def receive(self, wait_s: float) -> list[Any] | None:
        """The next message, waiting up to ``wait_s`` seconds for each read (``None`` when nothing more came): its
        first frame as ``bytes``, the others as ``bytes`` or, when large, ``memoryview``. PINGs on the way are
        answered.

        Raises:
            ZmtpClosed: the node closed the connection.
            HandshakeFailed: the node sent ERROR.
            DecodeError: a malformed frame (over the size limit, or a command that does not parse).
        """
        try:
            return self._next(wait_s, commands=False)
        except TimeoutError:
            return None

    def _next(self, wait_s: float, commands: bool) -> list[Any]:
        """The next message, or with ``commands`` the next command (as a one-frame list); answers PINGs.

        Raises:
            TimeoutError: nothing came in time; what was read stays for the next call.
        """
        buf = self._buf
        while True:
            if self._big is not None:
                payload, flags = self._read_big(wait_s)
            else:
                if len(buf) < 2:
                    self._fill(2, wait_s)
                flags = buf[0]
                if flags & _LONG:
                    if len(buf) < 9:
                        self._fill(9, wait_s)
                    size, start = _LONG_SIZE.unpack_from(buf, 1)[0], 9
                else:
                    size, start = buf[1], 2
                if size > (_MAX_COMMAND_BYTES if flags & _COMMAND else self._max_frame):
                    raise DecodeError(f"a frame of {size} bytes from {self.endpoint} is over the limit")
                if size >= _BIG_FRAME:
                    del buf[:start]
                    self._big = (bytearray(size), 0, flags)
                    payload, flags = self._read_big(wait_s)
                else:
                    end = start + size
                    if len(buf) < end:
                        self._fill(end, wait_s)
                    payload = bytes(buf[start:end])
                    del buf[:end]
            if flags & _COMMAND:
                if commands:
                    return [payload]
                self._on_command(memoryview(payload))
                continue
            self._partial.append(payload)
            if not flags & _MORE:
                frames, self._partial = self._partial, []
                return frames

    def _read_big(self, wait_s: float) -> tuple[Any, int]:
        """Go on reading the large frame begun (straight into its own buffer: no copy in between)."""
        assert self._big is not None
        payload, have, flags = self._big
        view = memoryview(payload)
        buf = self._buf
        if buf:
            take = min(len(buf), len(payload) - have)
            view[have : have + take] = buf[:take]
            del buf[:take]
            have += take
        self._set_wait(wait_s)
        while have < len(payload):
            try:
                have += cast(int, self._read_some(view[have:]))
            except TimeoutError:
                self._big = (payload, have, flags)
                raise
        self._big = None
        return view, flags

    def _on_command(self, payload: memoryview) -> None:
        name, body = _parse_command(payload)
        if name == b"PING":  # body: a 2-byte TTL, then up to 16 bytes of context, echoed in the PONG
            self.send_command(b"PONG", bytes(body[2:18]))
        elif name == b"ERROR":
            raise HandshakeFailed(self.endpoint, _error_reason(body))

    def _set_wait(self, wait_s: float) -> None:
        """Bound each blocking read by ``wait_s`` seconds (``SO_RCVTIMEO``, set only when it changes)."""
        if wait_s != self._wait_s:
            seconds = max(wait_s, 1e-3)
            timeval = struct.pack("ll", int(seconds), int(seconds % 1 * 1e6))
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
            self._wait_s = wait_s

    def _fill(self, n: int, wait_s: float) -> None:
        """Read until ``n`` bytes are buffered.

        Raises:
            TimeoutError: a read waited ``wait_s`` seconds in vain (what came stays buffered).
            ZmtpClosed: the connection closed or broke.
        """
        self._set_wait(wait_s)
        buf = self._buf
        while len(buf) < n:
            buf += cast(bytes, self._read_some(None))

    def _read_some(self, into: memoryview | None) -> bytes | int:
        """One blocking read: into ``into`` (returns how many bytes), or a new chunk of up to 64 KiB.

        Raises:
            TimeoutError: nothing came within the wait set.
            ZmtpClosed: the connection closed or broke.
        """
        try:
            got = self._sock.recv(65536) if into is None else self._sock.recv_into(into)
        except (TimeoutError, BlockingIOError):
            raise TimeoutError from None
        except OSError as exc:
            raise ZmtpClosed(f"the connection to {self.endpoint} broke: {exc}") from None
        if not got:
            raise ZmtpClosed(f"{self.endpoint} closed the connection")
        self.last_read = time.monotonic()
        return got

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
            sock.connect(parts.netloc + parts.path)
        except BaseException:
            sock.close()
            raise
        return sock
    raise ValueError(f"{endpoint!r}: ZMTP over a plain socket needs tcp://HOST:PORT or ipc://PATH")


def _parse_command(payload: memoryview) -> tuple[bytes, memoryview]:
    if not payload.nbytes or payload[0] + 1 > payload.nbytes:
        raise DecodeError("a ZMTP command that does not parse")
    end = 1 + payload[0]
    return bytes(payload[1:end]), payload[end:]


def _error_reason(body: memoryview) -> str:
    text = bytes(body[1 : 1 + body[0]]) if body.nbytes else b""
    return f"the node refused the connection ({text.decode(errors='replace') or 'no reason given'})"
