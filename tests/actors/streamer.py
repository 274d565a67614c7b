"""A streaming actor for the stream fault tests, hosted by node processes (``streamer:Streamer``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from zactor import Actor, Context, Returns, Streams, handler, message


@message("test.streamer.Numbers")
class Numbers(Streams["Number"]):
    n: int
    pause_s: float = 0.0


@message("test.streamer.Number")
class Number:
    i: int


@message("test.streamer.Blobs")
class Blobs(Streams["Blob"]):
    n: int
    size: int


@message("test.streamer.Blob")
class Blob:
    data: bytes


@message("test.streamer.GetStats")
class GetStats(Returns["Stats"]):
    pass


@message("test.streamer.Stats")
class Stats:
    produced: int
    closed: int
    running: int


class Streamer(Actor):
    """Streams numbers and blobs, several streams at once, and counts what it produced and how many streams ended."""

    max_concurrency = 8

    def __init__(self) -> None:
        self.produced = self.closed = self.running = 0

    @handler
    async def numbers(self, msg: Numbers, ctx: Context) -> AsyncIterator[Number]:
        self.running += 1
        try:
            for i in range(msg.n):
                if msg.pause_s:
                    await asyncio.sleep(msg.pause_s)
                self.produced += 1
                yield Number(i=i)
        finally:
            self.running -= 1
            self.closed += 1

    @handler
    async def blobs(self, msg: Blobs, ctx: Context) -> AsyncIterator[Blob]:
        self.running += 1
        try:
            for _ in range(msg.n):
                self.produced += 1
                yield Blob(data=bytes(msg.size))  # a fresh buffer each: what a real producer would hold
        finally:
            self.running -= 1
            self.closed += 1

    @handler
    async def stats(self, msg: GetStats, ctx: Context) -> Stats:
        return Stats(produced=self.produced, closed=self.closed, running=self.running)
