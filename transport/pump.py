"""Pumps: a libzmq socket drained into a callback from the event loop, and its sends without blocking.

I/O design (why it is fast): sockets are plain (non-asyncio) pyzmq sockets in non-blocking mode. Each socket's
``zmq.FD`` is registered once with ``loop.add_reader``; on every wake-up the pump drains *every* ready envelope
(bounded per turn for fairness) and hands each to the callback synchronously: no task and no future per message.
A drain reads ``EVENTS`` before the first envelope and after it; only a burst is then received until ZeroMQ says
``EAGAIN`` (pyzmq raises ``zmq.Again`` for that, about 5 us, against about 2 us per ``EVENTS`` read, so one failure
per burst and none for a lone envelope). The end of a multipart message is read from each frame rather than from
``RCVMORE``.

Sends are tried at once with ``NOBLOCK``. An outbound request that meets the high-water mark waits, up to its
deadline, in its connection's first-in-first-out queue of blocked sends, which the pump serves whenever the socket may
have become writable (every wake-up of its FD, as pyzmq's ``zmq/_future.py`` serves blocked sends); while sends wait,
later ones queue behind them, so envelopes to one peer leave in the order they were sent. A reply never waits: it goes
to the peer's bounded outbox (:mod:`zactor.transport.outbox`), so a slow consumer costs only itself.

The ZeroMQ FD is edge-triggered and any operation on the socket (a send that succeeds or fails, an option read) may
consume its edge, so after such an operation the pump schedules one drain for the next
loop turn (one per turn however many envelopes were sent; none while it is draining, since the drain receives until
``EAGAIN`` anyway); otherwise the node would go deaf until a new connection woke the socket.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from typing import Any

import zmq

from zactor.transport.errors import TransportClosed

__all__ = ["Pump", "recv_envelope", "recv_rest", "send_envelope"]

# Plain ints: pyzmq's constants are enums, and combining enums costs more than the send itself.
_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE) | _NOBLOCK
_BATCH = 512
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
_EVENTS = int(zmq.EVENTS)
_getsockopt: Callable[[zmq.Socket[bytes], int], int] = zmq.Socket.getsockopt  # type: ignore[assignment]  # an int option


class Pump:
    """Drains one socket into a callback whenever its FD signals, and serves its blocked sends; see the module
    docstring.

    ``receive()`` takes one envelope (or monitor event) off the socket and returns True, or returns False when
    nothing is waiting (``EAGAIN``) or the socket is closing.
    """

    __slots__ = ("sock", "blocked", "_loop", "_fd", "_receive", "_scheduled", "_draining", "_closed")

    def __init__(self, sock: zmq.Socket[bytes], loop: asyncio.AbstractEventLoop, receive: Callable[[], bool]) -> None:
        self.sock = sock
        # sends waiting for the high-water mark, first in first out: (frames, copied frames, future or None)
        self.blocked: collections.deque[tuple[Sequence[Any], int, asyncio.Future[None] | None]] = collections.deque()
        self._loop = loop
        self._receive = receive
        self._scheduled = False
        self._draining = False
        self._closed = False
        self._fd: int = sock.getsockopt(zmq.FD)  # type: ignore[assignment]
        loop.add_reader(self._fd, self.drain)
        self.schedule()  # the FD only signals changes: what arrived before registering would wait forever

    def drain(self) -> None:
        self._scheduled = False
        if self._closed:
            return
        if self.blocked:
            self.flush()
        self._draining = True
        try:
            if self._receive_all():
                self.schedule()
                return
        finally:
            self._draining = False
        if self.blocked and not self._closed:
            # the receive may have taken the command that made the socket writable, and with it the FD's signal:
            # ask ZeroMQ, and come back while it can take more (or, since the query consumes signals too, has input)
            events = int(self.sock.get(zmq.EVENTS))
            if events & _POLLOUT or events & _POLLIN:
                self.schedule()

    def _receive_all(self) -> bool:
        """Receive what is waiting, up to ``_BATCH`` envelopes; True when the batch ran out first.

        A lone envelope, the common case of a call at a time, is bracketed by two ``EVENTS`` reads (the second says
        nothing more is waiting, which re-arms the FD) instead of ending with a receive that fails with ``EAGAIN``:
        pyzmq raises ``zmq.Again`` for it, which costs more than the two reads. A burst is received until that
        failure, one exception for the whole burst."""
        sock, receive = self.sock, self._receive
        if not _getsockopt(sock, _EVENTS) & _POLLIN or not receive() or self._closed:
            return False
        if not _getsockopt(sock, _EVENTS) & _POLLIN:
            return False
        for _ in range(_BATCH - 1):
            if not receive() or self._closed:  # nothing waiting: the failed receive re-armed the FD
                return False
        return True

    def schedule(self) -> None:
        if not self._scheduled and not self._closed:
            self._scheduled = True
            self._loop.call_soon(self.drain)

    def rearm(self) -> None:
        """Call after every operation on the socket: a drain runs by the next loop turn (see the module docstring)."""
        if not self._draining:
            self.schedule()

    def flush(self) -> None:
        """Send the blocked sends in order until the high-water mark stops them (one abandoned meanwhile, past its
        deadline or cancelled, is dropped unsent)."""
        blocked = self.blocked
        while blocked:
            frames, num_small, waiter = blocked[0]
            if waiter is not None and waiter.done():
                blocked.popleft()
                continue
            try:
                send_envelope(self.sock, frames, num_small)
            except zmq.Again:
                return
            except zmq.ZMQError as exc:
                self._fail_blocked(TransportClosed(f"sending failed: {exc.strerror}"))
                return
            blocked.popleft()
            if waiter is not None:
                waiter.set_result(None)

    def _fail_blocked(self, error: Exception) -> None:
        while self.blocked:
            waiter = self.blocked.popleft()[2]
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)

    def close(self, linger_ms: int) -> None:
        if self._closed:
            return
        self._closed = True
        self._fail_blocked(TransportClosed("transport is closed"))
        self._loop.remove_reader(self._fd)
        self.sock.close(linger=linger_ms)


def send_envelope(sock: zmq.Socket[bytes], frames: Sequence[Any], num_small: int) -> None:
    """Send one multipart message without blocking: the first ``num_small`` frames copied, the rest zero-copy.

    Raises:
        zmq.Again: the high-water mark is reached (nothing was sent).
    """
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        sock.send(frame, _NOBLOCK if i == last else _MORE_NOBLOCK, copy=i < num_small)


def recv_envelope(sock: zmq.Socket[bytes], num_small: int = 1, *, block: bool = False) -> list[Any]:
    """Receive one multipart message (or the rest of one whose routing identity was read): the first ``num_small``
    frames as bytes, the rest as zero-copy memoryviews over the received frames. Without ``block`` it never waits;
    with it, it waits up to the socket's ``RCVTIMEO``.

    Raises:
        zmq.Again: nothing is waiting, or nothing came within ``RCVTIMEO`` (ZMQError: the socket is closing).
    """
    return recv_rest(sock, sock.recv(0 if block else _NOBLOCK, copy=False), num_small)


def recv_rest(sock: zmq.Socket[bytes], frame: zmq.Frame, num_small: int = 1) -> list[Any]:
    """The frames of a multipart message whose first frame ``frame`` was received (see :func:`recv_envelope`)."""
    frames: list[Any] = [frame.bytes]
    while frame.more:
        frame = sock.recv(_NOBLOCK, copy=False)
        frames.append(frame.bytes if len(frames) < num_small else frame.buffer)
    return frames
