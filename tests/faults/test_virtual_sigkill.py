"""Durable virtual actors on 3 processes while key owners are SIGKILLed and restarted: every ask is answered within
its deadline, no count goes back, and the activation history the nodes log (start and end of each activation; a
killed node's open ones end at its kill) holds no moment at which two nodes ran the same key."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest

from zactor import NodeConfig
from zactor.config import DEFAULT_CLUSTER_ID
from zactor.services.cluster import ClusterNode, LocalCluster
from zactor.services.cluster.scenarios import groups_whole
from zactor.services.virtual.history import ActivationRecord, activations_from_log, overlaps
from zactor.testing import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

from virtual_counters import Incr  # noqa: E402

log = logging.getLogger(__name__)
KEYS = [f"user-{i}" for i in range(60)]


def _history(log_dir: Path, killed: dict[str, list[float]], now: float) -> list[ActivationRecord]:
    """The activations the node logs record; one still open ends at its node's next kill after its start, else
    ``now``."""
    records: list[ActivationRecord] = []
    for path in log_dir.glob("*.log"):
        for kind, key, node, term, start, end in activations_from_log(
            path.read_text(errors="replace").splitlines(), -1
        ):
            if end == -1:
                end = min((t for t in killed.get(node, []) if t > start), default=now)
            records.append((kind, key, node, term, start, end))
    return records


async def test_sigkilled_owners_never_leave_two_activations_of_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES))
    args = ("--kind", "counter=virtual_counters:Counter", "--replication-factor", "3", "--log-level", "INFO")
    killed: dict[str, list[float]] = {}
    with LocalCluster(3, node_args=args, log_dir=tmp_path / "logs", data_dir=tmp_path / "data") as cluster:
        config = NodeConfig(node_id="client", seeds=(cluster.seed,), cluster_id=DEFAULT_CLUSTER_ID)
        async with ClusterNode(config) as node:
            await node.membership.wait_for_members(4, timeout_s=30.0)
            answered = 0
            slowest = 0.0
            for cycle in range(3):
                owners = {}
                for key in KEYS:
                    started = time.monotonic()
                    owners[key] = (await node.virtual("counter", key).ask(Incr(), timeout_s=20.0)).node
                    slowest = max(slowest, time.monotonic() - started)
                    answered += 1
                victim = owners[KEYS[cycle]]
                index = next(i for i in cluster.running() if cluster.node_id(i) == victim)
                cluster.kill(index)
                killed.setdefault(victim, []).append(time.monotonic())
                for key in KEYS:
                    started = time.monotonic()
                    count = await node.virtual("counter", key).ask(Incr(), timeout_s=20.0)
                    assert count.node != victim
                    assert count.value >= 2 * cycle + 2  # the state moved with the key (a retried ask may count twice)
                    slowest = max(slowest, time.monotonic() - started)
                    answered += 1
                cluster.restart(index)
                await node.membership.wait_for_members(4, timeout_s=30.0)
                addresses = [cluster.address(i) for i in range(3)]  # each shard takes the restarted voter back
                await wait_until(lambda a=addresses: groups_whole(node, a, "virtual.counter.", 3), 60.0, "groups")
            records = _history(cluster.log_dir, killed, time.monotonic())
    log.info("%d asks answered (slowest %.2f s), %d activations checked", answered, slowest, len(records))
    assert answered == 6 * len(KEYS)
    assert {key for _, key, *_ in records} == set(KEYS)
    assert overlaps(records) == []
