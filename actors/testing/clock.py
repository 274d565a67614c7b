"""Virtual time for asyncio: a fake clock that drives the event loop, after trio's ``MockClock``.

A loop made by :meth:`FakeClock.new_event_loop` reads :meth:`FakeClock.monotonic_s` as its ``time()``, so
``asyncio.sleep``, ``asyncio.timeout``, ``call_later`` and every zactor deadline run on virtual time. Its selector
*auto-jumps*: when nothing is ready and no socket or thread has anything for the loop within
``autojump_threshold_s`` of real time, the clock jumps straight to the next timer. A test of gossip rounds, failure
detection or anti-entropy over the in-memory transport then takes milliseconds of real time, and runs the same way
every time.

Virtual time stands still while a thread started with ``loop.run_in_executor`` (or ``asyncio.to_thread``) works for
the loop, so a slow disk never looks like a timeout. Over real sockets, give ``autojump_threshold_s`` a few
milliseconds so that replies in flight arrive before the clock jumps.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar, TypeVarTuple

__all__ = ["FakeClock"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: 2026-01-01T00:00:00Z, the default wall time at virtual time zero, in milliseconds since the Unix epoch.
DEFAULT_WALL_START_MS = 1_767_225_600_000


class FakeClock:
    """A virtual clock: monotonic seconds for the event loop and the services, and a wall clock that follows it.

    Pass it as a node's ``time_source`` and run the test in :meth:`run` (or a loop from :meth:`new_event_loop`)::

        clock = FakeClock()

        async def main() -> None:
            async with Node(NodeConfig(bind="mem://a:0"), transport=network.transport(), time_source=clock) as node:
                await asyncio.sleep(3600)      # returns at once: virtual time jumps an hour

        clock.run(main())

    Args:
        start_s: the monotonic time at the start, in seconds.
        wall_start_ms: the wall time at monotonic time ``start_s``, in milliseconds since the Unix epoch.
        autojump_threshold_s: how long, in real seconds, the loop waits for sockets before jumping to the next
            timer (0: jump as soon as nothing is ready, right for the in-memory transport).

    Raises:
        ValueError: ``autojump_threshold_s`` is negative.

    Attributes:
        jumps: how many times the clock jumped to a timer.
    """

    def __init__(
        self, *, start_s: float = 0.0, wall_start_ms: int = DEFAULT_WALL_START_MS, autojump_threshold_s: float = 0.0
    ) -> None:
        if autojump_threshold_s < 0:
            raise ValueError(f"autojump_threshold_s must be 0 or more, got {autojump_threshold_s}")
        self._now_s = start_s
        self._wall_offset_ms = wall_start_ms - start_s * 1000
        self.autojump_threshold_s = autojump_threshold_s
        self.jumps = 0

    def monotonic_s(self) -> float:
        """The virtual monotonic time, in seconds."""
        return self._now_s

    def wall_ms(self) -> int:
        """The virtual wall time, in milliseconds since the Unix epoch: ``wall_start_ms`` plus the elapsed time."""
        return int(self._wall_offset_ms + self._now_s * 1000)

    def jump(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds``; timers that fall due run on the loop's next iteration.

        Raises:
            ValueError: ``seconds`` is negative (a monotonic clock never goes back).
        """
        if seconds < 0:
            raise ValueError(f"time cannot go back: jump({seconds})")
        self._now_s += seconds

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """A selector event loop on this clock (the ``loop_factory`` of ``asyncio.Runner``)."""
        return _VirtualTimeLoop(self)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion in a new loop on this clock, as ``asyncio.run`` does, and return its result."""
        with asyncio.Runner(loop_factory=self.new_event_loop) as runner:
            return runner.run(main)


class _VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` is the fake clock and whose selector auto-jumps."""

    def __init__(self, clock: FakeClock) -> None:
        self._fake_clock = clock
        self.busy_threads = 0
        super().__init__(selector=_AutojumpSelector(clock, self))

    def time(self) -> float:
        return self._fake_clock.monotonic_s()

    def run_in_executor(self, executor: Executor | None, func: Callable[[*Ts], T], *args: *Ts) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        self.busy_threads += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _future: asyncio.Future[Any]) -> None:
        self.busy_threads -= 1


class _AutojumpSelector(selectors.BaseSelector):
    """The default selector, except that a wait for a timer jumps the fake clock instead of sleeping."""

    def __init__(self, clock: FakeClock, loop: _VirtualTimeLoop) -> None:
        self._inner = selectors.DefaultSelector()
        self._clock = clock
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0 or self._loop.busy_threads:
            return self._inner.select(timeout)
        events = self._inner.select(self._clock.autojump_threshold_s)
        if events:
            return events
        if timeout is None:
            return self._inner.select(None)
        self._clock.jump(timeout)
        self._clock.jumps += 1
        return []
