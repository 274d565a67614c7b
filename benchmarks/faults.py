"""Fault runs longer than the test suite's: the figures of zactor's guarantees.

Sections (each can be skipped with ``--skip NAME``):

- ``kills``: a 3-process store under QUORUM writes, ``--cycles`` times: SIGKILL one node and restart it, then SIGKILL
  two and restart them; every acknowledgement recorded. Prints acknowledged writes, those lost on any node after
  anti-entropy, and QUORUM acknowledgements given while only one node ran (must be 0).
- ``partition`` (root): node0's link down in a network namespace for 8 s; QUORUM acknowledgements through the
  minority (must be 0), lost writes after healing, time to heal.
- ``startups``: false deaths in ``--startups`` simulated 5-node startups, and in ``--restarts`` real restarts of one
  node of a 3-process cluster (DEAD seen for a node that was running).
- ``detection``: simulated 100 nodes, time until every node declares a killed node dead, without and with 50%
  message loss (chitchat's bounds: 10 s and 15 s; ours: 5 s and 10 s); a partition longer than the grace period
  heals.
- ``fuzz``: ``--fuzz-frames`` hostile envelopes at a live node process, a real ask after every 10,000; crashes and
  RSS growth.
- ``slow``: a consumer that never reads beside a served client: the client's asks answered.

Usage: ``python benchmarks/faults.py [--cycles 5] [--restarts 20] [--fuzz-frames 1000000] [--skip fuzz ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gossip_sim import bootstrap  # noqa: E402

from zactor import Node, NodeConfig  # noqa: E402
from zactor.errors import ActorError  # noqa: E402
from zactor.services.clock import CLOCK_ACTOR, GetTime  # noqa: E402
from zactor.services.cluster.local_cluster import LocalCluster  # noqa: E402
from zactor.services.cluster.netns import unavailable_reason  # noqa: E402
from zactor.services.cluster.process import NodeProcess, rss_mib  # noqa: E402
from zactor.services.cluster.scenarios import PayloadSource, Want, isolate_one_of_three, wait_converged  # noqa: E402
from zactor.services.membership.gossip import EventKind, MembershipConfig, MemberStatus  # noqa: E402
from zactor.services.membership.simulation import Simulation  # noqa: E402
from zactor.services.replication.history import WriteHistory, write_unique_keys  # noqa: E402
from zactor.transport.fuzzing import fuzz_node, unread_requests  # noqa: E402

RESULTS: list[tuple[str, str, str]] = []


def report(name: str, value: object, target: str = "") -> None:
    RESULTS.append((name, str(value), target))
    print(f"   {name:<58} {value!s:>14}  {target}", flush=True)


STORE_ARGS = ("--replication-factor", "3", "--anti-entropy-interval", "0.5")


# ------------------------------------------------------------------------------------------------------ kills


async def kills(cycles: int) -> None:
    print("kills: QUORUM writes while nodes are SIGKILLed and restarted", flush=True)
    with tempfile.TemporaryDirectory() as data_dir, LocalCluster(3, node_args=STORE_ARGS, data_dir=data_dir) as cluster:
        async with Node(NodeConfig(node_id="writer")) as client:
            history, stop = WriteHistory(), asyncio.Event()
            running = lambda: [cluster.address(i) for i in cluster.running()]  # noqa: E731
            writer = asyncio.create_task(write_unique_keys(client, running, "faults", "quorum", history, stop))
            minority_windows = []
            for cycle in range(cycles):
                victim = 1 + cycle % 2
                await asyncio.sleep(1.0)
                await asyncio.to_thread(cluster.kill, victim)
                await asyncio.sleep(1.5)
                await asyncio.to_thread(cluster.restart, victim)
                await asyncio.sleep(1.0)
                await asyncio.to_thread(cluster.kill, 1)
                await asyncio.to_thread(cluster.kill, 2)
                start = time.monotonic()
                await asyncio.sleep(5.0)
                minority_windows.append((start, time.monotonic()))
                await asyncio.to_thread(cluster.restart, 1)
                await asyncio.to_thread(cluster.restart, 2)
                await asyncio.to_thread(cluster.wait_converged, 30.0)
            stop.set()
            await writer
            missing = await wait_converged(client, [cluster.address(i) for i in range(3)], "faults", history, 60.0)
            lost = len({key for keys in missing.values() for key in keys})
        minority = sum(len(history.acked_between(a, b)) for a, b in minority_windows)
        report(f"writes issued ({cycles} cycles of 1-node and 2-node kills)", len(history.operations))
        report("writes acknowledged at QUORUM", len(history.acked))
        report("acknowledged writes lost (any node, after anti-entropy)", lost, "target 0")
        report("QUORUM acknowledgements while one node of 3 ran", minority, "target 0")


# -------------------------------------------------------------------------------------------------- partition


async def partition() -> None:
    reason = unavailable_reason()
    if reason:
        report("partition", f"skipped: {reason}")
        return
    print("partition: node0's link down for 8 s in network namespaces", flush=True)
    with tempfile.TemporaryDirectory() as data_dir:
        outcome = await isolate_one_of_three(Path(data_dir), STORE_ARGS)
    lost = len({key for keys in outcome.missing.values() for key in keys})
    report("partition: QUORUM writes tried through the minority", outcome.minority_issued)
    report("partition: acknowledged by the minority", len(outcome.minority_acked), "target 0")
    report("partition: acknowledged by the majority", len(outcome.majority.acked))
    report("partition: acknowledged writes lost after healing", lost, "target 0")
    report("partition: link up -> all three live again, s", f"{outcome.heal_s:.2f}")


# --------------------------------------------------------------------------------------------------- startups


def simulated_startups(count: int) -> None:
    false_deaths = 0
    for seed in range(count):
        sim = Simulation(seed=seed)
        for i in range(5):
            sim.add_node(f"n{i}", seeds=["n0"] if i else [])
        sim.run_until(lambda sim=sim: sim.all_see(list(sim.nodes), MemberStatus.LIVE), max_s=20.0)
        sim.run_for(10.0)
        false_deaths += sum(
            1 for core in sim.nodes.values() for event in core.take_events() if event.kind is EventKind.DEAD
        )
    report(f"false deaths in {count} simulated 5-node startups", false_deaths, "target 0")


def real_restarts(count: int) -> None:
    print(f"startups: {count} SIGKILL + restart cycles of node2 in a 3-process cluster", flush=True)
    false_deaths = 0
    with LocalCluster(3) as cluster:
        for _ in range(count):
            cluster.kill(2)
            cluster.wait_until(lambda: "node2" not in cluster.live_ids(0), 15.0, "node2 dead")
            cluster.restart(2)
            end = time.monotonic() + 2.0
            while time.monotonic() < end or len(cluster.live_ids(2)) < 3:
                for i in range(3):
                    rows = cluster.members(i).rows
                    false_deaths += sum(1 for row in rows if row[3] == "dead" and row[0] != "node2")
                    if i != 2 and len(cluster.live_ids(2)) == 3:
                        false_deaths += sum(1 for row in rows if row[0] == "node2" and row[3] == "dead")
                time.sleep(0.1)
    report(f"false deaths in {count} real restarts (DEAD seen for a running node)", false_deaths, "target 0")


# -------------------------------------------------------------------------------------------------- detection


def detection(seeds: int) -> None:
    print("detection: 100 simulated nodes, one killed", flush=True)
    for loss in (0.0, 0.5):
        times = []
        for seed in range(seeds):
            sim = bootstrap(100, 0.2, seed)
            sim.loss_rate = loss
            sim.run_for(5.0)
            sim.kill("n1")
            times.append(sim.run_until(lambda sim=sim: sim.all_see(["n1"], MemberStatus.DEAD), max_s=60.0))
        target = "target <= 5 s (chitchat 10 s)" if not loss else "target <= 10 s (chitchat 15 s)"
        report(f"dead for all 100 nodes, {loss:.0%} loss, worst of {seeds} seeds, s", f"{max(times):.1f}", target)
    sim = Simulation(seed=3, config=MembershipConfig(dead_grace_s=5.0))
    for i in range(3):
        sim.add_node(f"n{i}", seeds=["n0"] if i else [])
    sim.run_until(lambda: sim.all_see(["n0", "n1", "n2"], MemberStatus.LIVE), max_s=10.0)
    sim.partition(["n0"], ["n1", "n2"])
    sim.run_for(60.0)
    sim.heal()
    heal_s = sim.run_until(lambda: sim.all_see(["n0", "n1", "n2"], MemberStatus.LIVE), max_s=30.0)
    report("simulated partition of 60 s (12 x the grace period) healed in, s", f"{heal_s:.1f}")


# ------------------------------------------------------------------------------------------------------- fuzz


async def fuzz(frames: int) -> None:
    print(f"fuzz: {frames:,} hostile envelopes at a live node", flush=True)
    with tempfile.TemporaryDirectory() as data_dir:
        args = ("--data-dir", data_dir, "--cluster-id", "fuzz")
        with NodeProcess("fuzzed", extra_args=args, log_path=Path(data_dir) / "fuzzed.log") as proc:
            async with Node(NodeConfig(node_id="prober")) as client:
                probes = 0

                async def probe() -> None:
                    nonlocal probes
                    await client.ref(CLOCK_ACTOR, address=proc.address).ask(GetTime(), timeout_s=5.0)
                    probes += 1

                await fuzz_node(proc.address, seed=0, count=10_000, probe=probe)
                before = rss_mib(proc.pid)
                start = time.monotonic()
                answered = await fuzz_node(proc.address, seed=1, count=frames, probe=probe, probe_every=10_000)
                elapsed = time.monotonic() - start
                grown = rss_mib(proc.pid) - before
            alive = proc.is_alive()
            log_kib = (Path(data_dir) / "fuzzed.log").stat().st_size / 1024
    report("fuzz: envelopes sent", f"{frames:,}")
    report("fuzz: envelopes per second", f"{frames / elapsed:,.0f}")
    report("fuzz: answered with ERROR", f"{answered:,}")
    report("fuzz: real asks answered (one per 10,000 envelopes)", probes)
    report("fuzz: node crashed", "no" if alive else "YES", "target no")
    report("fuzz: RSS growth, MiB", f"{grown:.1f}", "target < 20")
    report("fuzz: the node's log, KiB (rate-limited)", f"{log_kib:,.0f}")


# ------------------------------------------------------------------------------------------------------- slow


async def slow_consumer() -> None:
    print("slow: a consumer that never reads beside a served client", flush=True)
    async with Node(NodeConfig(node_id="server", hwm=20)) as server:
        async with Node(NodeConfig(node_id="client")) as client:
            await server.add_actor("source", PayloadSource())
            sock = unread_requests(server.address, "source", Want(size=200_000), 1000)
            answered = 0
            ref = client.ref("source", address=server.address)
            for _ in range(1000):
                try:
                    await ref.ask(Want(size=16), timeout_s=2.0)
                    answered += 1
                except ActorError:
                    pass
            sock.close()
            waits = server.transport.stats["send_waits"]
    report("slow: neighbour asks answered beside a consumer that never reads", f"{answered} / 1000", "target all")
    report("slow: replies that had to wait for the slow consumer", waits)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=5, help="kill cycles (default: %(default)s)")
    parser.add_argument("--restarts", type=int, default=20, help="real restarts (default: %(default)s)")
    parser.add_argument("--startups", type=int, default=100, help="simulated startups (default: %(default)s)")
    parser.add_argument("--detection-seeds", type=int, default=3, help="seeds per detection run (default: 3)")
    parser.add_argument("--fuzz-frames", type=int, default=1_000_000, help="hostile envelopes (default: 10^6)")
    parser.add_argument("--skip", action="append", default=[], help="a section to skip; repeatable")
    args = parser.parse_args()
    skip = set(args.skip)
    if "kills" not in skip:
        await kills(args.cycles)
    if "partition" not in skip:
        await partition()
    if "startups" not in skip:
        simulated_startups(args.startups)
        await asyncio.to_thread(real_restarts, args.restarts)
    if "detection" not in skip:
        detection(args.detection_seeds)
    if "slow" not in skip:
        await slow_consumer()
    if "fuzz" not in skip:
        await fuzz(args.fuzz_frames)
    print("\nsummary")
    for name, value, target in RESULTS:
        print(f"   {name:<58} {value:>14}  {target}")


if __name__ == "__main__":
    asyncio.run(main())
