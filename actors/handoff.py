"""How a mailbox runs a handler inline and hands it to its worker: the records and the awaitable involved.

A worker that waits for work is an :class:`Idle`. A handler started inline that suspends becomes a
:class:`Handoff` given to that worker, which continues it by awaiting :class:`Resume` (see :mod:`zactor.mailbox`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any

from zactor.replies import ReplyTo

__all__ = ["Idle", "Handoff", "Resume"]


class Idle:
    """A worker waiting for work: its waiter future, its task and the context the task runs in."""

    __slots__ = ("waiter", "task", "context")

    def __init__(self, waiter: asyncio.Future[Any], task: asyncio.Task[None], context: contextvars.Context) -> None:
        self.waiter = waiter
        self.task = task
        self.context = context


class Handoff:
    """A handler started inline that suspended: its worker resumes it (``yielded``: what it awaits)."""

    __slots__ = ("msg", "reply_to", "coro", "yielded", "started")

    def __init__(
        self, msg: Any, reply_to: ReplyTo, coro: Coroutine[Any, Any, Any], yielded: Any, started: float
    ) -> None:
        self.msg = msg
        self.reply_to = reply_to
        self.coro = coro
        self.yielded = yielded
        self.started = started


class Resume:
    """Awaitable that continues a coroutine already run up to its first suspension: it first hands the task what
    the coroutine was awaiting (or throws ``pending`` into it), then relays every send and throw to it."""

    __slots__ = ("coro", "yielded", "pending")

    def __init__(self, handoff: Handoff, pending: BaseException | None) -> None:
        self.coro = handoff.coro
        self.yielded = handoff.yielded
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self.coro
        try:
            yielded = self.yielded if self.pending is None else coro.throw(self.pending)
            while True:
                try:
                    value = yield yielded
                except GeneratorExit:
                    coro.close()
                    raise
                except BaseException as exc:  # thrown in by the task (a cancel): the coroutine decides
                    yielded = coro.throw(exc)
                else:
                    yielded = coro.send(value)
        except StopIteration as stop:
            return stop.value
