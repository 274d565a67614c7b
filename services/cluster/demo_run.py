"""Runs ``zactor demo`` (the steps are listed in :mod:`zactor.services.cluster.demo`)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from typing import Any

import attrs

from zactor.loops import run as run_loop
from zactor.services.cluster.admin import ADMIN_ACTOR, AddActor
from zactor.services.cluster.cli_cluster import format_members
from zactor.services.cluster.demo import Add
from zactor.services.cluster.demo_steps import Progress, Writer, count_keys, digests_of, sha256_of, stdlib_files
from zactor.services.cluster.local_cluster import LocalCluster
from zactor.services.cluster.node import ClusterNode
from zactor.services.replication.frontend import KV_ACTOR, KvDelete
from zactor.services.replication.handlers import REPLICATION_ACTOR

__all__ = ["run_demo"]

KEYSPACE = "stdlib"
CLUSTER_ID = "demo"


def _step(number: int, text: str) -> None:
    print(f"\n[{number}/6] {text}", flush=True)


async def _wait(condition: Any, timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while not await condition():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def _demo(cluster: LocalCluster, files: list[tuple[str, bytes]], summary: dict[str, str]) -> list[str]:
    client = cluster.client_config
    node_id = "demo-client" if client.key_name is None else client.key_name  # a secure node's id is its key's name
    config = attrs.evolve(client, node_id=node_id, seeds=(cluster.seed,), cluster_id=CLUSTER_ID, data_center="dc1")
    async with ClusterNode(config) as node:
        await node.membership.wait_for_members(4, timeout_s=15.0)

        async def replicas_ready() -> bool:
            return len(node.membership.lookup(REPLICATION_ACTOR)) == 3

        await _wait(replicas_ready, 10.0, "replication actors gossiped")
        kv = [cluster.address(i) for i in range(3)]

        _step(2, "add a custom actor at runtime on node2, call it from this node through membership lookup")
        await node.ref(ADMIN_ACTOR, address=kv[2]).ask(
            AddActor(name="calc", spec="zactor.services.cluster.demo:Calculator")
        )

        async def calc_known() -> bool:
            return node.membership.lookup("calc") == ["node2"]

        await _wait(calc_known, 5.0, "calc gossiped")
        result = await node.ref_any("calc").ask(Add(a=20, b=22))
        print(f"   lookup('calc') -> {node.membership.lookup('calc')}; Add(a=20, b=22) -> {result}")

        total_mib = sum(len(v) for _, v in files) / 2**20
        first, rest = files[: len(files) * 6 // 10], files[len(files) * 6 // 10 :]
        _step(3, f"write {len(files):,} standard library files ({total_mib:.1f} MiB) with QUORUM")
        writer = Writer(node, kv, KEYSPACE, "quorum")
        progress = Progress("writing", len(first))
        seconds = await writer.write(first, progress)
        mib = sum(len(v) for _, v in first) / 2**20
        progress.finish(
            f"{len(first):,} documents, {mib:.1f} MiB in {seconds:.2f} s: {len(first) / seconds:,.0f} docs/s"
        )
        summary["QUORUM writes, docs/s"] = f"{len(first) / seconds:,.0f}"
        summary["QUORUM writes, MiB/s"] = f"{mib / seconds:,.1f}"

        deleted = [key for key, _ in files[::20]]
        _step(4, f"SIGKILL node2 while writes go on; delete {len(deleted)} keys meanwhile")
        rest_progress = Progress("writing", len(rest))
        writing = asyncio.create_task(writer.write(rest, rest_progress))
        await asyncio.sleep(0.3)
        killed_at = time.monotonic()
        await asyncio.to_thread(cluster.kill, 2)
        writer.drop(kv[2])
        await asyncio.to_thread(
            cluster.wait_until,
            lambda: all("node2" not in cluster.live_ids(i) for i in (0, 1)),
            15.0,
            "node2 declared dead",
        )
        detected_s = time.monotonic() - killed_at
        print(f"   node0 and node1 declared node2 dead {detected_s:.2f} s after the SIGKILL")
        summary["failure detection, s"] = f"{detected_s:.2f}"
        await node.ref(KV_ACTOR, address=kv[0]).ask(KvDelete(keyspace=KEYSPACE, keys=deleted, consistency="quorum"))
        await writing
        rest_progress.finish(f"all {len(files):,} files written with QUORUM ({writer.retries} batches retried)")

        _step(5, "restart node2 from its SQLite file; anti-entropy catches it up")
        gone = set(deleted)
        expected = {k: v for k, v in sha256_of(files).items() if k not in gone}
        restarted_at = time.monotonic()
        await asyncio.to_thread(cluster.restart, 2)
        before = await count_keys(node, kv[2], KEYSPACE)

        async def caught_up() -> bool:
            return await count_keys(node, kv[2], KEYSPACE) == len(expected)

        await _wait(caught_up, 60.0, "node2 caught up")
        catch_up = time.monotonic() - restarted_at
        print(f"   node2 restarted with {before:,} live documents, caught up to {len(expected):,} in {catch_up:.2f} s")
        summary["catch-up after restart, s"] = f"{catch_up:.2f}"

        _step(6, "verify every node byte for byte (SHA-256) and that deleted keys are gone")
        problems = []
        for i, address in enumerate(kv):
            digests = await digests_of(node, address, KEYSPACE)
            missing = [k for k in expected if digests.get(k) != expected[k]]
            resurrected = [k for k in deleted if k in digests]
            status = "ok" if not missing and not resurrected and len(digests) == len(expected) else "DIVERGED"
            counts = f"{len(missing)} wrong or missing, {len(resurrected)} deleted but present"
            print(f"   node{i}: {len(digests):,} documents, {counts}: {status}")
            if status != "ok":
                problems.append(f"node{i}: {counts}")
        summary["documents"] = f"{len(expected):,} (+{len(deleted)} deleted)"

        print("\n   write throughput by consistency level (1,000 documents of 1 KiB, 4 batches of 64 in flight):")
        for level in ("one", "quorum", "all"):
            docs = [(f"{level}-{i}", bytes(1024)) for i in range(1000)]
            progress = Progress(f"{level.upper():6}", len(docs))
            took_s = await Writer(node, kv, "levels", level).write(docs, progress)
            progress.finish(f"{len(docs) / took_s:>7,.0f} docs/s")
            summary[f"1 KiB writes at {level.upper()}, docs/s"] = f"{len(docs) / took_s:,.0f}"
    return problems


def run_demo(*, keyring: str | None = None, key_name: str = "client", storage: str = "sqlite") -> int:
    """Run the demo on a secure cluster (a new keyring, or ``keyring`` with ``key_name`` as the demo client's key;
    node keys are added to it when missing), each node keeping its documents in ``storage`` (sqlite or lmdb); returns
    the exit code (0 when every node holds exactly the expected data)."""
    print("zactor demo: a replicated key-value store on a 3-process cluster, on real data", flush=True)
    files = stdlib_files()
    data_dir = tempfile.mkdtemp(prefix="zactor-demo-")
    summary: dict[str, str] = {}
    start = time.monotonic()
    try:
        where = "SQLite files" if storage == "sqlite" else "LMDB environments"
        _step(1, f"start 3 secure nodes (CURVE + ZAP) in 3 processes, 2 data centers, {where} in {data_dir}")
        node_args = ["--anti-entropy-interval", "1.0", "--admin", "--admin-allow", "zactor.services.cluster.demo"]
        with LocalCluster(
            3,
            data_centers=("dc1", "dc2"),
            cluster_id=CLUSTER_ID,
            node_args=node_args,
            data_dir=data_dir,
            storage=storage,
            secure=True,
            keyring=keyring,
            client_key=key_name,
        ) as cluster:
            print(format_members(cluster.members(0)))
            problems = run_loop(_demo(cluster, files, summary))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    summary["total time, s"] = f"{time.monotonic() - start:.1f}"
    print("\nsummary")
    for label, value in summary.items():
        print(f"   {label:32} {value:>16}")
    if problems:
        print("\nDIVERGED: " + "; ".join(problems))
        return 1
    print("\nall nodes hold every file byte for byte; deleted keys are gone everywhere")
    return 0
