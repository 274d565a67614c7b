"""Helpers shared by the tests: waiting on conditions with deadlines, never sleeping as synchronisation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(condition: Callable[[], object], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.002)
