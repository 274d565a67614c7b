"""Streamed replies across two processes on loopback, next to raw pyzmq streaming the same payloads in the same run.

Prints items per second for 16-byte items at windows 16, 32, 64 and 256, MiB per second for 1 MiB items, and the
consumer's peak RSS; the raw pyzmq yardstick is a ROUTER that sends the same number of frames to a DEALER as fast
as it can, with no flow control at all (an upper bound: zactor adds the envelope, the checked decode, the credit
and the handler's generator per item).

Usage: ``python benchmarks/streams.py [--items N] [--mib N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator

import zmq

from zactor import Actor, Context, Node, NodeConfig, Streams, handler, message
from zactor.loops import run as run_loop
from zactor.services.cluster.process import READY_PREFIX, rss_mib
from zactor.streams import DEFAULT_WINDOW


@message("bench.streams.Items")
class Items(Streams["Item"]):
    n: int
    size: int


@message("bench.streams.Item")
class Item:
    data: bytes


class Producer(Actor):
    @handler
    async def items(self, msg: Items, ctx: Context) -> AsyncIterator[Item]:
        payload = bytes(msg.size)
        for _ in range(msg.n):
            yield Item(data=payload)


def raw_router(raw: zmq.Socket[bytes]) -> None:
    """Answer each raw request ``b"N SIZE"`` with N frames of SIZE bytes, then an empty frame (in its own thread)."""
    while True:
        peer, request = raw.recv_multipart()
        n, size = (int(x) for x in request.split())
        payload = bytes(size)
        for _ in range(n):
            raw.send_multipart([peer, payload], copy=size < 65536)
        raw.send_multipart([peer, b""])


async def serve() -> None:
    """The producer process: a node hosting ``producer``, and a raw ROUTER that streams on request."""
    raw = zmq.Context.instance().socket(zmq.ROUTER)
    raw.setsockopt(zmq.ROUTER_MANDATORY, 1)  # block at the high-water mark instead of dropping
    raw_port = raw.bind_to_random_port("tcp://127.0.0.1")
    threading.Thread(target=raw_router, args=(raw,), daemon=True).start()
    async with Node(NodeConfig(node_id="producer")) as node:
        await node.add_actor("producer", Producer())
        print(f"{READY_PREFIX}{node.address} {raw_port}", flush=True)
        await asyncio.Event().wait()


def raw_stream(port: int, n: int, size: int) -> float:
    """Seconds for a raw DEALER to receive ``n`` frames of ``size`` bytes."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(f"tcp://127.0.0.1:{port}")
    start = time.perf_counter()
    sock.send(f"{n} {size}".encode())
    while sock.recv(copy=size < 65536):
        pass
    elapsed = time.perf_counter() - start
    sock.close(0)
    return elapsed


async def zactor_stream(node: Node, address: str, n: int, size: int, window: int) -> float:
    ref = node.ref("producer", address=address)
    start = time.perf_counter()
    count = 0
    async for _ in ref.stream(Items(n=n, size=size), window=window, timeout_s=30):
        count += 1
    assert count == n
    return time.perf_counter() - start


async def consume(address: str, raw_port: int, items: int, mib: int) -> None:
    async with Node(NodeConfig(node_id="consumer")) as node:
        await zactor_stream(node, address, 1000, 16, 16)  # warm up
        raw_s = raw_stream(raw_port, items, 16)
        print(f"16-byte items, raw pyzmq:        {items / raw_s:12,.0f} items/s")
        for window in (16, 32, 64, 256):
            seconds = await zactor_stream(node, address, items, 16, window)
            rate = items / seconds
            print(f"16-byte items, zactor window {window:3}: {rate:12,.0f} items/s ({rate * raw_s / items:.2f} of raw)")
        raw_s = raw_stream(raw_port, mib, 1 << 20)
        seconds = await zactor_stream(node, address, mib, 1 << 20, DEFAULT_WINDOW)
        print(f"1 MiB items, raw pyzmq:          {mib / raw_s:12,.0f} MiB/s")
        ratio = raw_s / seconds
        print(f"1 MiB items, zactor window {DEFAULT_WINDOW}:   {mib / seconds:12,.0f} MiB/s ({ratio:.2f} of raw)")
        print(f"consumer peak RSS: {rss_mib(peak=True):.1f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000, help="16-byte items per run")
    parser.add_argument("--mib", type=int, default=1024, help="1 MiB items in the large run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_loop(serve())
        return 0
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith(READY_PREFIX):
            raise SystemExit(f"the producer did not start: {line!r}")
        address, raw_port = line[len(READY_PREFIX) :].split()
        run_loop(consume(address, int(raw_port), args.items, args.mib))
    finally:
        child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
