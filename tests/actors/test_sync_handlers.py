"""Synchronous handlers (``def``): they answer asks like ``async def`` ones, keep the mailbox's order, and run at once
in the receive callback, in no task, when their actor is idle; a message that queues runs them in the worker."""

from __future__ import annotations

import asyncio

import pytest
from conftest import NodePair

from zactor import Actor, Context, Node, handler, message
from zactor.errors import DecodeError, RemoteError


@message("test.sync.Add")
class Add:
    a: int
    b: int


@message("test.sync.Sum")
class Sum:
    value: int
    in_task: bool


@message("test.sync.Slow")
class Slow:
    tag: int


@message("test.sync.Fail")
class Fail:
    refuse: bool = False


class Mixed(Actor):
    def __init__(self) -> None:
        self.events: list[str] = []

    @handler
    def add(self, msg: Add, ctx: Context) -> Sum:
        self.events.append(f"add {msg.a}")
        return Sum(value=msg.a + msg.b, in_task=asyncio.current_task() is not None)

    @handler
    async def slow(self, msg: Slow, ctx: Context) -> None:
        self.events.append(f"start slow {msg.tag}")
        await asyncio.sleep(0.05)
        self.events.append(f"end slow {msg.tag}")

    @handler
    def fail(self, msg: Fail, ctx: Context) -> None:
        if msg.refuse:
            raise DecodeError("refused by the handler")
        raise ValueError("broken")


async def test_a_sync_handler_answers_at_once_in_the_receive_callback(node_pair: NodePair) -> None:
    async with node_pair() as (server, client):
        actor = Mixed()
        await server.add_actor("m", actor)
        ref = client.ref("m", address=server.address)
        reply = await ref.ask(Add(a=2, b=3))
        assert reply == Sum(value=5, in_task=False)


async def test_a_message_that_queues_runs_the_sync_handler_in_the_worker_in_order(node_pair: NodePair) -> None:
    async with node_pair() as (server, client):
        actor = Mixed()
        await server.add_actor("m", actor)
        ref = client.ref("m", address=server.address)
        await ref.tell(Slow(tag=1))
        await ref.tell(Add(a=1, b=0))
        reply = await ref.ask(Add(a=2, b=0))
        assert actor.events == ["start slow 1", "end slow 1", "add 1", "add 2"]
        assert reply.in_task  # it queued behind the slow handler: the worker ran it


async def test_a_sync_handler_s_failure_and_refusal_reach_the_caller(node_pair: NodePair) -> None:
    async with node_pair() as (server, client):
        await server.add_actor("m", Mixed())
        ref = client.ref("m", address=server.address)
        with pytest.raises(RemoteError, match="broken"):
            await ref.ask(Fail())
        with pytest.raises(DecodeError, match="refused by the handler"):
            await ref.ask(Fail(refuse=True))
        assert (await ref.ask(Add(a=1, b=1))).value == 2  # the actor goes on


async def test_a_local_ask_of_a_sync_handler_runs_in_the_worker() -> None:
    async with Node() as node:
        await node.add_actor("m", Mixed())
        reply = await node.ref("m").ask(Add(a=4, b=4))
        assert reply == Sum(value=8, in_task=True)


def test_a_generator_cannot_be_a_handler() -> None:
    with pytest.raises(TypeError, match="must be a def or an async def"):

        class Bad(Actor):
            @handler
            def gen(self, msg: Add, ctx: Context):  # type: ignore[no-untyped-def]
                yield msg
