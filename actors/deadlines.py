"""Many deadlines behind one event-loop timer.

Each ask has a deadline. Scheduling a loop timer per ask costs a ``TimerHandle`` and Python-level heap compares;
here deadlines are ``(when, key)`` tuples in one heap (compared in C) with a single loop timer armed for the
earliest. Entries whose request finished are not removed at once: they are skipped when they come due, and the heap
is rebuilt when such entries outnumber the live ones.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Deadlines"]

_COMPACT_MIN = 1024


class Deadlines:
    """A heap of deadlines that calls ``on_expire(key)`` once each passes (if ``key`` is still live).

    Args:
        loop: the event loop whose clock (``loop.time()``, seconds) the deadlines use.
        live: the mapping whose keys are the requests still waiting; others are skipped and compacted away.
        on_expire: called with the key of each live request whose deadline passed.

    Attributes:
        loop: that event loop (the asks' futures are made on it, with no look-up of the running loop per ask).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, live: Mapping[int, Any], on_expire: Callable[[int], None]):
        self.loop = loop
        self._live = live
        self._on_expire = on_expire
        self._heap: list[tuple[float, int]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0

    def add(self, timeout_s: float, key: int) -> None:
        """Expire ``key`` ``timeout_s`` seconds from now."""
        when = self.loop.time() + timeout_s
        heap = self._heap
        if len(heap) > _COMPACT_MIN and len(heap) > 2 * len(self._live):
            live = self._live
            heap[:] = [entry for entry in heap if entry[1] in live]
            heapq.heapify(heap)
        heapq.heappush(heap, (when, key))
        if self._timer is None or when < self._timer_when:
            self._arm(when)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_when = when
        self._timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        heap = self._heap
        now = self.loop.time()
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            if key in self._live:
                self._on_expire(key)
        if heap:
            self._arm(heap[0][0])

    def close(self) -> None:
        """Cancel the timer and forget every deadline."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
