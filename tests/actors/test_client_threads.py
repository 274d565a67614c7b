"""One blocking client shared by many threads: each thread's messages are encoded whole and unmixed, whatever their
sizes and field types (nested messages, lists, maps, text, bytes in and out of band), and every reply is its own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import sys
from collections.abc import Iterator

import pytest

import zactor
from zactor import Actor, Context, Node, NodeConfig, Returns, handler, message


@pytest.fixture(autouse=True)
def eager_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond (instead of every 5 ms), so that sharing shows within a short test."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@message("test.threads.Part")
class Part:
    label: str
    weights: list[float]


@message("test.threads.Echo")
class Echo(Returns["Echo"]):
    thread: int
    seq: int
    text: str
    blob: bytes
    parts: list[Part]
    table: dict[str, int]


class Mirror(Actor):
    max_concurrency = 8

    @handler
    async def echo(self, msg: Echo, ctx: Context) -> Echo:
        return msg


def _message(thread: int, seq: int, rng: random.Random) -> Echo:
    size = rng.choice([0, 7, 300, 5_000, 70_000])  # below and above the zero-copy threshold
    return Echo(
        thread=thread,
        seq=seq,
        text=f"t{thread}-{seq}-" + "é" * rng.randrange(0, 200),
        blob=rng.randbytes(size),
        parts=[Part(label=f"p{i}", weights=[rng.random() for _ in range(rng.randrange(0, 20))]) for i in range(3)],
        table={f"k{i}": rng.randrange(-(2**40), 2**40) for i in range(rng.randrange(0, 30))},
    )


async def test_threads_sharing_one_client_get_their_own_replies_intact() -> None:
    """8 threads, switching often, send 300 varied messages each through one client; each reply equals its message."""
    async with Node(NodeConfig(node_id="server")) as server:
        await server.add_actor("mirror", Mirror())

        def work(client: zactor.BlockingClient, thread: int) -> int:
            rng = random.Random(thread)
            ref = client.ref("mirror")
            for seq in range(300):
                sent = _message(thread, seq, rng)
                assert ref.ask(sent, timeout_s=10.0) == sent
            return thread

        def run_all() -> list[int]:
            with zactor.connect(server.address) as client:
                with concurrent.futures.ThreadPoolExecutor(8) as pool:
                    return list(pool.map(lambda t: work(client, t), range(8)))

        assert await asyncio.get_running_loop().run_in_executor(None, run_all) == list(range(8))
