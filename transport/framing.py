"""ZMTP 3.x framing, sans I/O (rfc.zeromq.org/spec/23 and 37, the NULL mechanism): what every ZMTP speaker here
writes (the greeting, commands, frame headers) and one reader of what arrives, shared by the node's listener and
dialers and by the blocking client's plain connections.

:class:`FrameReader` is fed the way an ``asyncio.BufferedProtocol`` is: :meth:`FrameReader.get_buffer` gives the
buffer the next read goes into (a scratch buffer, or, while a frame of 64 KiB or more is being read, that frame's own
buffer, so a large frame is never copied in between), :meth:`FrameReader.buffer_updated` says how much came and
returns what that completed. What was read of an unfinished message stays in the reader, so a caller whose read
times out loses nothing.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from typing import Any

from zactor.transport.errors import DecodeError

__all__ = [
    "GREETING",
    "PING",
    "FrameReader",
    "Item",
    "ZmtpProtocolError",
    "command",
    "error_command",
    "error_reason",
    "frame_header",
    "is_zmtp3",
    "mechanism_of",
    "message_parts",
    "pong",
    "ready",
]

MORE, LONG, COMMAND = 1, 2, 4
GREETING = b"\xff" + bytes(8) + b"\x7f" + bytes([3, 1]) + b"NULL".ljust(20, b"\0") + b"\0" + bytes(31)
"""The greeting every ZMTP speaker here sends: ZMTP 3.1, the NULL mechanism, not as-server (64 bytes)."""
MAX_COMMAND_BYTES = 64 * 1024
_LONG_SIZE = struct.Struct(">Q")
_VALUE_SIZE = struct.Struct(">I")  # a READY property's value length
_BIG_FRAME = 64 * 1024
_MAPPED_FRAME = 32 * 1024 * 1024  # glibc's largest mmap threshold: larger allocations are fresh pages every time
_MAP_ANONYMOUS = getattr(mmap, "MAP_ANONYMOUS", 0)  # absent on Windows
_MAP_FLAGS = getattr(mmap, "MAP_PRIVATE", 0) | _MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
_SCRATCH_BYTES = 256 * 1024  # what one read takes at most, outside a large frame

Item = tuple[bytes | None, Any]
"""What :meth:`FrameReader.buffer_updated` returns: ``(None, frames)`` for a message, ``(name, body)`` for a
command (``body`` a ``memoryview``)."""


class ZmtpProtocolError(DecodeError):
    """What arrived is not ZMTP 3, has a frame over the limit or reserved flags, or a command that does not parse.

    Attributes:
        counter: the statistic it counts in (``oversized_frames`` or ``zmtp_protocol_errors``).
    """

    def __init__(self, reason: str, counter: str = "zmtp_protocol_errors") -> None:
        super().__init__(reason)
        self.counter = counter


def frame_header(size: int, flags: int) -> bytes:
    """The header of a frame of ``size`` bytes: the flags byte, then the size in 1 byte, or 8 with ``LONG``."""
    if size < 256:
        return bytes((flags, size))
    return bytes((flags | LONG,)) + _LONG_SIZE.pack(size)


def command(name: bytes, body: bytes = b"") -> bytes:
    """A whole command frame: the name's length and the name, then the body."""
    payload = bytes((len(name),)) + name + body
    return frame_header(len(payload), COMMAND) + payload


def ready(socket_type: bytes, *extra: tuple[bytes, bytes]) -> bytes:
    """The READY command of a ``socket_type`` (``b"DEALER"``, ``b"ROUTER"``) with an empty identity, and the
    ``extra`` properties as ``(name, value)`` pairs."""
    properties = b"".join(
        bytes((len(name),)) + name + _VALUE_SIZE.pack(len(value)) + value
        for name, value in ((b"Socket-Type", socket_type), (b"Identity", b""), *extra)
    )
    return command(b"READY", properties)


def properties_of(body: memoryview) -> dict[bytes, bytes]:
    """The properties of a READY command's ``body``, by lower-cased name (ZMTP 3.1 metadata: a 1-byte name length,
    the name, a 4-byte big-endian value length, the value; names are case-insensitive).

    Raises:
        ZmtpProtocolError: the body does not parse.
    """
    found: dict[bytes, bytes] = {}
    at, end = 0, body.nbytes
    while at < end:
        size = body[at]
        if size == 0 or at + 1 + size + 4 > end:
            raise ZmtpProtocolError("a READY property is malformed")
        name = bytes(body[at + 1 : at + 1 + size]).lower()
        at += 1 + size
        (length,) = _VALUE_SIZE.unpack_from(body, at)
        at += 4
        if at + length > end:
            raise ZmtpProtocolError("a READY property's value runs past the command")
        found[name] = bytes(body[at : at + length])
        at += length
    return found


SILENT_INTERVALS = 3
"""Heartbeat intervals with nothing from the peer after which a connection counts as dead and is closed."""

SILENCE_PROPERTY = b"X-Silence-Timeout-Ms"
"""The READY property in which a node's listener says after how many milliseconds (ASCII digits) without traffic it
closes a connection: ``SILENT_INTERVALS`` heartbeat intervals. A peer that answers no PING between calls (the
blocking client) replaces its connection before then."""


PING = command(b"PING", bytes(2))
"""A PING with a TTL of 0 and no context."""


def pong(ping_body: memoryview) -> bytes:
    """The PONG answering a PING whose body (a 2-byte TTL, then up to 16 bytes of context) is ``ping_body``."""
    return command(b"PONG", bytes(ping_body[2:18]))


def error_command(reason: bytes) -> bytes:
    """An ERROR command giving ``reason`` (at most 255 bytes)."""
    return command(b"ERROR", bytes((len(reason),)) + reason)


def error_reason(body: memoryview) -> str:
    """The reason an ERROR command's ``body`` gives (``"no reason given"`` for none)."""
    text = bytes(body[1 : 1 + body[0]]) if body.nbytes else b""
    return text.decode(errors="replace") or "no reason given"


def is_zmtp3(greeting: bytes) -> bool:
    """Whether a 64-byte greeting is ZMTP 3.x's."""
    return greeting[0] == 0xFF and greeting[9] == 0x7F and greeting[10] >= 3


def mechanism_of(greeting: bytes) -> bytes:
    """The security mechanism a ZMTP 3 greeting names (``b"NULL"``, ``b"CURVE"``, ...)."""
    return greeting[12:32].rstrip(b"\0")


def message_parts(frames: Sequence[Any]) -> tuple[list[Any], int]:
    """What to write for one message of bytes-like ``frames``, headers and frames in turn (the frames not copied),
    and its size in bytes."""
    parts: list[Any] = []
    total = 0
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        size = len(frame) if type(frame) is bytes else memoryview(frame).nbytes
        header = frame_header(size, MORE if i < last else 0)
        parts += (header, frame)
        total += len(header) + size
    return parts, total


def frame_buffer(size: int) -> bytearray | mmap.mmap:
    """A zeroed, writable buffer of ``size`` bytes for one large frame to be read into.

    Up to 32 MiB it is a ``bytearray``, which the allocator serves from memory it reuses. Past that, glibc maps fresh
    pages for every allocation and the kernel faults them in one at a time (about 40 ms for 64 MiB on a virtual
    machine). So such a frame gets an anonymous mapping whose pages are populated in one call (``MAP_POPULATE``, on
    Linux), about 40% less.
    """
    if size < _MAPPED_FRAME or not _MAP_ANONYMOUS:
        return bytearray(size)
    return mmap.mmap(-1, size, flags=_MAP_FLAGS)


class FrameReader:
    """Reads one ZMTP 3 connection: the peer's greeting, then its messages and commands (see the module docstring).

    Args:
        max_frame_bytes: the largest frame accepted, in bytes (commands: at most 64 KiB).

    Attributes:
        greeting: the peer's 64-byte greeting once it came, else ``None``.
        error: what was malformed, once something was: the connection must close. Reading stops there; what came
            before it was returned.
    """

    __slots__ = ("greeting", "error", "_max_frame", "_max_command", "_buf", "_scratch", "_frames", "_big")

    def __init__(self, max_frame_bytes: int) -> None:
        self.greeting: bytes | None = None
        self.error: ZmtpProtocolError | None = None
        self._max_frame = max_frame_bytes
        self._max_command = min(max_frame_bytes, MAX_COMMAND_BYTES)
        self._buf = bytearray()
        self._scratch = memoryview(bytearray(_SCRATCH_BYTES))
        self._frames: list[Any] = []  # the frames of the message being read
        # a large frame being read: (payload, bytes read, flags)
        self._big: tuple[bytearray | mmap.mmap, int, int] | None = None

    def get_buffer(self) -> memoryview:
        """Where the next read goes (at most what completes a large frame being read)."""
        if self._big is not None:
            payload, have, _ = self._big
            return memoryview(payload)[have:]
        return self._scratch

    def buffer_updated(self, nbytes: int) -> list[Item]:
        """``nbytes`` were read into the last :meth:`get_buffer`; returns the messages and commands they completed,
        up to anything malformed (then :attr:`error` is set, and nothing more is read)."""
        items: list[Item] = []
        if self.error is not None:
            return items
        try:
            if self._big is None:
                self._buf += self._scratch[:nbytes]
                self._parse(items)
                return items
            payload, have, flags = self._big
            have += nbytes
            if have < len(payload):
                self._big = (payload, have, flags)
                return items
            self._big = None  # the read was bounded by the frame: nothing of the next is here yet
            self._frame(memoryview(payload), flags, items)
        except ZmtpProtocolError as exc:
            self.error = exc
        return items

    def _parse(self, items: list[Item]) -> None:
        buf = self._buf
        if self.greeting is None:
            if buf[0] != 0xFF:  # not ZMTP: no need to wait for a whole greeting
                raise ZmtpProtocolError("the peer does not speak ZMTP")
            if len(buf) < 64:
                return
            self.greeting = bytes(buf[:64])
            del buf[:64]
        while True:
            n = len(buf)
            if n < 2:
                return
            flags = buf[0]
            if flags & LONG:
                if n < 9:
                    return
                size, start = _LONG_SIZE.unpack_from(buf, 1)[0], 9
            else:
                size, start = buf[1], 2
            if flags & ~(MORE | LONG | COMMAND):
                raise ZmtpProtocolError(f"a frame with reserved flags {flags:#x}")
            if size > (self._max_command if flags & COMMAND else self._max_frame):
                raise ZmtpProtocolError(f"a frame of {size} bytes is over the limit", "oversized_frames")
            if n - start < size:
                if size >= _BIG_FRAME:  # read the rest straight into a buffer of its own
                    payload = frame_buffer(size)
                    payload[: n - start] = buf[start:]
                    buf.clear()
                    self._big = (payload, n - start, flags)
                return
            frame = bytes(buf[start : start + size])
            del buf[: start + size]
            self._frame(frame, flags, items)

    def _frame(self, payload: Any, flags: int, items: list[Item]) -> None:
        if flags & COMMAND:
            view = memoryview(payload)
            if not view.nbytes or view[0] + 1 > view.nbytes:
                raise ZmtpProtocolError("a command that does not parse")
            items.append((bytes(view[1 : 1 + view[0]]), view[1 + view[0] :]))
            return
        self._frames.append(payload)
        if not flags & MORE:
            items.append((None, self._frames))
            self._frames = []
