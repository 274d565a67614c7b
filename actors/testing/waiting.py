"""Waiting on a condition with a deadline on the loop's clock: synchronisation for tests, never a bare sleep."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable

__all__ = ["wait_until"]


async def wait_until(
    condition: Callable[[], object], timeout_s: float = 5.0, what: str = "condition", poll_s: float = 0.002
) -> None:
    """Poll ``condition`` (a function returning a value, or an awaitable of one) every ``poll_s`` seconds until it
    is true. Both durations are on the running loop's clock, so under a :class:`~zactor.testing.FakeClock` they are
    virtual seconds.

    Raises:
        AssertionError: still false after ``timeout_s`` seconds (the message names ``what``).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await _truth(condition()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(poll_s)


async def _truth(value: object) -> object:
    return await value if inspect.isawaitable(value) else value
