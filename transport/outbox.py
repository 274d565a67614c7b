"""Replies to inbound peers that never wait on the peer: one bounded outbox per peer behind the ROUTER.

A reply is sent at once when the peer's connection has room. When it has none (the high-water mark is reached: the
peer reads slower than it asks) or the peer's byte budget is spent, the reply waits in that peer's outbox, in order,
and a flusher retries with back-off until the reply's deadline, then drops it (counted). The actor that produced the
reply has moved on long before: a slow peer costs only itself.

Memory per peer is bounded in bytes by ``max_unread_bytes``: the bytes waiting in the outbox plus the bytes of large
replies (at least ``track_threshold_bytes``) that ZeroMQ still holds, known through pyzmq's ``MessageTracker`` of
their zero-copy frames (a waiting reply is charged 256 bytes more for the objects that hold it). A reply that does not
fit is dropped at once and counted (``reply_budget_drops``); one reply
larger than the whole budget still goes when nothing else of that peer is pending. Smaller replies inside ZeroMQ are
bounded by the high-water mark (messages).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Sequence
from typing import Any

import zmq

from zactor.transport.ratelog import RateLimitedLogger

__all__ = ["Outbox", "SendResult"]

log = logging.getLogger("zactor.transport")

_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE) | _NOBLOCK
_SMALL_FRAMES = 2  # identity and head: copied; buffers after them travel zero-copy
_WAITING_OVERHEAD_BYTES = 256  # what a waiting reply costs beyond its frames (the Python objects holding them)

SendResult = bool | None
"""True: sent; False: the peer is gone; None: no room now (try again later)."""


class _Waiting:
    __slots__ = ("frames", "nbytes", "deadline")

    def __init__(self, frames: Sequence[Any], nbytes: int, deadline: float) -> None:
        self.frames = frames
        self.nbytes = nbytes
        self.deadline = deadline


class _PeerOut:
    __slots__ = ("waiting", "waiting_bytes", "tracked", "tracked_bytes")

    def __init__(self) -> None:
        self.waiting: collections.deque[_Waiting] = collections.deque()
        self.waiting_bytes = 0
        self.tracked: list[tuple[zmq.MessageTracker, int]] = []
        self.tracked_bytes = 0

    def prune(self) -> None:
        if self.tracked:
            kept = [(t, n) for t, n in self.tracked if not t.done]
            self.tracked = kept
            self.tracked_bytes = sum(n for _, n in kept)

    @property
    def is_idle(self) -> bool:
        return not self.waiting and not self.tracked


class Outbox:
    """The per-peer reply queues of one ROUTER socket.

    Args:
        sock: the ROUTER socket (``ROUTER_MANDATORY`` set).
        loop: the event loop the flusher runs on.
        rearm: called after every operation on the socket (its FD is edge-triggered).
        stats: the transport's counters (``send_waits``, ``send_timeouts``, ``dropped_unroutable``,
            ``reply_budget_drops``).
        max_unread_bytes: the byte budget of one peer, in bytes.
        track_threshold_bytes: replies at least this large are tracked inside ZeroMQ, in bytes.
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        loop: asyncio.AbstractEventLoop,
        rearm: Callable[[], None],
        stats: collections.Counter[str],
        max_unread_bytes: int,
        track_threshold_bytes: int,
    ) -> None:
        self._sock = sock
        self._loop = loop
        self._rearm = rearm
        self._stats = stats
        self._max_bytes = max_unread_bytes
        self._track_bytes = track_threshold_bytes
        self._peers: dict[bytes, _PeerOut] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._log = RateLimitedLogger(log)

    def reply(self, peer: bytes, frames: Sequence[Any], nbytes: int, timeout_s: float) -> bool:
        """Send ``[peer, head, *buffers]`` now, or queue it for up to ``timeout_s`` seconds.

        Returns:
            True when sent or queued; False when the peer is gone or its budget is spent (dropped, counted).

        Raises:
            zmq.ZMQError: the socket failed for another reason than a full or vanished peer.
        """
        out = self._peers.get(peer)
        if out is None or not out.waiting:
            result = self._try(peer, out, frames, nbytes)
            if result is False:
                self._peer_gone(peer, 1)
            if result is not None:
                return result
            out = self._peers.setdefault(peer, _PeerOut())
        out.prune()
        cost = nbytes + _WAITING_OVERHEAD_BYTES
        if out.waiting_bytes + out.tracked_bytes + cost > self._max_bytes and not out.is_idle:
            self._stats["reply_budget_drops"] += 1
            log.debug("dropped a reply of %d bytes to peer %s: its unread replies fill its budget", nbytes, peer.hex())
            return False
        out.waiting.append(_Waiting(frames, nbytes, self._loop.time() + timeout_s))
        out.waiting_bytes += cost
        self._stats["send_waits"] += 1
        self._ensure_flusher()
        return True

    def has_room(self, peer: bytes, nbytes: int) -> bool:
        """Whether a reply of ``nbytes`` bytes to ``peer`` fits its budget now (see :meth:`reply`)."""
        out = self._peers.get(peer)
        if out is None:
            return True
        out.prune()
        return (
            out.is_idle or out.waiting_bytes + out.tracked_bytes + nbytes + _WAITING_OVERHEAD_BYTES <= self._max_bytes
        )

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = self._loop.create_task(self._flush())

    def _try(self, peer: bytes, out: _PeerOut | None, frames: Sequence[Any], nbytes: int) -> SendResult:
        """One non-blocking attempt; tracks large replies against the peer's budget (the caller handles a peer
        that is gone)."""
        track = nbytes >= self._track_bytes
        if track and out is not None:
            out.prune()
            if out.tracked_bytes and out.tracked_bytes + nbytes > self._max_bytes:
                return None
        try:
            trackers = _send(self._sock, frames, track)
        except zmq.Again:
            return None
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            return False
        finally:
            self._rearm()
        if trackers:
            out = self._peers.setdefault(peer, _PeerOut())
            out.tracked.append((zmq.MessageTracker(*trackers), nbytes))
            out.tracked_bytes += nbytes
            self._ensure_flusher()
        return True

    def _peer_gone(self, peer: bytes, not_queued: int) -> None:
        """Drop the peer's outbox: ``not_queued`` replies in hand plus every waiting one are lost."""
        out = self._peers.pop(peer, None)
        lost = not_queued + (len(out.waiting) if out is not None else 0)
        self._stats["dropped_unroutable"] += lost
        self._log.warning("dropped %d reply(s) to peer %s: it is gone", lost, peer.hex())

    async def _flush(self) -> None:
        """Retry waiting replies with back-off; then keep pruning tracked ones (their frames hold the reply's
        buffers) every 50 ms until every peer is idle."""
        delay_s = 0.0005
        while self._peers:
            now = self._loop.time()
            progressed = False
            for peer, out in list(self._peers.items()):
                progressed |= self._flush_peer(peer, out, now)
            self._forget_idle()
            if any(out.waiting for out in self._peers.values()):
                delay_s = 0.0005 if progressed else min(delay_s * 2, 0.02)
            else:
                delay_s = 0.05
            await asyncio.sleep(delay_s)

    def _flush_peer(self, peer: bytes, out: _PeerOut, now: float) -> bool:
        progressed = False
        while out.waiting:
            head = out.waiting[0]
            if head.deadline <= now:
                out.waiting.popleft()
                out.waiting_bytes -= head.nbytes + _WAITING_OVERHEAD_BYTES
                self._stats["send_timeouts"] += 1
                log.debug("dropped a reply to peer %s: no room before its deadline", peer.hex())
                continue
            result = self._try(peer, out, head.frames, head.nbytes)
            if result is None:
                break
            if result is False:
                self._peer_gone(peer, 0)
                return progressed
            out.waiting.popleft()
            out.waiting_bytes -= head.nbytes + _WAITING_OVERHEAD_BYTES
            progressed = True
        return progressed

    def _forget_idle(self) -> None:
        for peer, out in list(self._peers.items()):
            out.prune()
            if out.is_idle:
                del self._peers[peer]

    def close(self) -> None:
        """Drop every queued reply and stop the flusher."""
        if self._flusher is not None:
            self._flusher.cancel()
        self._peers.clear()


def _send(sock: zmq.Socket[bytes], frames: Sequence[Any], track: bool) -> list[zmq.MessageTracker]:
    """Send one multipart message without blocking: the first two frames copied, the rest zero-copy (tracked when
    ``track``). Returns the trackers.

    Raises:
        zmq.Again: no room (nothing was sent).
        zmq.ZMQError: EHOSTUNREACH when the peer is gone, or another failure.
    """
    last = len(frames) - 1
    trackers = []
    for i, frame in enumerate(frames):
        flags = _NOBLOCK if i == last else _MORE_NOBLOCK
        if i < _SMALL_FRAMES:
            sock.send(frame, flags, copy=True)
        elif track:
            trackers.append(sock.send(frame, flags, copy=False, track=True))
        else:
            sock.send(frame, flags, copy=False)
    return trackers
