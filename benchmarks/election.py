"""Leader failover on local clusters of 3 and 5 processes: SIGKILL the leader, time until another holds the lease.

Each kill is followed by a restart of the killed node (same id and address) and a wait until the cluster has
converged, so every kill starts from a full group. Prints the median and the worst of the kills per cluster size,
and the simulated safety check: how many seeded runs with faults were checked and found safe.
Target: a new leader within 3 s of the kill.
Usage: ``python benchmarks/election.py [--kills N] [--sim-runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from zactor.services.cluster import LocalCluster
from zactor.services.cluster.failover import current_leader, kill_leader
from zactor.services.election.simulation import check, run_seed


def failovers(n: int, kills: int) -> list[float]:
    times = []
    with LocalCluster(n, node_args=("--group", "bench", "--group-size", str(n))) as cluster:
        cluster.wait_converged(30.0)
        for k in range(kills):
            seconds, old, new, term = kill_leader(cluster, "bench")
            print(f"  {n} nodes, kill {k + 1}: {old} -> {new} (term {term}) in {seconds:.2f} s", file=sys.stderr)
            times.append(seconds)
            cluster.restart(next(i for i in range(n) if cluster.node_id(i) == old))
            cluster.wait_converged(30.0)
            cluster.wait_until(lambda: current_leader(cluster, "bench")[0] is not None, 30.0, "a leader")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="leaders killed per cluster size")
    parser.add_argument("--sim-runs", type=int, default=1000, help="seeded simulated runs to check")
    args = parser.parse_args()
    start = time.perf_counter()
    for seed in range(args.sim_runs):
        check(run_seed(seed, n=3 if seed % 2 else 5))
    print(f"simulation: {args.sim_runs} seeded runs with faults checked safe in {time.perf_counter() - start:.1f} s")
    for n in (3, 5):
        times = failovers(n, args.kills)
        print(
            f"{n} processes, {len(times)} kills: new leader after median {statistics.median(times):.2f} s, "
            f"worst {max(times):.2f} s"
        )


if __name__ == "__main__":
    main()
