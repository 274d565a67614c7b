"""Replicated store throughput on a 3-process local cluster, with SQLite and with LMDB on each node in the same run,
next to raw pyzmq.

Prints: single 1 KiB puts with 100 in flight at ONE, QUORUM and ALL; batched puts (``put_many``) at QUORUM;
documents per second caught up by anti-entropy after a node missed writes (from the moment the restarted process
reports ready until it holds as many documents as a node that never stopped: joining the membership and the first
anti-entropy round are included); and the raw pyzmq sequential
round-trip rate measured in the same run (``benchmarks/rpc.py``'s raw echo), as the yardstick.
First, each storage alone in one process (the ceiling every replica's writes share; LMDB's rows/s against
SQLite's) and the bound it puts on 3 replicas on this machine's cores. Targets: QUORUM single puts >= 5,000/s;
batched >= 25,000 docs/s with LMDB; catch-up >= 20,000 docs/s with LMDB.
Usage: ``python benchmarks/replication.py [--docs N] [--catch-up-docs N] [--storage sqlite|lmdb ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from zactor import Node, NodeConfig
from zactor.loops import run as run_loop
from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.cluster import LocalCluster
from zactor.services.cluster.cli_bench import measure
from zactor.services.cluster.observer import OBSERVER_ACTOR, GetNodeStats
from zactor.services.replication import Document
from zactor.services.replication.backends import STORAGES, open_storage
from zactor.services.replication.frontend import KV_ACTOR, KvPut, KvPutMany

VALUE = bytes(1024)


async def stored_documents(client: Node, address: str) -> int:
    """The live documents the node at ``address`` holds, all keyspaces together (a count the node keeps)."""
    stats = await client.ref(OBSERVER_ACTOR, address=address).ask(GetNodeStats(), timeout_s=5)
    return int(stats.store_documents)


async def single_puts(client: Node, addresses: list[str], level: str, total: int) -> float:
    counter = iter(range(total))

    async def worker(i: int) -> None:
        ref = client.ref(KV_ACTOR, address=addresses[i % len(addresses)])
        for n in counter:
            await ref.ask(KvPut(keyspace=f"single-{level}", key=f"k{n}", value=VALUE, consistency=level), timeout_s=10)

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(100)))
    return total / (time.perf_counter() - start)


async def batched_puts(client: Node, addresses: list[str], keyspace: str, total: int, batch: int = 500) -> float:
    batches = iter(range(0, total, batch))

    async def worker(i: int) -> None:
        ref = client.ref(KV_ACTOR, address=addresses[i % len(addresses)])
        for first in batches:
            items = [[f"k{n}", VALUE] for n in range(first, min(first + batch, total))]
            await ref.ask(KvPutMany(keyspace=keyspace, items=items, consistency="quorum"), timeout_s=30)

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(4)))
    return total / (time.perf_counter() - start)


async def storage_alone(kind: str, directory: str, total: int = 50_000, batch: int = 500) -> tuple[float, float]:
    """``put_many`` of 1 KiB documents into the storage ``kind`` in one process, no network: ``(rows/s, CPU seconds
    per row)``. The ceiling the replicas share: a QUORUM write is stored by every replica."""
    storage = open_storage(kind, Path(directory), "alone")
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, total, batch):
        stamp = HLCTimestamp(1_700_000_000_000 + first, 0, "bench")
        await storage.put_many("alone", [Document(f"k{n}", stamp, VALUE) for n in range(first, first + batch)])
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await storage.close()
    return total / elapsed, cpu / total


async def cluster_figures(cluster: LocalCluster, args: argparse.Namespace, results: dict[str, float]) -> None:
    """Single puts at each level, batched puts, and catch-up, on ``cluster``, into ``results``."""
    addresses = [cluster.address(i) for i in range(3)]
    async with Node(NodeConfig(node_id="bench-client")) as client:
        await asyncio.sleep(1.0)  # let the replication actors be gossiped
        for level in ("one", "quorum", "all"):
            print(f"measuring single puts at {level} ...", file=sys.stderr, flush=True)
            results[f"single 1 KiB puts at {level.upper()}, 100 in flight, docs/s"] = await single_puts(
                client, addresses, level, args.docs
            )
        print("measuring batched puts ...", file=sys.stderr, flush=True)
        results["put_many at QUORUM (500 per batch), docs/s"] = await batched_puts(
            client, addresses, "batched", args.batched_docs
        )
        print("measuring catch-up ...", file=sys.stderr, flush=True)
        await asyncio.to_thread(cluster.kill, 2)
        await batched_puts(client, addresses[:2], "missed", args.catch_up_docs)
        await asyncio.to_thread(cluster.restart, 2)
        start = time.perf_counter()
        while await stored_documents(client, addresses[2]) < await stored_documents(client, addresses[0]):
            await asyncio.sleep(0.05)
        results["anti-entropy catch-up after restart, docs/s"] = args.catch_up_docs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000, help="documents per single-put measurement")
    parser.add_argument("--batched-docs", type=int, default=100_000, help="documents for the batched measurement")
    parser.add_argument("--catch-up-docs", type=int, default=50_000, help="documents node2 misses, then catches up")
    parser.add_argument("--storage", action="append", choices=STORAGES, help="storages to measure (default: both)")
    args = parser.parse_args()

    print("measuring raw pyzmq ...", file=sys.stderr, flush=True)
    raw = measure("raw", "small", seconds=2.0)["seq_per_s"]
    cores = os.cpu_count() or 1
    figures: dict[str, dict[str, float]] = {}
    for kind in args.storage or STORAGES:
        results = figures[kind] = {}
        data_dir = tempfile.mkdtemp(prefix=f"zactor-bench-{kind}-")
        print(f"measuring {kind} alone ...", file=sys.stderr, flush=True)
        rows_per_s, cpu_per_row = run_loop(storage_alone(kind, data_dir))
        results["storage alone, 1 process, 1 KiB rows/s"] = rows_per_s
        results[f"bound for 3 replicas on {cores} cores (CPU of storage only), docs/s"] = cores / (3 * cpu_per_row)
        node_args = ("--anti-entropy-interval", "0.5")
        with LocalCluster(
            3, data_centers=("dc1", "dc2"), node_args=node_args, data_dir=data_dir, storage=kind
        ) as cluster:
            run_loop(cluster_figures(cluster, args, results))
    kinds = list(figures)
    print(f"\n{'measure':66} " + " ".join(f"{k:>10} {'x raw':>6}" for k in kinds))
    print(f"{'raw pyzmq sequential round trips/s':66} " + " ".join(f"{raw:>10,.0f} {1.0:>6.2f}" for _ in kinds))
    for label in figures[kinds[0]]:
        row = " ".join(f"{figures[k][label]:>10,.0f} {figures[k][label] / raw:>6.2f}" for k in kinds)
        print(f"{label:66} {row}")
    if {"sqlite", "lmdb"} <= figures.keys():
        alone = "storage alone, 1 process, 1 KiB rows/s"
        print(f"\nLMDB rows/s against SQLite rows/s, alone: {figures['lmdb'][alone] / figures['sqlite'][alone]:.2f}")


if __name__ == "__main__":
    main()
