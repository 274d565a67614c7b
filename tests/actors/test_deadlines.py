"""Deadlines: many asks share one loop timer; finished requests never expire and are compacted away."""

from __future__ import annotations

import asyncio

from zactor.deadlines import Deadlines
from zactor.testing import wait_until


async def test_live_keys_expire_in_deadline_order_and_finished_ones_never() -> None:
    """Each live key expires once, earliest first; a key removed from the live map is skipped."""
    live = {1: "a", 2: "b", 3: "c"}
    expired: list[int] = []
    deadlines = Deadlines(asyncio.get_running_loop(), live, expired.append)
    deadlines.add(0.06, 1)
    deadlines.add(0.02, 2)
    deadlines.add(0.04, 3)
    del live[3]
    await wait_until(lambda: len(expired) == 2, timeout_s=2.0)
    assert expired == [2, 1]
    deadlines.close()


async def test_finished_entries_are_compacted() -> None:
    """When finished entries outnumber live ones, the heap is rebuilt with only the live ones."""
    live: dict[int, None] = {}
    deadlines = Deadlines(asyncio.get_running_loop(), live, lambda key: None)
    for key in range(5000):
        live[key] = None
        deadlines.add(60.0, key)
        if key > 10:
            del live[key - 10]
    assert len(deadlines._heap) < 2100
    deadlines.close()
