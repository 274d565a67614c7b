"""Cancellation reaches the handler: an ask that times out or whose caller is cancelled is dropped from the mailbox
if queued and cancelled if running, locally and over both transports; nothing waits behind abandoned work."""

from __future__ import annotations

import asyncio

import pytest
from conftest import NodePair

from zactor import Actor, Context, handler, message
from zactor.errors import RequestTimeout
from zactor.testing import wait_until


@message("test.cancel.Slow")
class Slow:
    tag: int
    seconds: float = 30.0


@message("test.cancel.Done")
class Done:
    tag: int


class Worker(Actor):
    def __init__(self) -> None:
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self.finished: list[int] = []

    @handler
    async def slow(self, msg: Slow, ctx: Context) -> Done:
        self.started.append(msg.tag)
        try:
            await asyncio.sleep(msg.seconds)
        except asyncio.CancelledError:
            self.cancelled.append(msg.tag)
            raise
        self.finished.append(msg.tag)
        return Done(tag=msg.tag)


@pytest.mark.parametrize("remote", [True, False], ids=["remote", "local"])
async def test_a_timed_out_ask_cancels_its_handler_and_drops_queued_ones(node_pair: NodePair, remote: bool) -> None:
    """A running 30 s ask and two queued behind it time out: the queued ones are never started, the running one is
    cancelled, and the next ask is served at once."""
    async with node_pair() as (server, client):
        worker = Worker()
        await server.add_actor("w", worker)
        ref = client.ref("w", address=server.address) if remote else server.ref("w")
        running = asyncio.ensure_future(ref.ask(Slow(tag=0), timeout_s=1.5))
        await wait_until(lambda: worker.started == [0], what="the first handler to start")
        queued = [asyncio.ensure_future(ref.ask(Slow(tag=i), timeout_s=0.2)) for i in (1, 2)]
        for outcome in await asyncio.gather(running, *queued, return_exceptions=True):
            assert isinstance(outcome, RequestTimeout)
        await wait_until(lambda: worker.cancelled == [0], what="the running handler to be cancelled")
        assert await ref.ask(Slow(tag=9, seconds=0), timeout_s=5.0) == Done(tag=9)
        assert worker.started == [0, 9] and worker.finished == [9]
        if remote:
            await wait_until(lambda: server.stats["cancelled"] == 3, what="three cancels on the server")


async def test_cancelling_the_callers_task_cancels_the_remote_handler(node_pair: NodePair) -> None:
    """asyncio cancellation of the awaiting task sends CANCEL: the handler stops, the actor serves the next ask."""
    async with node_pair() as (server, client):
        worker = Worker()
        await server.add_actor("w", worker)
        ref = client.ref("w", address=server.address)
        pending = asyncio.ensure_future(ref.ask(Slow(tag=1), timeout_s=60.0))
        await wait_until(lambda: worker.started == [1], what="the handler to start")
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        await wait_until(lambda: worker.cancelled == [1], what="the handler to be cancelled")
        assert await ref.ask(Slow(tag=2, seconds=0), timeout_s=5.0) == Done(tag=2)
