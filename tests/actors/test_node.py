"""Actor semantics on a node: ask/tell, errors, mailbox order and bounds, runtime add/remove, stop."""

from __future__ import annotations

import asyncio

import pytest
from calc import Add, Blob, Calculator, Fail, Record, Sleep, Sum, Unhandled
from conftest import NodePair

from zactor import Actor, Context, Node, Returns, handler, message
from zactor.errors import (
    ActorExists,
    ActorNotFound,
    HandlerNotFound,
    MailboxFull,
    MessageTooLarge,
    NodeUnavailable,
    RemoteError,
    RequestTimeout,
)
from zactor.testing import wait_until


async def test_local_ask_and_tell() -> None:
    """A local ask returns the handler's reply; a tell is handled without a reply."""
    async with Node() as node:
        calc = Calculator()
        ref = await node.add_actor("calc", calc)
        assert await ref.ask(Add(a=2, b=3)) == Sum(value=5)
        await ref.tell(Record(tag=7))
        await wait_until(lambda: calc.seen == [7])


async def test_local_ask_does_not_touch_the_transport() -> None:
    """Asking an actor on the same node sends nothing through the transport."""
    async with Node() as node:
        await node.add_actor("calc", Calculator())
        sends = []
        original = node.transport.send

        async def spy(*args: object, **kwargs: object) -> None:
            sends.append(args)
            await original(*args, **kwargs)  # type: ignore[arg-type]

        node.transport.send = spy  # type: ignore[method-assign]
        assert await node.ref("calc", address=node.address).ask(Add(a=1, b=1)) == Sum(value=2)
        assert sends == []


async def test_remote_ask_and_tell(node_pair: NodePair) -> None:
    """Asks and tells reach an actor on another node; many concurrent asks each get their own reply."""
    async with node_pair() as (server, client):
        calc = Calculator()
        await server.add_actor("calc", calc)
        ref = client.ref("calc", address=server.address)
        assert await ref.ask(Add(a=20, b=22)) == Sum(value=42)
        replies = await asyncio.gather(*(ref.ask(Add(a=i, b=i)) for i in range(300)))
        assert [r.value for r in replies] == [2 * i for i in range(300)]
        await ref.tell(Record(tag=1))
        await wait_until(lambda: calc.seen == [1])


async def test_handler_exception_becomes_remote_error(node_pair: NodePair) -> None:
    """A handler's exception reaches the caller as RemoteError with type, message, node and actor."""
    async with node_pair() as (server, client):
        await server.add_actor("calc", Calculator())
        for ref in (client.ref("calc", address=server.address), server.ref("calc")):
            with pytest.raises(RemoteError) as info:
                await ref.ask(Fail(text="bad input"))
            err = info.value
            assert (err.type_name, err.message, err.node, err.actor) == ("ValueError", "bad input", "server", "calc")
        assert await client.ref("calc", address=server.address).ask(Add(a=1, b=1)) == Sum(value=2)


async def test_unknown_actor_and_unhandled_type(node_pair: NodePair) -> None:
    """Asking a missing actor raises ActorNotFound; an unhandled message type raises HandlerNotFound."""
    async with node_pair() as (server, client):
        await server.add_actor("calc", Calculator())
        with pytest.raises(ActorNotFound) as missing:
            await client.ref("nope", address=server.address).ask(Add(a=1, b=1))
        assert (missing.value.actor, missing.value.node) == ("nope", "server")
        with pytest.raises(HandlerNotFound) as unhandled:
            await client.ref("calc", address=server.address).ask(Unhandled())
        assert unhandled.value.message_type == "test.Unhandled"
        with pytest.raises(ActorNotFound):
            await server.ref("nope").ask(Add(a=1, b=1))
        with pytest.raises(HandlerNotFound):
            await server.ref("calc").ask(Unhandled())


async def test_ask_times_out(node_pair: NodePair) -> None:
    """An ask whose reply does not come in time raises RequestTimeout, which is also a TimeoutError."""
    async with node_pair() as (server, client):
        await server.add_actor("calc", Calculator())
        with pytest.raises(TimeoutError) as info:
            await client.ref("calc", address=server.address).ask(Sleep(seconds=1.0), timeout_s=0.05)
        assert isinstance(info.value, RequestTimeout) and info.value.timeout_s == 0.05
        with pytest.raises(RequestTimeout):
            await server.ref("calc").ask(Sleep(seconds=1.0), timeout_s=0.05)


async def test_ask_to_an_endpoint_nobody_listens_on_times_out() -> None:
    """An ask to an address with no node behind it fails by its deadline, not later."""
    async with Node() as client:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(RequestTimeout):
            await client.ref("calc", address="tcp://127.0.0.1:9").ask(Add(a=1, b=1), timeout_s=0.2)
        assert loop.time() - start < 1.0


async def test_messages_from_one_sender_are_handled_in_order(node_pair: NodePair) -> None:
    """Tells and asks from one sender are handled one at a time, in the order sent."""
    async with node_pair() as (server, client):
        calc = Calculator()
        await server.add_actor("calc", calc)
        ref = client.ref("calc", address=server.address)
        for tag in range(50):
            await ref.tell(Record(tag=tag))
        await asyncio.gather(*(ref.ask(Sleep(seconds=0.001, tag=100 + i)) for i in range(5)))
        assert calc.seen == list(range(50)) + [100 + i for i in range(5)]
        assert calc.max_running == 1


async def test_max_concurrency_lets_a_stateless_actor_overlap() -> None:
    """An actor with max_concurrency > 1 handles several messages at once."""

    class Wide(Calculator):
        max_concurrency = 4

    async with Node() as node:
        wide = Wide()
        ref = await node.add_actor("wide", wide)
        await asyncio.gather(*(ref.ask(Sleep(seconds=0.05, tag=i)) for i in range(8)))
        assert wide.max_running == 4 and sorted(wide.seen) == list(range(8))


async def test_full_mailbox_refuses_with_mailbox_full(node_pair: NodePair) -> None:
    """A bounded mailbox that is full refuses new messages with MailboxFull instead of growing."""
    async with node_pair(mailbox_size=2) as (server, client):
        calc = Calculator()
        await server.add_actor("calc", calc)
        ref = client.ref("calc", address=server.address)
        slow = [asyncio.ensure_future(ref.ask(Sleep(seconds=0.2, tag=0)))]
        await wait_until(lambda: calc.running == 1, what="the first handler")
        slow += [asyncio.ensure_future(ref.ask(Sleep(seconds=0.2, tag=i))) for i in (1, 2)]
        await wait_until(lambda: len(server.registry.get("calc")) == 2, what="a full mailbox")
        with pytest.raises(MailboxFull) as info:
            await ref.ask(Add(a=1, b=1))
        assert info.value.capacity == 2
        with pytest.raises(MailboxFull):
            await server.ref("calc").ask(Add(a=1, b=1))
        assert [r.tag for r in await asyncio.gather(*slow)] == [0, 1, 2]
        assert server.stats["mailbox_full"] == 1


async def test_remove_actor_fails_queued_asks_and_lets_the_running_one_finish(node_pair: NodePair) -> None:
    """Removing an actor: the running handler completes, queued asks get ActorNotFound, then on_stop runs."""
    async with node_pair() as (server, client):
        calc = Calculator()
        await server.add_actor("calc", calc)
        ref = client.ref("calc", address=server.address)
        running = asyncio.ensure_future(ref.ask(Sleep(seconds=0.2, tag=1)))
        queued = [asyncio.ensure_future(ref.ask(Add(a=i, b=0))) for i in range(3)]
        await wait_until(lambda: calc.running == 1 and len(server.registry.get("calc")) == 3, what="queue")
        await server.remove_actor("calc")
        assert await running == Record(tag=1)
        for fut in queued:
            with pytest.raises(ActorNotFound):
                await fut
        with pytest.raises(ActorNotFound):
            await ref.ask(Add(a=1, b=1))
        assert calc.events == ["start", "stop"] and "calc" not in server.actors()


async def test_names_are_unique_until_removed() -> None:
    """Adding under a name in use raises ActorExists; after removal the name can be reused."""
    async with Node() as node:
        await node.add_actor("calc", Calculator())
        with pytest.raises(ActorExists):
            await node.add_actor("calc", Calculator())
        await node.remove_actor("calc")
        replacement = Calculator()
        await node.add_actor("calc", replacement)
        assert "calc" in node.actors() and replacement.events == ["start"]
        with pytest.raises(ActorNotFound):
            await node.remove_actor("missing")


async def test_failing_on_start_leaves_the_actor_unregistered() -> None:
    """An actor whose on_start raises is not added, and its name stays free."""

    class Broken(Actor):
        async def on_start(self, ctx: Context) -> None:
            raise RuntimeError("no")

    async with Node() as node:
        with pytest.raises(RuntimeError):
            await node.add_actor("b", Broken())
        assert "b" not in node.actors()
        await node.add_actor("b", Calculator())


def test_malformed_handlers_are_refused() -> None:
    """A handler without a @message annotation is refused when the actor is added."""

    class NoAnnotation(Actor):
        @handler
        async def on_thing(self, msg, ctx: Context) -> None:  # type: ignore[no-untyped-def]
            return None

    async def add() -> None:
        async with Node() as node:
            await node.add_actor("x", NoAnnotation())

    with pytest.raises(TypeError, match="annotate"):
        asyncio.run(add())
    with pytest.raises(TypeError, match="must be a def or an async def"):
        handler(len)  # a builtin: not a method that can be a handler


async def test_handler_returning_a_non_message_is_a_remote_type_error(node_pair: NodePair) -> None:
    """A handler result that is not a message reaches the caller as RemoteError(TypeError)."""

    class Bad(Actor):
        @handler
        async def add(self, msg: Add, ctx: Context) -> int:
            return 5

    async with node_pair() as (server, client):
        await server.add_actor("bad", Bad())
        with pytest.raises(RemoteError) as info:
            await client.ref("bad", address=server.address).ask(Add(a=1, b=1))
        assert info.value.type_name == "TypeError"


async def test_stopping_a_node_fails_its_pending_asks(node_pair: NodePair) -> None:
    """When the asking node stops, its pending asks fail at once with NodeUnavailable."""
    async with node_pair() as (server, client):
        await server.add_actor("calc", Calculator())
        pending = asyncio.ensure_future(client.ref("calc", address=server.address).ask(Sleep(seconds=2.0)))
        await wait_until(lambda: len(client.calls), what="a pending ask")
        await client.stop()
        with pytest.raises(NodeUnavailable):
            await pending


async def test_large_payload_round_trip_is_zero_copy_on_receive(node_pair: NodePair) -> None:
    """A large bytes field round-trips intact and arrives as a memoryview over the received frame."""
    async with node_pair() as (server, client):
        await server.add_actor("calc", Calculator())
        data = bytes(range(256)) * 4096
        reply = await client.ref("calc", address=server.address).ask(Blob(data=data))
        assert isinstance(reply.data, memoryview) and reply.data == data


async def test_oversized_message_is_refused_locally(node_pair: NodePair) -> None:
    """A message over max_message_bytes raises MessageTooLarge before anything is sent."""
    async with node_pair(max_message_bytes=100_000) as (server, client):
        await server.add_actor("calc", Calculator())
        ref = client.ref("calc", address=server.address)
        with pytest.raises(MessageTooLarge):
            await ref.ask(Blob(data=b"x" * 200_000))
        assert await ref.ask(Add(a=1, b=2)) == Sum(value=3)


@message("test.node.WhereAmI")
class WhereAmI(Returns[None]):
    pass


class ClusterAsker(Actor):
    @handler
    async def where(self, msg: WhereAmI, ctx: Context) -> None:
        ctx.cluster.ref_any("calc")


async def test_ctx_cluster_is_refused_on_a_plain_node() -> None:
    """``ctx.cluster`` names the actor when its node is not a ClusterNode (the README shows the cluster case)."""
    async with Node() as node:
        ref = await node.add_actor("asker", ClusterAsker())
        with pytest.raises(RemoteError, match="actor 'asker' runs on a plain Node"):
            await ref.ask(WhereAmI())
