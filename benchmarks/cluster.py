"""Membership on a real 3-process local cluster: how fast nodes see each other, detect a SIGKILL, drop a leaver.

Targets: all members see each other within 2 s of start; a SIGKILLed node declared dead by all within 5 s; a
gracefully stopped node gone from all tables within 1 s.
Usage: ``python benchmarks/cluster.py [--runs R] [--gossip-interval S]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zactor.services.cluster.local_cluster import LocalCluster  # noqa: E402


def one_run(interval_s: float) -> dict[str, float]:
    start = time.monotonic()
    with LocalCluster(3, data_centers=("dc1", "dc2"), node_args=("--gossip-interval", str(interval_s))) as cluster:
        result = {"converge_s": time.monotonic() - start}
        cluster.kill(2)
        result["dead_s"] = cluster.wait_until(
            lambda: all("node2" not in cluster.live_ids(i) for i in (0, 1)), 15.0, "node2 dead"
        )
        cluster.restart(2)
        cluster.wait_converged(10.0)
        begin = time.monotonic()
        cluster.stop(1)
        cluster.wait_until(lambda: all("node1" not in cluster.live_ids(i) for i in (0, 2)), 5.0, "node1 gone")
        result["leave_s"] = time.monotonic() - begin
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="how many clusters to start")
    parser.add_argument("--gossip-interval", type=float, default=0.2, help="seconds between gossip rounds")
    args = parser.parse_args()
    runs = [one_run(args.gossip_interval) for _ in range(args.runs)]
    print(f"{'measure':44} {'median':>8} {'max':>8} {'target':>8}")
    for key, label, target in (
        ("converge_s", "start to all members seeing each other, s", 2.0),
        ("dead_s", "SIGKILL to declared dead by all, s", 5.0),
        ("leave_s", "graceful stop to gone from all tables, s", 1.0),
    ):
        values = [r[key] for r in runs]
        print(f"{label:44} {statistics.median(values):>8.2f} {max(values):>8.2f} {target:>8.1f}")


if __name__ == "__main__":
    main()
