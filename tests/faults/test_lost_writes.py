"""No acknowledged QUORUM write is lost when nodes are SIGKILLed and restarted, and a minority acknowledges none; the
cluster is secure (CURVE and ZAP on every connection)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from zactor import Node
from zactor.services.cluster.local_cluster import LocalCluster
from zactor.services.cluster.scenarios import wait_converged
from zactor.services.replication.frontend import KV_ACTOR, KvDigest
from zactor.services.replication.history import WriteHistory, write_unique_keys

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]

KEYSPACE = "faults"


def _cluster(data_dir: Path, storage: str = "sqlite") -> LocalCluster:
    args = ("--anti-entropy-interval", "0.5", "--replication-factor", "3")
    return LocalCluster(3, node_args=args, data_dir=data_dir, secure=True, storage=storage)


async def _holders(client: Node, cluster: LocalCluster) -> collections.Counter[str]:
    """How many nodes hold each key right now."""
    counts: collections.Counter[str] = collections.Counter()
    for i in range(3):
        reply = await client.ref(KV_ACTOR, address=cluster.address(i)).ask(KvDigest(keyspace=KEYSPACE), timeout_s=10)
        counts.update(list(reply.digests))
    return counts


@contextlib.asynccontextmanager
async def _writing(client: Node, cluster: LocalCluster) -> AsyncIterator[WriteHistory]:
    """QUORUM writes of unique keys from ``client`` through the running nodes, round-robin, until the block ends."""
    history, stop = WriteHistory(), asyncio.Event()
    running = lambda: [cluster.address(i) for i in cluster.running()]  # noqa: E731
    writer = asyncio.create_task(write_unique_keys(client, running, KEYSPACE, "quorum", history, stop))
    try:
        yield history
    finally:
        stop.set()
        await writer


async def _assert_converged(client: Node, cluster: LocalCluster, history: WriteHistory) -> None:
    """Every node holds every acknowledged key, at the latest 30 s after the writes (anti-entropy)."""
    addresses = [cluster.address(i) for i in range(3)]
    missing = await wait_converged(client, addresses, KEYSPACE, history, 30.0)
    assert not any(missing.values()), missing


@pytest.mark.parametrize("storage", ["sqlite", "lmdb"])
async def test_sigkill_of_one_node_loses_no_acknowledged_write(tmp_path: Path, storage: str) -> None:
    """QUORUM writes round-robin over 3 nodes, each storage, while one is SIGKILLed and restarted: every acknowledged
    key is on at least 2 nodes at once, and on all 3 after anti-entropy."""
    with _cluster(tmp_path, storage) as cluster:
        async with Node(cluster.client_config) as client:
            async with _writing(client, cluster) as history:
                await asyncio.sleep(1.0)
                await asyncio.to_thread(cluster.kill, 1)
                await asyncio.sleep(1.5)
                await asyncio.to_thread(cluster.restart, 1)
                await asyncio.sleep(1.0)
            assert len(history.acked) > 50, f"too few writes acknowledged: {len(history.acked)}"
            holders = await _holders(client, cluster)
            assert [k for k in history.acked if holders[k] < 2] == []
            await _assert_converged(client, cluster, history)


async def test_sigkill_of_two_nodes_loses_nothing_and_the_survivor_acknowledges_nothing(tmp_path: Path) -> None:
    """With two of three nodes SIGKILLed, no QUORUM write issued to the survivor is acknowledged; after both restart
    every earlier acknowledged write is on every node."""
    with _cluster(tmp_path) as cluster:
        async with Node(cluster.client_config) as client:
            async with _writing(client, cluster) as history:
                await asyncio.sleep(1.0)
                await asyncio.to_thread(cluster.kill, 1)
                await asyncio.to_thread(cluster.kill, 2)
                both_dead = time.monotonic()
                await asyncio.sleep(6.0)
                minority_end = time.monotonic()
                await asyncio.to_thread(cluster.restart, 1)
                await asyncio.to_thread(cluster.restart, 2)
                await asyncio.sleep(1.0)
            assert history.acked_between(both_dead, minority_end) == []
            refused = [op for op in history.operations if both_dead <= op.issued_s < minority_end]
            assert refused and {op.error for op in refused} <= {"ConsistencyFailure", "NotEnoughNodes", "RemoteError"}
            assert len(history.acked) > 50
            await _assert_converged(client, cluster, history)
