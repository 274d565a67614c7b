"""Actors and messages shared by the actor tests."""

from __future__ import annotations

import asyncio

from zactor import Actor, Context, Returns, handler, message


@message("test.Add")
class Add(Returns["Sum"]):
    a: int
    b: int


@message("test.Sum")
class Sum:
    value: int


@message("test.Fail")
class Fail:
    text: str


@message("test.Sleep")
class Sleep(Returns["Record"]):
    seconds: float
    tag: int = 0


@message("test.Record")
class Record:
    tag: int


@message("test.Unhandled")
class Unhandled:
    pass


@message("test.Blob")
class Blob:
    data: bytes


class Calculator(Actor):
    """Adds, fails on demand, sleeps on demand, and records the order it saw tags in."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.events: list[str] = []
        self.running = 0
        self.max_running = 0

    async def on_start(self, ctx: Context) -> None:
        self.events.append("start")

    async def on_stop(self, ctx: Context) -> None:
        self.events.append("stop")

    @handler
    async def add(self, msg: Add, ctx: Context) -> Sum:
        return Sum(value=msg.a + msg.b)

    @handler
    async def fail(self, msg: Fail, ctx: Context) -> None:
        raise ValueError(msg.text)

    @handler
    async def sleep(self, msg: Sleep, ctx: Context) -> Record:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(msg.seconds)
        finally:
            self.running -= 1
        self.seen.append(msg.tag)
        return Record(tag=msg.tag)

    @handler
    async def record(self, msg: Record, ctx: Context) -> None:
        self.seen.append(msg.tag)

    @handler
    async def blob(self, msg: Blob, ctx: Context) -> Blob:
        return msg
