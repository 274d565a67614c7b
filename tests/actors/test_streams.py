"""Streamed replies between nodes and within one: items in order then the end, an error after the items before it,
credit holding a slow consumer's producer at its yield, cancellation from either side, a plain handler streamed, a
streaming handler asked, and a producer that ignores its credit."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import zactor
from zactor import Actor, ActorRef, Context, Node, NodeConfig, Streams, handler, message
from zactor.errors import ActorError, RemoteError, RequestTimeout


@message("test.streams.Count")
class Count(Streams["Number"]):
    n: int
    fail_at: int = -1
    pause_s: float = 0.0


@message("test.streams.Number")
class Number:
    value: int


@message("test.streams.Hold")
class Hold:
    pass


class Counter(Actor):
    max_concurrency = 4

    def __init__(self) -> None:
        self.produced = 0
        self.closed = 0

    @handler
    async def count(self, msg: Count, ctx: Context) -> AsyncIterator[Number]:
        try:
            for i in range(msg.n):
                if i == msg.fail_at:
                    raise ValueError(f"failed at {i}")
                if msg.pause_s:
                    await asyncio.sleep(msg.pause_s)
                self.produced += 1
                yield Number(value=i)
        finally:
            self.closed += 1

    @handler
    async def hold(self, msg: Hold, ctx: Context) -> Number:
        return Number(value=42)


@pytest.fixture(params=["local", "remote"])
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.asynccontextmanager
async def streaming(where: str) -> AsyncIterator[tuple[ActorRef, Counter, Node]]:
    """A counter on a server node, and a ref to it from the server itself (``local``) or from another node over
    loopback TCP (``remote``)."""
    counter = Counter()
    async with Node(NodeConfig(node_id="server")) as server:
        await server.add_actor("counter", counter)
        if where == "local":
            yield server.ref("counter"), counter, server
        else:
            async with Node(NodeConfig(node_id="client")) as client:
                yield client.ref("counter", address=server.address), counter, server


async def test_items_arrive_in_order_then_the_end(where: str) -> None:
    async with streaming(where) as (ref, _counter, _server):
        assert [n.value async for n in ref.stream(Count(n=100), window=4)] == list(range(100))
        assert [n async for n in ref.stream(Count(n=0))] == []


async def test_an_error_comes_after_the_items_before_it(where: str) -> None:
    async with streaming(where) as (ref, counter, _server):
        seen = []
        with pytest.raises(RemoteError, match="failed at 7") as caught:
            async for n in ref.stream(Count(n=10, fail_at=7), window=3):
                seen.append(n.value)
        assert seen == list(range(7)) and caught.value.type_name == "ValueError"
        assert counter.closed == 1


async def test_a_slow_consumer_holds_the_producer_within_its_window(where: str) -> None:
    """The generator runs ahead of what the consumer took by at most the window, plus the item held at its yield."""
    async with streaming(where) as (ref, counter, _server):
        stream = ref.stream(Count(n=1000), window=8)
        taken = 0
        for _ in range(3):
            for _ in range(17):
                assert (await anext(stream)).value == taken
                taken += 1
            await asyncio.sleep(0.3)
            assert taken + 8 // 2 <= counter.produced <= taken + 8 + 1  # credit comes back in half windows
        await stream.aclose()


async def test_closing_the_consumer_cancels_the_producer(where: str) -> None:
    async with streaming(where) as (ref, counter, _server):
        async with contextlib.aclosing(ref.stream(Count(n=10**9, pause_s=0.001))) as stream:
            async for n in stream:
                if n.value == 20:
                    break
        loop = asyncio.get_running_loop()
        start = loop.time()
        while counter.closed == 0 and loop.time() - start < 1.0:
            await asyncio.sleep(0.01)
        assert counter.closed == 1, "the producer still runs a second after the consumer closed"
        produced = counter.produced
        await asyncio.sleep(0.2)
        assert counter.produced == produced


async def test_removing_the_producer_ends_the_stream_with_an_error(where: str) -> None:
    async with streaming(where) as (ref, _counter, server):
        stream = ref.stream(Count(n=10**9, pause_s=0.01), timeout_s=5)
        await anext(stream)
        remove = asyncio.ensure_future(server.remove_actor("counter"))
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ActorError):
            async for _ in stream:
                pass
        assert loop.time() - start < 1.5
        await remove


async def test_a_plain_handler_streams_its_reply_and_a_stream_handler_refuses_ask(where: str) -> None:
    async with streaming(where) as (ref, _counter, _server):
        assert [n async for n in ref.stream(Hold())] == [Number(value=42)]
        with pytest.raises(RemoteError, match="ref.stream"):
            await ref.ask(Count(n=3))


async def test_a_stalled_producer_is_a_request_timeout(where: str) -> None:
    async with streaming(where) as (ref, _counter, _server):
        with pytest.raises(RequestTimeout):
            async for _ in ref.stream(Count(n=3, pause_s=5.0), timeout_s=0.2):
                pass


async def test_the_blocking_client_streams_and_cancels_on_break() -> None:
    async with streaming("local") as (_ref, counter, server):

        def consume() -> tuple[list[int], list[int]]:
            with zactor.connect(server.address) as client:
                ref = client.ref("counter")
                whole = [n.value for n in ref.stream(Count(n=50), window=4)]
                partial = []
                for n in ref.stream(Count(n=10**9, pause_s=0.001), window=4):
                    partial.append(n.value)
                    if n.value == 9:
                        break
                return whole, partial

        whole, partial = await asyncio.to_thread(consume)
        assert whole == list(range(50)) and partial == list(range(10))
        loop = asyncio.get_running_loop()
        start = loop.time()
        while counter.closed < 2 and loop.time() - start < 1.0:
            await asyncio.sleep(0.01)
        assert counter.closed == 2, "the producer still runs a second after the blocking consumer broke off"

        def failing() -> list[int]:
            seen = []
            with zactor.connect(server.address) as client, pytest.raises(RemoteError, match="failed at 3"):
                for n in client.ref("counter").stream(Count(n=9, fail_at=3)):
                    seen.append(n.value)
            return seen

        assert await asyncio.to_thread(failing) == [0, 1, 2]


async def test_a_stream_waits_for_its_consumers_budget_instead_of_ending() -> None:
    """1 MiB items at window 16 to a consumer whose unread-reply budget is 2 MiB: the producer waits for room as the
    consumer reads, so all 40 items arrive and none is dropped."""
    sys.path.insert(0, str(Path(__file__).parent))
    from streamer import Blobs, Streamer  # the stream fault tests' actor

    config = NodeConfig(node_id="producer", max_unread_bytes_per_peer=2 << 20)
    async with Node(config) as server:
        await server.add_actor("streamer", Streamer())

        def consume() -> int:
            with zactor.connect(server.address, timeout_s=30) as client:
                return sum(len(b.data) for b in client.ref("streamer").stream(Blobs(n=40, size=1 << 20), window=16))

        assert await asyncio.to_thread(consume) == 40 << 20
        assert server.transport.stats["reply_budget_drops"] == 0
