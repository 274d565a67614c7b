"""Streams between processes: 10^6 small items and 1 GiB in 1 MiB items with both sides' peak RSS bounded, a slow
consumer that stalls no other actor, and cancellation from either side stopping the other within a second."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zactor import Node, NodeConfig
from zactor.errors import ActorError
from zactor.services.cluster.process import NodeProcess, rss_mib

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

ACTORS = Path(__file__).parent.parent / "actors"
sys.path.insert(0, str(ACTORS))

from streamer import Blobs, GetStats, Numbers  # noqa: E402

log = logging.getLogger(__name__)

#: Peak RSS either side may reach, in MiB: a Python process with zactor loaded is about 40 MiB, and a window of 16
#: one-MiB items adds 16 to 32; a stream that ignored credit would hold hundreds of MiB of the 1 GiB.
PEAK_RSS_BOUND_MIB = 160.0

CONSUMER = textwrap.dedent(
    """
    import sys, time
    import zactor
    from streamer import Blobs, Numbers
    from zactor.services.cluster.process import rss_mib

    with zactor.connect(sys.argv[1], timeout_s=60) as client:
        ref = client.ref("streamer")
        started = time.monotonic()
        count = sum(1 for _ in ref.stream(Numbers(n=1_000_000), window=64))
        small_s = time.monotonic() - started
        after_small = rss_mib(peak=True)
        started = time.monotonic()
        total = sum(len(blob.data) for blob in ref.stream(Blobs(n=1024, size=1 << 20)))
        large_s = time.monotonic() - started
    print(count, total, round(small_s, 2), round(large_s, 2), round(after_small, 1), round(rss_mib(peak=True), 1))
    """
)


def _producer(tmp_path: Path) -> NodeProcess:
    return NodeProcess("producer", actors={"streamer": "streamer:Streamer"}, log_path=tmp_path / "producer.log")


def test_a_million_items_and_a_gib_keep_both_sides_rss_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ACTORS))
    with _producer(tmp_path) as producer:
        proc = subprocess.run(
            [sys.executable, "-c", CONSUMER, producer.address], capture_output=True, text=True, timeout=240
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        count, total, small_s, large_s, consumer_small, consumer_peak = proc.stdout.split()
        producer_peak = rss_mib(producer.pid, peak=True)
        log.info(
            "10^6 items in %s s, 1 GiB in %s s; peak RSS: consumer %s MiB (%s after the items), producer %.1f MiB",
            small_s,
            large_s,
            consumer_peak,
            consumer_small,
            producer_peak,
        )
        assert int(count) == 1_000_000 and int(total) == 1 << 30
        assert float(consumer_peak) < PEAK_RSS_BOUND_MIB
        assert producer_peak < PEAK_RSS_BOUND_MIB
        assert producer.stop() == 0


def _node_producer(tmp_path: Path) -> NodeProcess:
    actors = {"streamer": "streamer:Streamer", "calc": "zactor.services.cluster.demo:Calculator"}
    return NodeProcess("producer", actors=actors, log_path=tmp_path / "producer.log")


async def test_slow_consumers_stall_no_other_actor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four streams whose consumers take 50 ms per 1 MiB item hold their producers at the window, while another
    actor of the producing node answers at once."""
    from zactor.services.cluster.demo import Add, Result

    monkeypatch.setenv("PYTHONPATH", str(ACTORS))
    with _node_producer(tmp_path) as producer:
        async with Node(NodeConfig(node_id="consumer")) as node:
            streamer = node.ref("streamer", address=producer.address)
            calc = node.ref("calc", address=producer.address)

            async def slow() -> int:
                taken = 0
                async for _ in streamer.stream(Blobs(n=40, size=1 << 20), window=4):
                    taken += 1
                    await asyncio.sleep(0.05)
                return taken

            consumers = [asyncio.ensure_future(slow()) for _ in range(4)]
            await asyncio.sleep(0.3)
            slowest = 0.0
            for i in range(40):
                started = time.monotonic()
                assert await calc.ask(Add(a=i, b=1), timeout_s=2.0) == Result(value=i + 1)
                slowest = max(slowest, time.monotonic() - started)
                await asyncio.sleep(0.02)
            stats = await streamer.ask(GetStats())
            assert stats.running == 4 and stats.produced <= 4 * 40
            assert await asyncio.gather(*consumers) == [40] * 4
            log.info("slowest ask of another actor during 4 slow streams: %.1f ms", slowest * 1000)
            assert slowest < 0.5
        assert producer.stop() == 0


async def test_closing_the_consumer_stops_the_producer_within_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ACTORS))
    with _node_producer(tmp_path) as producer:
        async with Node(NodeConfig(node_id="consumer")) as node:
            streamer = node.ref("streamer", address=producer.address)
            stream = streamer.stream(Numbers(n=10**9, pause_s=0.001))
            for _ in range(100):
                await anext(stream)
            await stream.aclose()
            closed_at = time.monotonic()
            while (await streamer.ask(GetStats())).running and time.monotonic() - closed_at < 1.0:
                await asyncio.sleep(0.02)
            stats = await streamer.ask(GetStats())
            assert (stats.running, stats.closed) == (0, 1), "the producer still runs a second after the close"
            log.info("producer stopped %.0f ms after the consumer closed", (time.monotonic() - closed_at) * 1000)
        assert producer.stop() == 0


async def test_a_producer_that_stops_ends_the_consumer_within_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ACTORS))
    with _node_producer(tmp_path) as producer:
        async with Node(NodeConfig(node_id="consumer")) as node:
            stream = node.ref("streamer", address=producer.address).stream(Numbers(n=10**9, pause_s=0.001))
            for _ in range(100):
                await anext(stream)
            os.kill(producer.pid, signal.SIGTERM)
            stopped_at = time.monotonic()
            with pytest.raises(ActorError):
                while True:
                    await asyncio.wait_for(anext(stream), timeout=5.0)
            waited = time.monotonic() - stopped_at
            log.info("consumer ended %.0f ms after the producer's node was stopped", waited * 1000)
            assert waited < 1.0
