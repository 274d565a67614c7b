"""A full disk on one replica: its writes fail clearly, QUORUM is served by the healthy replicas, nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from zactor import Node, NodeConfig
from zactor.services.clock import CLOCK_ACTOR, GetTime, Time
from zactor.services.cluster.local_cluster import wait_all_live
from zactor.services.cluster.process import NodeProcess
from zactor.services.replication.history import WriteHistory, check_history, write_unique_keys
from zactor.testing import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (root only), unmounted afterwards."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
@pytest.mark.parametrize("storage", ["sqlite", "lmdb"])
async def test_a_full_disk_fails_its_writes_and_quorum_goes_on(tmp_path: Path, storage: str) -> None:
    """node0's data directory is a 1 MiB tmpfs, with each storage. QUORUM writes of 4 KiB values through node1 and
    node2 keep being acknowledged after node0's disk fills (node1 and node2 hold them), writes through node0 are
    refused with an error, node0 keeps answering, and every acknowledged key is on node1 and node2."""
    with tiny_tmpfs(tmp_path / "small", "1m") as small:
        common = ("--cluster-id", "disk", "--replication-factor", "3", "--anti-entropy-interval", "0.5")
        common += ("--storage", storage)
        with NodeProcess("node0", extra_args=("--data-dir", str(small), *common)) as n0:
            seed = ("--seed", n0.address)
            with (
                NodeProcess("node1", extra_args=("--data-dir", str(tmp_path / "n1"), *seed, *common)) as n1,
                NodeProcess("node2", extra_args=("--data-dir", str(tmp_path / "n2"), *seed, *common)) as n2,
            ):
                addresses = [n0.address, n1.address, n2.address]

                await wait_all_live(addresses, 20.0)
                async with Node(NodeConfig(node_id="writer")) as client:
                    history, stop = WriteHistory(), asyncio.Event()
                    writer = asyncio.create_task(
                        write_unique_keys(client, lambda: addresses, "disk", "quorum", history, stop, value_bytes=4096)
                    )
                    await wait_until(lambda: len(history.acked) > 1500, 60.0, "1,500 acknowledged writes")
                    stop.set()
                    await writer
                    via_n0 = [op for op in history.operations if op.address == n0.address]
                    late = via_n0[len(via_n0) // 2 :]
                    assert late and not any(op.acked for op in late), "node0's disk is full: its own writes fail"
                    assert {op.error for op in late} == {"RemoteError"}
                    healthy = [op for op in history.operations if op.address != n0.address]
                    assert sum(op.acked for op in healthy[len(healthy) // 2 :]) > 0.9 * len(healthy) // 2
                    assert isinstance(await client.ref(CLOCK_ACTOR, address=n0.address).ask(GetTime()), Time)
                    missing = await check_history(client, [n1.address, n2.address], "disk", history)
                    assert missing == {n1.address: [], n2.address: []}
                assert n0.is_alive()
