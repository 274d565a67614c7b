"""A real network partition: three node processes in their own network namespaces on one bridge, one link taken
down. The minority side acknowledges no QUORUM write, the majority goes on, and after healing every node holds every
acknowledged write."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import wait_until

from zactor import Node, NodeConfig
from zactor.local_cluster import wait_all_live
from zactor.netns import exec_prefix, namespaces, set_link, start_nodes, unavailable_reason
from zactor.services.replication.history import WriteHistory, check_history, write_unique_keys

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(180),
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


async def test_a_partitioned_minority_acknowledges_nothing_and_the_cluster_heals(tmp_path: Path) -> None:
    """node0's link down for 8 s: QUORUM writes through node0 get no acknowledgement, writes through node1 and
    node2 go on; after the link is back the three see each other and hold every acknowledged write."""
    with namespaces(3) as ns:
        args = ("--cluster-id", "part", "--data-dir", str(tmp_path), "--replication-factor", "3")
        args += ("--anti-entropy-interval", "0.5")
        procs = start_nodes(ns, args, tmp_path)
        try:
            addresses = [p.address for p in procs]
            await wait_all_live(addresses, 30.0)
            async with Node(NodeConfig(node_id="writer", bind=f"tcp://{ns.host_address}:0"), extensions=[]) as client:
                history, stop = WriteHistory(), asyncio.Event()
                majority = asyncio.create_task(
                    write_unique_keys(client, lambda: addresses[1:], "part", "quorum", history, stop)
                )
                set_link(ns.names[0], up=False)
                minority_writer = [sys.executable, "-m", "zactor.services.replication.history", addresses[0], "8"]
                minority_writer += ["--bind", f"tcp://{ns.addresses[0]}:0", "--keyspace", "part"]
                minority = await asyncio.to_thread(
                    subprocess.run,
                    [*exec_prefix(ns.names[0]), *minority_writer],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert minority.returncode == 0, minority.stderr[-2000:]
                outcome = json.loads(minority.stdout.strip().splitlines()[-1])
                assert outcome["issued"] > 0 and outcome["acked"] == []
                acked_during_partition = len(history.acked)
                set_link(ns.names[0], up=True)
                await wait_all_live(addresses, 30.0)
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
