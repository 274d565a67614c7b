"""Where a node's services read time: a monotonic clock for intervals and timeouts, and a wall clock for stamps.

The runtime's own deadlines, ``asyncio.sleep`` and ``asyncio.timeout`` follow the event loop's ``time()``. A service
that measures an interval (the phi-accrual detector, a cache's age) reads :meth:`TimeSource.monotonic_s`, and one that
needs physical time (the HLC, a member's generation) reads :meth:`TimeSource.wall_ms`. Tests swap both for virtual
time with :class:`zactor.testing.FakeClock`, which also drives the event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["SystemTime", "TimeSource"]


class TimeSource(Protocol):
    """The two clocks a service reads."""

    def monotonic_s(self) -> float:
        """Seconds on a clock that never goes back, consistent with the running event loop's ``time()``."""
        ...

    def wall_ms(self) -> int:
        """Physical time: milliseconds since the Unix epoch."""
        ...


class SystemTime:
    """The real clocks: the running event loop's ``time()`` (``time.monotonic`` outside a loop) and
    ``time.time_ns()``."""

    def monotonic_s(self) -> float:
        """The running loop's ``time()`` in seconds, or ``time.monotonic()`` when no loop runs in this thread."""
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch, from ``time.time_ns()``."""
        return time.time_ns() // 1_000_000
