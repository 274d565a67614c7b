"""Durable counters (``examples/virtual_counters.py``) on 3 node processes in network namespaces: 1,000 keys
incremented by 16 clients while a key's owner is SIGKILLed and restarted 5 times, then while one node is cut off
for 15 s. The recorded history (each acknowledged increment: key, invoked, acknowledged, value; each activation:
key, node, term, start, end, from the node logs) shows no acknowledged increment lost, no counter going backwards,
and no moment at which two nodes ran the same key."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from pathlib import Path

import pytest

from zactor import NodeConfig
from zactor.errors import ActorError
from zactor.services.cluster import ClusterNode
from zactor.services.cluster.netns import namespaces, set_link, start_node, start_nodes, unavailable_reason
from zactor.services.cluster.process import NodeProcess
from zactor.services.cluster.scenarios import groups_whole
from zactor.services.virtual.history import (
    ActivationRecord,
    Increment,
    activations_from_log,
    increments_out_of_order,
    overlaps,
)
from zactor.testing import wait_until

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(600),
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

from virtual_counters import Incr  # noqa: E402

log = logging.getLogger(__name__)
KEYS = [f"k{i}" for i in range(1000)]
CLIENTS = 16
ARGS = ("--kind", "counter=virtual_counters:Counter", "--replication-factor", "3", "--cluster-id", "vd")


class Workload:
    """Clients incrementing every key in turn, recording each acknowledged increment."""

    def __init__(self, client: ClusterNode) -> None:
        self.client = client
        self.increments: list[Increment] = []
        self.owner: dict[str, str] = {}
        self.failed = 0
        self.stop = asyncio.Event()

    async def run(self, worker: int) -> None:
        keys = KEYS[worker::CLIENTS]
        while not self.stop.is_set():
            for key in keys:
                if self.stop.is_set():
                    return
                invoked = time.monotonic()
                try:
                    count = await self.client.virtual("counter", key).ask(Incr(), timeout_s=10.0)
                except ActorError:
                    self.failed += 1
                    continue
                self.increments.append((key, invoked, time.monotonic(), count.value))
                self.owner[key] = count.node


def _history(logs: dict[Path, float]) -> list[ActivationRecord]:
    """The activations every node process logged; one open at the end of its log ends at the process's end."""
    records: list[ActivationRecord] = []
    for path, ended in logs.items():
        records += activations_from_log(path.read_text(errors="replace").splitlines(), ended)
    return records


async def test_durable_counters_lose_nothing_through_sigkills_and_a_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES))
    logs_dir, data = tmp_path / "logs", tmp_path / "data"
    logs_dir.mkdir()
    args = (*ARGS, "--log-level", "INFO")
    rng = random.Random(7)
    with namespaces(3, subnet="10.213.81") as ns:
        procs: list[NodeProcess] = start_nodes(ns, args, logs_dir, data_dir=data)
        current = {i: logs_dir / f"node{i}.log" for i in range(3)}  # each process's log; a restart starts one
        ended: dict[Path, float] = {}  # a killed process's log -> when it was killed
        try:
            config = NodeConfig(
                node_id="client",
                bind=f"tcp://{ns.host_address}:0",
                seeds=(procs[0].address,),
                cluster_id="vd",
                insecure=True,
            )
            async with ClusterNode(config) as client:
                await client.membership.wait_for_members(4, timeout_s=30.0)
                work = Workload(client)
                workers = [asyncio.create_task(work.run(i)) for i in range(CLIENTS)]
                await wait_until(lambda: len(work.owner) == len(KEYS), 180.0, "every key counted once", poll_s=0.5)
                restarted = -1
                for cycle in range(5):  # a victim other than the node just restarted, which missed writes: keys
                    # moving to it must load their state from a quorum, not from its own replica
                    victim = int(
                        work.owner[rng.choice([k for k, n in work.owner.items() if n != f"node{restarted}"])][4:]
                    )
                    procs[victim].kill()
                    ended[current[victim]] = time.monotonic()
                    await asyncio.sleep(5.0)
                    seed = procs[(victim + 1) % 3].address
                    current[victim] = logs_dir / f"node{victim}-{cycle + 1}.log"
                    procs[victim] = await asyncio.to_thread(
                        start_node, ns, victim, args, current[victim], seed=seed, data_dir=data
                    )
                    await client.membership.wait_for_members(4, timeout_s=30.0)
                    addresses = [p.address for p in procs]  # each shard takes the restarted voter back
                    await wait_until(lambda a=addresses: groups_whole(client, a, "virtual.counter.", 3), 60.0, "groups")
                    restarted = victim
                cut = rng.randrange(3)
                set_link(ns.names[cut], up=False)
                await asyncio.sleep(15.0)
                set_link(ns.names[cut], up=True)
                await client.membership.wait_for_members(4, timeout_s=30.0)
                await asyncio.sleep(5.0)
                work.stop.set()
                await asyncio.gather(*workers)
                final = {}
                for key in KEYS:
                    final[key] = (await client.virtual("counter", key).ask(Incr(by=0), timeout_s=20.0)).value
        finally:
            for i, proc in enumerate(procs):
                proc.kill()
                ended.setdefault(current[i], time.monotonic())
    records = _history(ended)
    highest: dict[str, int] = {}
    for key, _, _, value in work.increments:
        highest[key] = max(highest.get(key, 0), value)
    lost = {key: (highest[key], final[key]) for key in highest if final[key] < highest[key]}
    log.info(
        "%d increments acknowledged, %d failed, %d activations, %d keys; counters %d..%d",
        len(work.increments),
        work.failed,
        len(records),
        len(highest),
        min(final.values()),
        max(final.values()),
    )
    assert len(highest) == len(KEYS)
    assert lost == {}, f"acknowledged increments lost: {dict(list(lost.items())[:5])}"
    assert increments_out_of_order(work.increments) == []
    assert overlaps(records) == []
