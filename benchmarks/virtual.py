"""Durable virtual actors on a 3-process local cluster (``examples/virtual_counters.py``, the replicated store in a
temporary directory): the cost of addressing by key, of saving state, of activation, and of a move after SIGKILL.

Prints: sequential asks per second to one active virtual actor through ``node.virtual(kind, key)`` and through a
plain ``ActorRef`` to the same activation, in the same run, and their ratio (target: virtual at most 10% slower),
with asks that leave the state as it is (``Incr(by=0)``: nothing saved); sequential increments per second, each
saved at QUORUM before its reply; the median latency of a first ask (which activates the key and loads its state
from a quorum) against a later one; and the time from SIGKILL of a key's owner to the next successful ask of that
key, next to the failure detection alone (target: detection plus under 0.5 s).

Usage: ``python benchmarks/virtual.py [--asks N] [--keys N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from zactor import NodeConfig
from zactor.config import DEFAULT_CLUSTER_ID
from zactor.loops import run as run_loop
from zactor.services.cluster import ClusterNode, LocalCluster
from zactor.services.membership.model import EventKind
from zactor.services.virtual.model import instance_name

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

from virtual_counters import Incr  # noqa: E402  (the example's counter: the nodes host it)


async def measure(cluster: LocalCluster, asks: int, keys: int, rounds: int) -> None:
    config = NodeConfig(node_id="bench-client", seeds=(cluster.seed,), cluster_id=DEFAULT_CLUSTER_ID)
    async with ClusterNode(config) as node:
        await node.membership.wait_for_members(4, timeout_s=30.0)
        ref = node.virtual("counter", "hot")
        owner = (await ref.ask(Incr(), timeout_s=20.0)).node
        direct = node.ref(instance_name("counter", "hot"), node_id=owner)
        ratios, best = [], {"virtual": 0.0, "plain": 0.0}
        for _ in range(rounds):  # alternating, so that a noisy moment weighs on both sides
            measured = {}
            for label, target in (("virtual", ref), ("plain", direct)):
                start = time.perf_counter()
                for _ in range(asks):
                    await target.ask(Incr(by=0))
                measured[label] = asks / (time.perf_counter() - start)
                best[label] = max(best[label], measured[label])
            ratios.append(measured["virtual"] / measured["plain"])
        print(
            f"sequential asks: virtual {best['virtual']:,.0f}/s, plain ActorRef {best['plain']:,.0f}/s; "
            f"virtual/plain median of {rounds} rounds {statistics.median(ratios):.2f} (state unchanged: no save)"
        )
        start = time.perf_counter()
        for _ in range(asks // 4):
            await ref.ask(Incr())
        print(f"sequential increments, each saved at QUORUM: {asks // 4 / (time.perf_counter() - start):,.0f}/s")

        first, later = [], []
        for i in range(keys):
            key = node.virtual("counter", f"k{i}")
            started = time.perf_counter()
            await key.ask(Incr(), timeout_s=10.0)
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            await key.ask(Incr(), timeout_s=10.0)
            later.append(time.perf_counter() - started)
        print(
            f"first ask (activates): median {statistics.median(first) * 1000:.2f} ms; "
            f"a later ask: {statistics.median(later) * 1000:.2f} ms"
        )

        victim = (await ref.ask(Incr(), timeout_s=10.0)).node
        watch = node.membership.watch()
        cluster.kill(next(i for i in cluster.running() if cluster.node_id(i) == victim))
        killed = time.perf_counter()

        async def detected() -> float:
            async for event in watch:
                if event.node_id == victim and event.kind is EventKind.DEAD:
                    return time.perf_counter() - killed
            return float("nan")

        detection = asyncio.ensure_future(detected())
        moved = await ref.ask(Incr(), timeout_s=30.0)
        took = time.perf_counter() - killed
        dead_after = await asyncio.wait_for(detection, timeout=30.0)
        watch.close()
        print(
            f"SIGKILL of the owner {victim} to the next answer (from {moved.node}): {took:.2f} s; "
            f"declared dead after {dead_after:.2f} s (+{took - dead_after:.2f} s)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=2000, help="sequential asks per measurement")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of virtual and plain asks")
    parser.add_argument("--keys", type=int, default=100, help="keys activated for the activation latency")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")])
    node_args = ("--kind", "counter=virtual_counters:Counter", "--replication-factor", "3")
    with tempfile.TemporaryDirectory() as data, LocalCluster(3, node_args=node_args, data_dir=data) as cluster:
        run_loop(measure(cluster, args.asks, args.keys, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
