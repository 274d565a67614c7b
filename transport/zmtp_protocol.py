"""A ZMTP 3.x connection on the event loop, the common half of the node's listener and dialers: an
``asyncio.BufferedProtocol`` that reads through :class:`~zactor.transport.framing.FrameReader` (a large frame straight
into its own buffer), answers PINGs, and hands the greeting, commands and messages to its subclass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from zactor.transport.framing import PING, SILENT_INTERVALS, FrameReader, Item, pong

__all__ = ["ZmtpStream"]


class ZmtpStream(asyncio.BufferedProtocol):
    """One ZMTP connection's reading; subclasses say what to send first and what each part means.

    Args:
        hello: what to write as the connection is made (the greeting and READY).
        max_frame_bytes: the largest frame accepted, in bytes.

    Attributes:
        transport: the connection's transport (set when it is made).
        deliver: what each whole message is handed to: :meth:`message` until a subclass puts a faster callable.
        last_read: when something last came, on the loop's clock (s).
        greeted: the peer's greeting came.
        closed: the connection was closed by this side, or lost.
    """

    transport: asyncio.Transport

    def __init__(self, hello: bytes, max_frame_bytes: int) -> None:
        self.last_read = 0.0
        self.greeted = False
        self.closed = False
        self._hello = hello
        self._reader = FrameReader(max_frame_bytes)
        self.deliver: Callable[[list[Any]], None] = self.message

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
        self._now = asyncio.get_running_loop().time
        self.last_read = self._now()
        self.transport.write(self._hello)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._reader.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.last_read = self._now()
        items = self._reader.buffer_updated(nbytes)
        self._handle(items)
        error = self._reader.error
        if error is not None and not self.closed:
            self.malformed(error.counter)

    def beat(self, interval_s: float) -> bool:
        """One tick of the ZMTP heartbeat every ``interval_s`` seconds: a connection from which nothing came for three
        intervals is closed (False), any other gets a PING (True)."""
        if self.last_read < self._now() - SILENT_INTERVALS * interval_s:
            self.transport.abort()
            return False
        self.transport.write(PING)
        return True

    def _handle(self, items: list[Item]) -> None:
        if not self.greeted:
            greeting = self._reader.greeting
            if greeting is None:
                return
            self.greeted = True
            if not self.greet(greeting):
                return
        for name, value in items:
            if self.closed:
                return
            if name is None:
                self.deliver(value)
            elif name == b"PING":
                self.transport.write(pong(value))
            else:
                self.command(name, value)
