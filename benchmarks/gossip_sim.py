"""Gossip at scale: the membership core simulated at N = 10, 100 and 1,000 nodes (no sockets, simulated time).

For each N it prints:
- join: gossip rounds and simulated seconds until a new node is LIVE for every node (and every node for it), next to
  the bound 2 x log2(N) rounds;
- dead: simulated seconds until every node declares a killed node DEAD (chitchat asserts < 10 s at 100 nodes);
- bandwidth: bytes sent per node per simulated second in steady state (chitchat: < 120 KB/s at 100 nodes).

The cluster is bootstrapped converged (every node already knows every other as LIVE), then measured. Clusters above
``--full-above`` nodes (100) measure the join only: one simulated step costs O(N^2) work in this process.
Usage: ``python benchmarks/gossip_sim.py [--sizes 10 100 1000] [--interval 0.2]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zactor.services.membership.gossip import MembershipConfig, MemberStatus  # noqa: E402
from zactor.services.membership.messages import Ack  # noqa: E402
from zactor.services.membership.simulation import Simulation  # noqa: E402
from zactor.services.membership.state import digest_of  # noqa: E402


def bootstrap(n: int, interval_s: float, seed: int) -> Simulation:
    """N nodes that already know each other as LIVE (two direct state exchanges, without gossip)."""
    sim = Simulation(seed=seed, config=MembershipConfig(gossip_interval_s=interval_s))
    cores = [sim.add_node(f"n{i}", seeds=["n0"] if i else []) for i in range(n)]
    for _ in range(2):
        sim.now_s += interval_s
        for core in cores:
            core._self.heartbeat += 1
        delta = [[s.key[0], s.key[1], s.heartbeat, s.entries_after(0)] for s in (c._self for c in cores)]
        for core in cores:
            core.handle_ack(Ack(cluster_id="sim", delta=delta), sim.now_s)
            core.take_events()
    assert digest_of(c._self for c in cores)
    return sim


def measure(n: int, interval_s: float, join_only: bool, seed: int = 7) -> dict[str, float]:
    sim = bootstrap(n, interval_s, seed)
    result: dict[str, float] = {}

    sim.add_node("joiner", seeds=["n0"])
    everyone = list(sim.nodes)
    join_s = sim.run_until(
        lambda: (
            sim.all_see(["joiner"], MemberStatus.LIVE)
            and all(sim.sees("joiner", o, MemberStatus.LIVE) for o in everyone if o != "joiner")
        ),
        max_s=120.0,
    )
    result["join_rounds"] = round(join_s / interval_s)
    result["join_s"] = join_s
    if join_only:
        return result

    sim.bytes_sent.clear()
    steady_s = 5.0
    sim.run_for(steady_s)
    result["bytes_per_node_s"] = sum(sim.bytes_sent.values()) / len(sim.nodes) / steady_s

    sim.kill("n1")
    result["dead_s"] = sim.run_until(lambda: sim.all_see(["n1"], MemberStatus.DEAD), max_s=120.0)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="cluster sizes")
    parser.add_argument("--interval", type=float, default=0.2, help="gossip interval (simulated s)")
    parser.add_argument(
        "--full-above", type=int, default=100, help="larger clusters measure the join only (each step is O(N^2))"
    )
    args = parser.parse_args()
    print(f"{'nodes':>6} {'join rounds':>12} {'bound':>6} {'join s':>7} {'dead s':>7} {'KB/s/node':>10} {'wall s':>7}")
    for n in args.sizes:
        start = time.perf_counter()
        r = measure(n, args.interval, join_only=n > args.full_above)
        bound = 2 * math.log2(n)
        dead = f"{r['dead_s']:>7.1f}" if "dead_s" in r else f"{'-':>7}"
        bandwidth = f"{r['bytes_per_node_s'] / 1000:>10.1f}" if "bytes_per_node_s" in r else f"{'-':>10}"
        print(
            f"{n:>6} {r['join_rounds']:>12.0f} {bound:>6.1f} {r['join_s']:>7.1f} {dead} {bandwidth} "
            f"{time.perf_counter() - start:>7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
