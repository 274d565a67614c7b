"""A real network partition: three node processes in their own network namespaces on one bridge, one link taken
down. The minority side acknowledges no QUORUM write, the majority goes on, and after healing every node holds every
acknowledged write."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import wait_until

from actors import Node, NodeConfig
from actors.local_cluster import fetch_members
from actors.process import NodeProcess
from services.replication.history import WriteHistory, check_history, write_unique_keys

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2"
    ),
]

_TAG = f"z{os.getpid() % 100000}"
_SUBNET = "10.213.77"
_MINORITY_WRITER = """
import asyncio, json, sys
from actors import Node, NodeConfig
from services.replication.history import WriteHistory, write_unique_keys

async def main(address: str, seconds: float) -> None:
    async with Node(NodeConfig(node_id="minority-writer", bind=sys.argv[3]), extensions=[]) as client:
        history, stop = WriteHistory(), asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await write_unique_keys(client, lambda: [address], "part", "quorum", history, stop, concurrency=4, prefix="m")
    print(json.dumps({"issued": len(history.operations), "acked": history.acked}))

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def three_namespaces() -> Iterator[list[str]]:
    """Namespaces ``<tag>n0..2`` with addresses ``10.213.77.1..3`` on a bridge (``10.213.77.254`` here);
    yields the namespace names and removes everything afterwards."""
    bridge, names = f"{_TAG}br", [f"{_TAG}n{i}" for i in range(3)]
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{_SUBNET}.254/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for i, ns in enumerate(names):
            _ip("netns", "add", ns)
            _ip("link", "add", f"{ns}v", "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", f"{ns}v", "master", bridge, "up")
            _ip("-n", ns, "addr", "add", f"{_SUBNET}.{i + 1}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield names
    finally:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


async def _live_counts(addresses: list[str]) -> list[int]:
    counts = []
    for address in addresses:
        try:
            counts.append(len((await fetch_members(address, include_down=False)).rows))
        except Exception:
            counts.append(0)
    return counts


async def test_a_partitioned_minority_acknowledges_nothing_and_the_cluster_heals(tmp_path: Path) -> None:
    """node0's link down for 8 s: QUORUM writes through node0 get no acknowledgement, writes through node1 and
    node2 go on; after the link is back the three see each other and hold every acknowledged write."""
    with three_namespaces() as names:
        args = ("--cluster-id", "part", "--data-dir", str(tmp_path), "--replication-factor", "3")
        args += ("--anti-entropy-interval", "0.5")
        procs: list[NodeProcess] = []
        try:
            for i, ns in enumerate(names):
                seeds = ("--seed", procs[0].address) if procs else ()
                procs.append(
                    NodeProcess(
                        f"node{i}",
                        bind=f"tcp://{_SUBNET}.{i + 1}:7000",
                        extra_args=(*args, *seeds),
                        prefix=("ip", "netns", "exec", ns),
                        log_path=tmp_path / f"node{i}.log",
                    )
                )
            addresses = [p.address for p in procs]

            async def all_see_three() -> bool:
                return await _live_counts(addresses) == [3, 3, 3]

            await wait_until(all_see_three, 30.0, "three live members on every node")
            async with Node(NodeConfig(node_id="writer", bind=f"tcp://{_SUBNET}.254:0"), extensions=[]) as client:
                history, stop = WriteHistory(), asyncio.Event()
                majority = asyncio.create_task(
                    write_unique_keys(client, lambda: addresses[1:], "part", "quorum", history, stop)
                )
                _ip("link", "set", f"{names[0]}v", "down")
                minority = await asyncio.to_thread(
                    subprocess.run,
                    [
                        "ip",
                        "netns",
                        "exec",
                        names[0],
                        sys.executable,
                        "-c",
                        _MINORITY_WRITER,
                        addresses[0],
                        "8",
                        f"tcp://{_SUBNET}.1:0",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert minority.returncode == 0, minority.stderr[-2000:]
                outcome = json.loads(minority.stdout.strip().splitlines()[-1])
                assert outcome["issued"] > 0 and outcome["acked"] == []
                acked_during_partition = len(history.acked)
                _ip("link", "set", f"{names[0]}v", "up")
                await wait_until(all_see_three, 30.0, "the partition to heal")
                stop.set()
                await majority
                assert acked_during_partition > 50, "the majority side went on"

                async def converged() -> bool:
                    missing = await check_history(client, addresses, "part", history)
                    return not any(missing.values())

                await wait_until(converged, 30.0, "every node to hold every acknowledged write")
        finally:
            for proc in procs:
                proc.kill()
