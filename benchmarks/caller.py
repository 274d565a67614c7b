"""The asyncio caller's CPU per ask against the blocking client's plus the event loop's own wake-up, in one run.

Four clients ask the same minimal server (``floor.zmtp_floor_server``: ZMTP from an asyncio protocol, zactor's
envelope, nothing else) one 16-byte echo at a time:

- the blocking floor: a plain socket that writes a request and blocks reading its reply;
- the asyncio floor: an asyncio protocol that writes a request and awaits a future its receive callback resolves,
  one future per ask and replies matched by request id;
- zactor's blocking client (``zactor.connect``) and zactor's asyncio caller (``node.ref(...).ask``).

The two floors do the same socket and envelope work, so what separates them is the event loop's own wake-up of an
awaiting caller: its ``epoll_wait``, the receive callback, the future and the task step. The target for zactor's
asyncio caller is its blocking client's CPU per ask plus that wake-up. Each client measures its own process's CPU
(all threads, user and system, from ``time.process_time``) over the middle half of its sequential run. Runs
alternate; each figure is the median of its runs, and the ratio is taken within each round of four runs (which lie
next to each other in time) and its median printed.

Usage: ``python benchmarks/caller.py [--seconds S] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import itertools
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from floor import ZmtpPeer, zmtp_floor_server

from zactor.loops import run as run_loop
from zactor.services.cluster import bench
from zactor.services.cluster.cli_bench import run_pair
from zactor.transport.envelope import Kind, open_body, pack, unpack
from zactor.transport.framing import GREETING, FrameReader, Item, message_parts, ready

_WARM_UP = 200  # asks before the clock starts


def floor_blocking_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    """The least a blocking caller does: write the request, block on ``recv_into``, unpack and decode the reply
    (``small`` only, no keyring)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(GREETING + ready(b"DEALER"))
    reader, items = FrameReader(1 << 31), collections.deque[Item]()
    ids = itertools.count(1)

    def ask(msg: Any) -> Any:
        sock.sendmsg(message_parts(pack(Kind.REQUEST, next(ids), "echo", msg))[0])
        while True:
            while not items:
                items.extend(reader.buffer_updated(sock.recv_into(reader.get_buffer())))
            name, frames = items.popleft()
            if name is None:
                header = unpack(frames)
                return open_body(header, frames)

    echo = bench.Echo(data=b"x" * 16)
    out_q.put({"seq_per_s": _sequential(lambda: ask(echo), seconds)})
    ask(bench.Stop())
    sock.close()


def floor_asyncio_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    """The least an asyncio caller does: write the request, await a future that the protocol's receive callback
    resolves by request id (``small`` only, no keyring)."""

    class Caller(ZmtpPeer):
        def __init__(self) -> None:
            super().__init__(b"DEALER")
            self.waiting: dict[int, asyncio.Future[Any]] = {}
            self.ids = itertools.count(1)
            self.loop = asyncio.get_running_loop()

        def message(self, frames: list[Any]) -> None:
            header = unpack(frames)
            self.waiting.pop(header.request_id).set_result(open_body(header, frames))

        async def ask(self, msg: Any) -> Any:
            request_id = next(self.ids)
            future = self.waiting[request_id] = self.loop.create_future()
            self.transport.writelines(message_parts(pack(Kind.REQUEST, request_id, "echo", msg))[0])
            return await future

    async def run() -> float:
        _, caller = await asyncio.get_running_loop().create_connection(Caller, "127.0.0.1", port)
        echo = bench.Echo(data=b"x" * 16)
        for _ in range(_WARM_UP):
            await caller.ask(echo)
        calls, start = 0, time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            await caller.ask(echo)
            calls += 1
        rate = calls / (time.perf_counter() - start)
        await caller.ask(bench.Stop())
        return rate

    out_q.put({"seq_per_s": run_loop(run())})


def _sequential(call: Callable[[], Any], seconds: float) -> float:
    """Calls per second of ``call`` one at a time for ``seconds`` s, after ``_WARM_UP`` calls."""
    for _ in range(_WARM_UP):
        call()
    calls, start = 0, time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        call()
        calls += 1
    return calls / (time.perf_counter() - start)


class _WithCpu:
    """Stands in for a client's result queue: adds the process's CPU per call, sampled over the middle half of the
    run, to the figures the client puts."""

    def __init__(self, out_q: Any, seconds: float) -> None:
        self.out_q = out_q
        self.samples: list[tuple[float, float]] = []
        threading.Thread(target=self._sample, args=(seconds,), daemon=True).start()

    def _sample(self, seconds: float) -> None:
        time.sleep(seconds / 4)
        self.samples.append((time.process_time(), time.perf_counter()))
        time.sleep(seconds / 2)
        self.samples.append((time.process_time(), time.perf_counter()))

    def put(self, result: dict[str, float]) -> None:
        (cpu0, t0), (cpu1, t1) = self.samples
        self.out_q.put({**result, "cpu_us": (cpu1 - cpu0) / (result["seq_per_s"] * (t1 - t0)) * 1e6})


def timed(
    client_fn: Any, port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    """Run ``client_fn`` (a workload of ``run_pair``) with its CPU per call added to its figures."""
    client_fn(port, test, seconds, payload_mib, rounds, _WithCpu(out_q, seconds), keyring)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each sequential run (s)")
    parser.add_argument("--repeat", type=int, default=5, help="alternating runs of each client")
    args = parser.parse_args()
    clients = {
        "blocking floor": floor_blocking_client,
        "asyncio floor": floor_asyncio_client,
        "zactor blocking client": bench.blocking_client,
        "zactor asyncio caller": bench.zactor_client,
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
    for attempt in range(args.repeat):
        for name, client_fn in clients.items():
            print(f"measuring {name} ({attempt + 1}/{args.repeat}) ...", file=sys.stderr, flush=True)
            workload = functools.partial(timed, client_fn)
            result, _ = run_pair(zmtp_floor_server, workload, ("small", args.seconds, 64, 1), None, 120)
            runs[name].append(result)
    print(f"\n{'client (median of ' + str(args.repeat) + ' runs)':32}{'calls/s':>10}{'CPU us':>10}")
    for name, results in runs.items():
        rate, cpu = (statistics.median(r[key] for r in results) for key in ("seq_per_s", "cpu_us"))
        print(f"{name:32}{rate:>10,.0f}{cpu:>10.1f}")
    # each attempt's four runs are next to each other in time: compare within an attempt, then take the median
    wake_ups, ratios = [], []
    for attempt in range(args.repeat):
        cpu = {name: results[attempt]["cpu_us"] for name, results in runs.items()}
        wake_up = cpu["asyncio floor"] - cpu["blocking floor"]
        wake_ups.append(wake_up)
        ratios.append(cpu["zactor asyncio caller"] / (cpu["zactor blocking client"] + wake_up))
    print(
        f"\nthe event loop's own wake-up (asyncio floor - blocking floor): {statistics.median(wake_ups):.1f} us per ask"
    )
    print(
        f"zactor asyncio caller against its blocking client's CPU plus the wake-up, per attempt: "
        f"median {statistics.median(ratios):.2f}x, {min(ratios):.2f}x-{max(ratios):.2f}x (target: at most 1.00x)"
    )


if __name__ == "__main__":
    main()
