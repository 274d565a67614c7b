"""Messages from the transport start at once when their actor is idle (Python 3.12 and newer): the handler starts
inside the receive callback, in an eager task with its worker's name and context, and a handler that suspends
finishes there with order kept. On 3.11 the worker takes them on the next loop turn, with the same guarantees."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from conftest import NodePair

from zactor import Actor, Context, Node, handler, message
from zactor.mailbox import Mailbox


@message("test.inline.Step")
class Step:
    tag: int
    sleep_s: float = 0.0


@message("test.inline.Probe")
class Probe:
    pass


@message("test.inline.Seen")
class Seen:
    task_name: str
    var: str


REQUEST_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("request_var", default="unset")


class Recorder(Actor):
    def __init__(self) -> None:
        self.events: list[str] = []

    @handler
    async def step(self, msg: Step, ctx: Context) -> Seen:
        self.events.append(f"start {msg.tag}")
        if msg.sleep_s:
            await asyncio.sleep(msg.sleep_s)
        self.events.append(f"end {msg.tag}")
        return Seen(task_name="", var="")

    @handler
    async def probe(self, msg: Probe, ctx: Context) -> Seen:
        seen = REQUEST_VAR.get()
        REQUEST_VAR.set("set by a handler")
        async with asyncio.timeout(5):  # needs a current task, even before the first suspension
            task = asyncio.current_task()
        return Seen(task_name=task.get_name() if task else "", var=seen)


@asynccontextmanager
async def idle_recorder() -> AsyncIterator[tuple[Recorder, Mailbox]]:
    """A node hosting a :class:`Recorder` whose worker has gone idle, and that actor's mailbox."""
    async with Node() as node:
        recorder = Recorder()
        await node.add_actor("rec", recorder)
        mailbox = node.registry.get("rec")
        assert mailbox is not None
        await asyncio.sleep(0)  # let the worker go idle
        yield recorder, mailbox


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks came in Python 3.12")
async def test_an_idle_actor_runs_a_message_from_a_callback_before_put_returns() -> None:
    async with idle_recorder() as (recorder, mailbox):
        after_put: list[list[str]] = []

        def deliver() -> None:  # a callback outside any task, as the transport's receive is
            mailbox.put(Step(tag=1), None, inline=True)
            after_put.append(list(recorder.events))

        asyncio.get_running_loop().call_soon(deliver)
        await asyncio.sleep(0.01)
        assert after_put == [["start 1", "end 1"]]


async def test_inside_a_task_an_inline_put_is_queued_for_the_worker() -> None:
    """Only a callback outside any task starts a handler at once; from a task the message goes to the worker."""
    async with idle_recorder() as (recorder, mailbox):
        mailbox.put(Step(tag=1), None, inline=True)
        assert recorder.events == []
        await asyncio.sleep(0.01)
        assert recorder.events == ["start 1", "end 1"]


async def test_a_handler_that_suspends_is_resumed_by_its_worker_in_order(node_pair: NodePair) -> None:
    """Tells arriving while an inline handler sleeps queue behind it: one at a time, in arrival order."""
    async with node_pair() as (server, client):
        recorder = Recorder()
        await server.add_actor("rec", recorder)
        ref = client.ref("rec", address=server.address)
        await ref.tell(Step(tag=0, sleep_s=0.05))
        for tag in range(1, 4):
            await ref.tell(Step(tag=tag, sleep_s=0.01 if tag == 2 else 0.0))
        await ref.ask(Step(tag=4))
        expected = [f"{what} {tag}" for tag in range(5) for what in ("start", "end")]
        assert recorder.events == expected


async def test_handlers_run_in_their_worker_task_and_context(node_pair: NodePair) -> None:
    """``current_task()`` is the actor's worker, ``asyncio.timeout`` works before any suspension, and a context
    variable a handler sets stays in its actor's worker, never in another actor's."""
    async with node_pair() as (server, client):
        await server.add_actor("a", Recorder())
        await server.add_actor("b", Recorder())
        a, b = client.ref("a", address=server.address), client.ref("b", address=server.address)
        first = await a.ask(Probe())
        assert first.task_name.startswith("zactor-actor-a-") and first.var == "unset"
        assert (await b.ask(Probe())).var == "unset"
        assert (await a.ask(Probe())).var == "set by a handler"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks came in Python 3.12")
async def test_closing_cancels_a_handler_started_at_once_that_outlives_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A handler started in the receive callback that never ends is cancelled at the stop timeout, logged once."""
    async with idle_recorder() as (recorder, mailbox):
        asyncio.get_running_loop().call_soon(lambda: mailbox.put(Step(tag=1, sleep_s=3600), None, inline=True))
        await asyncio.sleep(0.01)
        assert recorder.events == ["start 1"]
        async with asyncio.timeout(2):
            await mailbox.close(timeout_s=0.05)
        outlived = [r for r in caplog.records if "outlived the stop timeout" in r.getMessage()]
        assert recorder.events == ["start 1"] and len(outlived) == 1
