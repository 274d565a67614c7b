"""Helpers shared by the tests: waiting on conditions with deadlines, never sleeping as synchronisation."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable


async def wait_until(condition: Callable[[], object], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``condition`` (a function returning a value or an awaitable of one) until it is true; fail the test
    after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not await _truth(condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.002)


async def _truth(value: object) -> object:
    return await value if inspect.isawaitable(value) else value
