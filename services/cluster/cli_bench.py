"""``zactor bench``: the RPC benchmark, zactor against raw pyzmq (and Pyro5) measured in the same run.

Each measurement runs a fresh server process and a fresh client process on loopback (:mod:`.bench`):

- a sequential 16-byte ask: calls/s, p50 and p99 latency in microseconds;
- pipelined asks, 100 in flight (Pyro5: 64 threads with a proxy each): calls/s;
- unless ``--no-large``, a 64 MiB bytes payload's round trip: MiB/s and the peak RSS of both processes (raw pyzmq
  with ``copy=False``).

The systems measured: raw pyzmq (a DEALER/ROUTER echo), zactor from an asyncio caller, zactor's blocking client
(``zactor.connect``; sequential only), and with ``--peers`` a blocking pyzmq RPC with a msgpack envelope
(``msgpack``; sequential only) and Pyro5 with its msgpack serializer (``pip install 'zactor[bench]'``). Runs
alternate ``--repeat`` times and the best figure of each counts (neighbours make single runs noisy); ratios to raw
pyzmq print last, then the blocking client's against the two peers. ``--curve`` adds raw pyzmq and zactor with
CURVE on (zactor with its ZAP authentication, raw pyzmq with CURVE alone) and prints the fraction of plaintext each
keeps.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from zactor.loops import loop_kind
from zactor.services.cluster import bench
from zactor.services.cluster.cli_args import add_command, positive_float, positive_int
from zactor.transport.security import add_key, init_keyring

__all__ = ["add_bench_parser", "run_bench", "main", "measure", "run_pair"]

_MIB = 1024 * 1024
Workload = Callable[..., None]
T = TypeVar("T")

# system -> (server, client, tests it runs)
_SYSTEMS: dict[str, tuple[Workload, Workload, tuple[str, ...]]] = {
    "raw": (bench.raw_server, bench.raw_client, ("small", "big")),
    "msgpack": (bench.msgpack_server, bench.msgpack_client, ("small",)),
    "zactor": (bench.zactor_server, bench.zactor_client, ("small", "big")),
    "blocking": (bench.zactor_server, bench.blocking_client, ("small", "big")),
    "pyro5": (bench.pyro_server, bench.pyro_client, ("small",)),
}
_ROWS = [
    ("sequential ask, calls/s", "seq_per_s", "{:,.0f}"),
    ("sequential p50, us", "p50_us", "{:.1f}"),
    ("sequential p99, us", "p99_us", "{:.1f}"),
    (f"pipelined ({bench.IN_FLIGHT} in flight), calls/s", "pipelined_per_s", "{:,.0f}"),
    ("large payload round trip, MiB/s", "mib_per_s", "{:,.0f}"),
    ("peak RSS client, MiB", "client_rss", "{:.0f}"),
    ("peak RSS server, MiB", "server_rss", "{:.0f}"),
]


def add_bench_parser(sub: Any) -> None:
    """Add the ``bench`` command to the ``zactor`` parser."""
    parser = add_command(sub, "bench", "the RPC benchmark: zactor against raw pyzmq (and Pyro5) in the same run")
    _add_options(parser)


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=positive_float, default=2.0, help="duration of each small-message run (s)")
    parser.add_argument("--payload-mib", type=positive_int, default=64, help="size of the large payload (MiB)")
    parser.add_argument("--rounds", type=positive_int, default=5, help="round trips of the large payload")
    parser.add_argument("--repeat", type=positive_int, default=3, help="alternating runs of each; the best counts")
    parser.add_argument("--no-large", action="store_true", help="skip the large payload")
    parser.add_argument("--curve", action="store_true", help="also measure raw pyzmq and zactor with CURVE on")
    parser.add_argument(
        "--peers", action="store_true", help="also measure Pyro5 (msgpack serializer) and a pyzmq + msgpack RPC"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from a script (``benchmarks/rpc.py``); returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_options(parser)
    return run_bench(parser.parse_args(argv))


def run_bench(args: argparse.Namespace) -> int:
    """Measure and print the report (see the module docstring); returns the exit code.

    Raises:
        ValueError: ``--peers`` without Pyro5 installed.
    """
    if args.peers and importlib.util.find_spec("Pyro5") is None:
        raise ValueError("--peers measures Pyro5, which is not installed: pip install 'zactor[bench]'")
    tests = ("small",) if args.no_large else ("small", "big")
    with tempfile.TemporaryDirectory(prefix="zactor-bench-") as scratch:
        keyring = str(init_keyring(Path(scratch) / "keyring"))
        for name in ("server", "client"):
            add_key(keyring, name)
        runs: dict[str, tuple[str, str | None]] = {"raw": ("raw", None), "zactor": ("zactor", None)}
        runs["blocking"] = ("blocking", None)
        if args.peers:
            runs["msgpack"] = ("msgpack", None)
            runs["pyro5"] = ("pyro5", None)
        if args.curve:
            runs.update({"raw curve": ("raw", keyring), "zactor curve": ("zactor", keyring)})
        results: dict[str, dict[str, float]] = {name: {} for name in runs}
        for test in tests:
            for attempt in range(args.repeat):
                for name, (system, keys) in runs.items():
                    if test not in _SYSTEMS[system][2]:
                        continue
                    print(f"measuring {name} {test} ({attempt + 1}/{args.repeat}) ...", file=sys.stderr, flush=True)
                    for key, value in _measure(system, test, args, keys).items():
                        results[name][key] = _best(key, results[name].get(key), value)
    _report(results, args)
    return 0


def _best(key: str, old: float | None, new: float) -> float:
    """The better of two runs: the higher rate, or the lower latency and memory."""
    if old is None:
        return new
    lower_is_better = key.endswith("_us") or key.endswith("rss")
    return min(old, new) if lower_is_better else max(old, new)


def measure(
    system: str, test: str, *, seconds: float = 2.0, payload_mib: int = 64, rounds: int = 5, keyring: str | None = None
) -> dict[str, float]:
    """One run of ``system`` (``raw``, ``zactor``, ``blocking``, ``pyro5``) on ``test`` (``small`` or ``big``): a
    server process and a client process, both stopped by PID after; returns the client's figures."""
    args = argparse.Namespace(seconds=seconds, payload_mib=payload_mib, rounds=rounds)
    return _measure(system, test, args, keyring)


def _measure(system: str, test: str, args: argparse.Namespace, keyring: str | None) -> dict[str, float]:
    server_fn, client_fn, _ = _SYSTEMS[system]
    client_args = (test, args.seconds, args.payload_mib, args.rounds)
    return run_pair(server_fn, client_fn, client_args, keyring, 120 + 4 * args.seconds)[0]


def run_pair(
    server_fn: Workload,
    client_fn: Workload,
    client_args: tuple[Any, ...],
    keyring: str | None,
    timeout_s: float,
    watch: Callable[[int], T] | None = None,
) -> tuple[dict[str, float], T | None]:
    """Run ``server_fn(port_q, keyring)`` in a process, then ``client_fn(port, *client_args, out_q, keyring)`` in
    another, and ``watch(server_pid)`` here while the client runs; both are stopped by PID after.

    Returns:
        The client's figures, and what ``watch`` returned (``None`` without one).

    Raises:
        queue.Empty: the server gave no port within 60 s, or the client no figures within ``timeout_s`` s.
    """
    mpc = mp.get_context("spawn")
    port_q, out_q = mpc.Queue(), mpc.Queue()
    server = mpc.Process(target=server_fn, args=(port_q, keyring), daemon=True)
    server.start()
    client = None
    try:
        port = port_q.get(timeout=60)
        client = mpc.Process(target=client_fn, args=(port, *client_args, out_q, keyring), daemon=True)
        client.start()
        watched = watch(server.pid) if watch is not None and server.pid is not None else None
        result: dict[str, float] = out_q.get(timeout=timeout_s)
        client.join(30)
        server.join(30)
        return result, watched
    finally:
        for proc in (client, server):
            if proc is not None and proc.is_alive():
                proc.kill()
                proc.join(5)


def _cell(key: str, value: float | None, fmt: str) -> str:
    if value is None:
        return "-"
    return fmt.format(value / _MIB if key.endswith("rss") else value)


def _report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    names = [name for name in ("raw", "msgpack", "zactor", "blocking", "pyro5") if name in results]
    large = "skipped" if args.no_large else f"{args.payload_mib} MiB"
    print(f"\nevent loop: {loop_kind()}; large payload: {large}; best of {args.repeat} runs")
    print(f"{'':36}" + "".join(f"{name:>12}" for name in names))
    for label, key, fmt in _ROWS:
        row = [results[name].get(key) for name in names]
        if all(value is None for value in row):
            continue
        print(f"{label:36}" + "".join(f"{_cell(key, value, fmt):>12}" for value in row))
    print(f"\n{'x raw pyzmq':36}" + "".join(f"{name:>12}" for name in names[1:]))
    for label, key, _ in _ROWS:
        raw = results["raw"].get(key)
        if raw is None:
            continue
        ratios = [results[name].get(key) for name in names[1:]]
        cells = [f"{value / raw:.2f}x" if value is not None else "-" for value in ratios]
        print(f"{label:36}" + "".join(f"{cell:>12}" for cell in cells))
    blocking = results["blocking"].get("seq_per_s")
    for peer in ("msgpack", "pyro5"):
        theirs = results.get(peer, {}).get("seq_per_s")
        if blocking is not None and theirs:
            print(f"blocking client's sequential calls/s against {peer}: {blocking / theirs:.2f}x")
    if "raw curve" in results:
        print(f"\n{'with CURVE / plaintext':36}{'raw':>12}{'zactor':>12}")
        for label, key, _ in _ROWS[:5]:
            if any(key not in results[name] for name in ("raw", "zactor", "raw curve", "zactor curve")):
                continue
            raw_kept = results["raw curve"][key] / results["raw"][key]
            ours_kept = results["zactor curve"][key] / results["zactor"][key]
            print(f"{label:36}{raw_kept:>12.2f}{ours_kept:>12.2f}")
