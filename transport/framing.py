"""The reading half of a ZMTP 3.x connection on the event loop, shared by the node's listener and its dialers.

A buffered protocol: the event loop reads into a scratch buffer, or, while a frame of 64 KiB or more is being read,
straight into that frame's own buffer (no copy in between). The greeting is checked through :meth:`ZmtpStream.greet`,
then each complete frame is parsed: commands go to :meth:`ZmtpStream.command`, messages (as lists of frames: ``bytes``,
or a ``memoryview`` for a large one) to :meth:`ZmtpStream.message`. A frame with reserved flags or over the size
limit, or a command that does not parse, is :meth:`ZmtpStream.malformed`. PINGs are answered here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from zactor.transport.zmtp import frame_header

__all__ = ["ZmtpStream", "MORE", "COMMAND", "is_zmtp3", "mechanism_of"]

MORE, LONG, COMMAND = 1, 2, 4
_BIG_FRAME = 64 * 1024
_SCRATCH_BYTES = 256 * 1024  # what one read takes at most, outside a large frame


class ZmtpStream(asyncio.BufferedProtocol):
    """One ZMTP connection's parsing; subclasses say what to send first and what each part means.

    Args:
        hello: what to write as the connection is made (the greeting and READY).
        max_frame_bytes: the largest frame accepted, in bytes.

    Attributes:
        transport: the connection's transport (set when it is made).
        last_read: when something last came, on the loop's clock (s).
        closed: the connection was closed by this side, or lost.
    """

    transport: asyncio.Transport

    def __init__(self, hello: bytes, max_frame_bytes: int) -> None:
        self.last_read = 0.0
        self.closed = False
        self._hello = hello
        self._max_frame = max_frame_bytes
        self._greeted = False
        self._buf = bytearray()
        self._scratch = memoryview(bytearray(_SCRATCH_BYTES))
        self._frames: list[Any] = []
        self._big: tuple[bytearray, int, int] | None = None  # a large frame being read: (payload, bytes read, flags)

    def greet(self, greeting: bytes) -> bool:
        """The peer's 64-byte greeting came: True to go on, False having refused it (and closed)."""
        raise NotImplementedError

    def command(self, name: bytes, body: memoryview) -> None:
        """A command other than PING came."""
        raise NotImplementedError

    def message(self, frames: list[Any]) -> None:
        """A whole message came."""
        raise NotImplementedError

    def malformed(self, counter: str) -> None:
        """A protocol error (``counter``: the statistic it counts in): the connection must close."""
        raise NotImplementedError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport
        self.last_read = asyncio.get_running_loop().time()
        self.transport.write(self._hello)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._big is not None:
            payload, have, _ = self._big
            return memoryview(payload)[have:]
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        self.last_read = asyncio.get_running_loop().time()
        if self._big is None:
            self._buf += self._scratch[:nbytes]
            self._parse()
            return
        payload, have, flags = self._big
        have += nbytes
        if have < len(payload):
            self._big = (payload, have, flags)
            return
        self._big = None  # the read was bounded by the frame: nothing of the next is here yet
        self._frame(memoryview(payload), flags)

    def _parse(self) -> None:
        buf = self._buf
        if not self._greeted:
            if buf[0] != 0xFF:  # not ZMTP: no need to wait for a whole greeting
                self.malformed("zmtp_protocol_errors")
                return
            if len(buf) < 64:
                return
            greeting = bytes(buf[:64])
            del buf[:64]
            if not self.greet(greeting):
                return
            self._greeted = True
        while not self.closed:
            n = len(buf)
            if n < 2:
                return
            flags = buf[0]
            if flags & LONG:
                if n < 9:
                    return
                size, start = int.from_bytes(buf[1:9], "big"), 9
            else:
                size, start = buf[1], 2
            if flags & ~(MORE | LONG | COMMAND) or size > self._max_frame:
                self.malformed("oversized_frames" if size > self._max_frame else "zmtp_protocol_errors")
                return
            if n - start < size:
                if size >= _BIG_FRAME:  # read the rest straight into a buffer of its own
                    payload = bytearray(size)
                    payload[: n - start] = buf[start:]
                    buf.clear()
                    self._big = (payload, n - start, flags)
                return
            frame = bytes(buf[start : start + size])
            del buf[: start + size]
            self._frame(frame, flags)

    def _frame(self, payload: Any, flags: int) -> None:
        if flags & COMMAND:
            view = memoryview(payload)
            if not view.nbytes or view[0] + 1 > view.nbytes:
                self.malformed("zmtp_protocol_errors")
                return
            name, body = bytes(view[1 : 1 + view[0]]), view[1 + view[0] :]
            if name == b"PING":  # a 2-byte TTL, then up to 16 bytes of context, echoed in the PONG
                context = bytes(body[2:18])
                self.transport.write(frame_header(5 + len(context), COMMAND) + b"\x04PONG" + context)
            else:
                self.command(name, body)
            return
        self._frames.append(payload)
        if not flags & MORE:
            frames, self._frames = self._frames, []
            self.message(frames)


def is_zmtp3(greeting: bytes) -> bool:
    """Whether a 64-byte greeting is ZMTP 3.x's."""
    return greeting[0] == 0xFF and greeting[9] == 0x7F and greeting[10] >= 3


def mechanism_of(greeting: bytes) -> bytes:
    """The security mechanism a ZMTP 3 greeting names (``b"NULL"``, ``b"CURVE"``, ...)."""
    return greeting[12:32].rstrip(b"\0")
