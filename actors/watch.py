"""``Watch``: an async iterator of events from a service, queued from its creation until it is closed."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

__all__ = ["Watch"]

T = TypeVar("T")


class Watch(Generic[T]):
    """Events of type ``T`` published to ``watchers`` (each watcher a queue) from this watch's creation on.

    Args:
        watchers: the publisher's list of queues; this watch adds its own and removes it on :meth:`close`.
    """

    def __init__(self, watchers: list[asyncio.Queue[T]]) -> None:
        self._watchers = watchers
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        watchers.append(self._queue)

    def __aiter__(self) -> Watch[T]:
        return self

    async def __anext__(self) -> T:
        return await self._queue.get()

    def take(self) -> list[T]:
        """The events queued so far, without waiting (an empty list when there are none)."""
        events = []
        while not self._queue.empty():
            events.append(self._queue.get_nowait())
        return events

    def close(self) -> None:
        """Stop receiving events."""
        if self._queue in self._watchers:
            self._watchers.remove(self._queue)
