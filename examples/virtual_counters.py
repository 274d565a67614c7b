"""Durable counters addressed by key across 3 processes; each key active on one node; a SIGKILLed owner's keys move
with their counts.

python examples/virtual_counters.py

Three ``zactor node --kind counter=virtual_counters:Counter --data-dir DIR`` processes host the kind and the
replicated store; this script joins the cluster as a member (a ``ClusterNode`` without the kind) and increments 30
keys three times each through ``node.virtual("counter", key)``: every key is activated once, on the node that leads
its shard, and each increment is saved at QUORUM before its reply. It then SIGKILLs the node that runs ``user-0`` and
increments it again: once membership declares the node dead and the key's shard has a new leader, a new activation
loads the count on another node and goes on from 3.
"""

from __future__ import annotations

import asyncio
import collections
import os
import tempfile
import time
from pathlib import Path

from zactor import Context, NodeConfig, Returns, handler, message
from zactor.config import DEFAULT_CLUSTER_ID
from zactor.services.cluster import ClusterNode, LocalCluster
from zactor.services.virtual import DurableActor


@message("virtual_counters.Incr")
class Incr(Returns["Count"]):
    by: int = 1


@message("virtual_counters.Count")
class Count:
    value: int
    node: str


@message("virtual_counters.CounterState")
class CounterState:
    value: int = 0


class Counter(DurableActor[CounterState]):
    """One counter per key, loaded when the key is activated and saved after each handler that changed it."""

    @handler
    async def incr(self, msg: Incr, ctx: Context) -> Count:
        self.state = CounterState(value=self.state.value + msg.by)
        return Count(value=self.state.value, node=ctx.node_id)


async def main() -> None:
    os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    args = ("--kind", "counter=virtual_counters:Counter", "--replication-factor", "3")
    with tempfile.TemporaryDirectory() as data, LocalCluster(3, node_args=args, data_dir=data) as cluster:
        config = NodeConfig(node_id="client", seeds=(cluster.seed,), cluster_id=DEFAULT_CLUSTER_ID)
        async with ClusterNode(config) as node:
            await node.membership.wait_for_members(4, timeout_s=20.0)
            keys = [f"user-{i}" for i in range(30)]
            owners: dict[str, str] = {}
            for _ in range(3):
                for key in keys:
                    count = await node.virtual("counter", key).ask(Incr(), timeout_s=10.0)
                    owners[key] = count.node
            per_node = collections.Counter(owners.values())
            print(f"30 keys counted to {count.value} each, active on", dict(sorted(per_node.items())))
            victim = owners["user-0"]
            cluster.kill(next(i for i in cluster.running() if cluster.node_id(i) == victim))
            killed_at = time.monotonic()
            moved = await node.virtual("counter", "user-0").ask(Incr(), timeout_s=20.0)
            took = time.monotonic() - killed_at
            print(f"user-0 moved from {victim} to {moved.node} ({took:.1f} s after the kill); count {moved.value}")


if __name__ == "__main__":
    asyncio.run(main())
