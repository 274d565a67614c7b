"""RPC benchmark: zactor asks against a raw pyzmq DEALER/ROUTER echo, measured in the same run.

Each measurement runs a fresh server process and a fresh client process on loopback:

(a) sequential ask of a 16-byte message: calls/s, p50 and p99 latency in microseconds;
(b) pipelined asks with 100 in flight: calls/s;
(c) a 64 MiB bytes payload round trip: MiB/s, and the peak RSS of both processes (raw pyzmq with ``copy=False``);

and (a) and (c) again from zactor's blocking client (``zactor.connect``) against the same zactor server.

Usage: ``python benchmarks/rpc.py [--seconds S] [--payload-mib M] [--rounds R] [--repeat N] [--curve]``. Raw and
zactor runs alternate ``N`` times and the best figure of each counts (this machine's neighbours make single runs
noisy). Ratios to raw pyzmq print last. ``--curve`` also measures both with CURVE encryption on (zactor with its ZAP
authentication, raw pyzmq with CURVE alone) in the same run, and prints the fraction of plaintext each keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zmq  # noqa: E402
import zmq.auth  # noqa: E402

import zactor  # noqa: E402
from zactor import Actor, Context, Node, NodeConfig, handler, message  # noqa: E402
from zactor.transport.security import add_key, init_keyring  # noqa: E402

IN_FLIGHT = 100
STOP = b"__stop__"


@message("bench.Echo")
class Echo:
    data: bytes


@message("bench.Stop")
class Stop:
    pass


@message("bench.Rss")
class Rss:
    peak_rss_bytes: int


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------------------------------------ raw pyzmq


def _raw_curve(sock: zmq.Socket[bytes], keyring: str | None, role: str) -> None:
    """CURVE on a raw socket from the benchmark's keyring (no ZAP: any client key is accepted)."""
    if keyring is None:
        return
    root = Path(keyring)
    if role == "server":
        public, secret = zmq.auth.load_certificate(root / "cluster.key_secret")
        sock.setsockopt(zmq.CURVE_SERVER, 1)
    else:
        sock.setsockopt(zmq.CURVE_SERVERKEY, zmq.auth.load_certificate(root / "cluster.key")[0])
        public, secret = zmq.auth.load_certificate(root / "secrets" / "client.key_secret")
    sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret or b"")


def raw_server(port_q: Any, keyring: str | None) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 1000)
    _raw_curve(sock, keyring, "server")
    port_q.put(sock.bind_to_random_port("tcp://127.0.0.1"))
    while True:
        frames = sock.recv_multipart(copy=False)
        if len(frames[1]) == len(STOP) and frames[1].bytes == STOP:
            sock.send_multipart([frames[0], str(_peak_rss_bytes()).encode()])
            break
        sock.send_multipart(frames, copy=False)
    sock.close()
    ctx.term()


def raw_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 1000)
    _raw_curve(sock, keyring, "client")
    sock.connect(f"tcp://127.0.0.1:{port}")
    result: dict[str, float] = {}
    if test == "small":
        payload = b"x" * 16
        for _ in range(200):
            sock.send(payload)
            sock.recv()
        latencies = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter_ns()
            sock.send(payload)
            sock.recv()
            latencies.append(time.perf_counter_ns() - t0)
        result.update(_latency_figures(latencies))
        count = 0
        for _ in range(IN_FLIGHT):
            sock.send(payload)
        t0 = time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            sock.recv()
            sock.send(payload)
            count += 1
        result["pipelined_per_s"] = count / (time.perf_counter() - t0)
        for _ in range(IN_FLIGHT):
            sock.recv()
    else:
        payload = bytes(payload_mib * 1024 * 1024)
        t0 = time.perf_counter()
        for _ in range(rounds):
            sock.send(payload, copy=False)
            frame = sock.recv(copy=False)
            assert len(frame) == len(payload)
            del frame
        result["mib_per_s"] = 2 * rounds * payload_mib / (time.perf_counter() - t0)
        result["client_rss"] = _peak_rss_bytes()
    sock.send(STOP)
    reply = sock.recv()
    if test == "big":
        result["server_rss"] = int(reply)
    sock.close()
    ctx.term()
    out_q.put(result)


# ---------------------------------------------------------------------------------------------------- zactor


class EchoActor(Actor):
    def __init__(self, done: asyncio.Event) -> None:
        self.done = done

    @handler
    async def echo(self, msg: Echo, ctx: Context) -> Echo:
        return msg

    @handler
    async def stop(self, msg: Stop, ctx: Context) -> Rss:
        self.done.set()
        return Rss(peak_rss_bytes=_peak_rss_bytes())


def _config(node_id: str, keyring: str | None, key_name: str) -> NodeConfig:
    if keyring is None:
        return NodeConfig(node_id=node_id)
    return NodeConfig(node_id=node_id, keyring_dir=keyring, key_name=key_name)


def zactor_server(port_q: Any, keyring: str | None) -> None:
    async def serve() -> None:
        done = asyncio.Event()
        async with Node(_config("bench-server", keyring, "server")) as node:
            await node.add_actor("echo", EchoActor(done))
            port_q.put(int(node.address.rsplit(":", 1)[1]))
            await done.wait()
            await asyncio.sleep(0.2)

    asyncio.run(serve())


def zactor_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    async def run() -> dict[str, float]:
        result: dict[str, float] = {}
        async with Node(_config("bench-client", keyring, "client")) as node:
            ref = node.ref("echo", address=f"tcp://127.0.0.1:{port}")
            if test == "small":
                msg = Echo(data=b"x" * 16)
                for _ in range(200):
                    await ref.ask(msg)
                latencies = []
                end = time.perf_counter() + seconds
                while time.perf_counter() < end:
                    t0 = time.perf_counter_ns()
                    await ref.ask(msg)
                    latencies.append(time.perf_counter_ns() - t0)
                result.update(_latency_figures(latencies))
                counts = [0] * IN_FLIGHT
                t0 = time.perf_counter()
                end = t0 + seconds

                async def worker(i: int) -> None:
                    while time.perf_counter() < end:
                        await ref.ask(msg)
                        counts[i] += 1

                await asyncio.gather(*(worker(i) for i in range(IN_FLIGHT)))
                result["pipelined_per_s"] = sum(counts) / (time.perf_counter() - t0)
            else:
                msg = Echo(data=bytes(payload_mib * 1024 * 1024))
                t0 = time.perf_counter()
                for _ in range(rounds):
                    reply = await ref.ask(msg, timeout_s=60.0)
                    assert len(reply.data) == len(msg.data)
                    del reply
                result["mib_per_s"] = 2 * rounds * payload_mib / (time.perf_counter() - t0)
                result["client_rss"] = _peak_rss_bytes()
            rss = await ref.ask(Stop())
            if test == "big":
                result["server_rss"] = rss.peak_rss_bytes
        return result

    out_q.put(asyncio.run(run()))


def blocking_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    """zactor's blocking client (``zactor.connect``): no event loop on the call path; sequential asks only."""
    result: dict[str, float] = {}
    key_name = "client" if keyring else None
    with zactor.connect(f"tcp://127.0.0.1:{port}", timeout_s=60.0, keyring_dir=keyring, key_name=key_name) as client:
        ref = client.ref("echo")
        if test == "small":
            msg = Echo(data=b"x" * 16)
            for _ in range(200):
                ref.ask(msg)
            latencies = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter_ns()
                ref.ask(msg)
                latencies.append(time.perf_counter_ns() - t0)
            result.update(_latency_figures(latencies))
        else:
            msg = Echo(data=bytes(payload_mib * 1024 * 1024))
            t0 = time.perf_counter()
            for _ in range(rounds):
                reply = ref.ask(msg)
                assert len(reply.data) == len(msg.data)
                del reply
            result["mib_per_s"] = 2 * rounds * payload_mib / (time.perf_counter() - t0)
            result["client_rss"] = _peak_rss_bytes()
        rss = ref.ask(Stop())
        if test == "big":
            result["server_rss"] = rss.peak_rss_bytes
    out_q.put(result)


# ------------------------------------------------------------------------------------------------- harness


def _latency_figures(latencies_ns: list[int]) -> dict[str, float]:
    latencies_ns.sort()
    return {
        "seq_per_s": 1e9 / statistics.fmean(latencies_ns),
        "p50_us": latencies_ns[len(latencies_ns) // 2] / 1000,
        "p99_us": latencies_ns[int(len(latencies_ns) * 0.99)] / 1000,
    }


def _best(key: str, old: float | None, new: float) -> float:
    """The better of two runs: the higher rate, or the lower latency and memory."""
    if old is None:
        return new
    lower_is_better = key.endswith("_us") or key.endswith("rss")
    return min(old, new) if lower_is_better else max(old, new)


def measure(impl: str, test: str, args: argparse.Namespace, keyring: str | None) -> dict[str, float]:
    """One run of ``impl`` ("raw" or "zactor", with " curve" when ``keyring`` is given) on ``test``."""
    mpc = mp.get_context("spawn")
    port_q, out_q = mpc.Queue(), mpc.Queue()
    server_fn, client_fn = (raw_server, raw_client) if impl.startswith("raw") else (zactor_server, zactor_client)
    if impl.startswith("blocking"):
        client_fn = blocking_client
    server = mpc.Process(target=server_fn, args=(port_q, keyring), daemon=True)
    server.start()
    try:
        port = port_q.get(timeout=30)
        client = mpc.Process(
            target=client_fn,
            args=(port, test, args.seconds, args.payload_mib, args.rounds, out_q, keyring),
            daemon=True,
        )
        client.start()
        result = out_q.get(timeout=120 + 4 * args.seconds)
        client.join(30)
        server.join(30)
        return result
    finally:
        for proc in (server,):
            if proc.is_alive():
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each small-message run (s)")
    parser.add_argument("--payload-mib", type=int, default=64, help="size of the large payload (MiB)")
    parser.add_argument("--rounds", type=int, default=10, help="round trips of the large payload")
    parser.add_argument("--repeat", type=int, default=5, help="alternating runs of each; the best one counts")
    parser.add_argument("--curve", action="store_true", help="also measure both with CURVE encryption on")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="zactor-bench-") as scratch:
        keyring = str(init_keyring(Path(scratch) / "keyring"))
        for name in ("server", "client"):
            add_key(keyring, name)
        impls = {"raw": None, "zactor": None, "blocking": None}
        if args.curve:
            impls.update({"raw curve": keyring, "zactor curve": keyring})
        results: dict[str, dict[str, float]] = {impl: {} for impl in impls}
        for test in ("small", "big"):
            for attempt in range(args.repeat):
                for impl, keys in impls.items():
                    print(f"measuring {impl} {test} ({attempt + 1}/{args.repeat}) ...", file=sys.stderr, flush=True)
                    for key, value in measure(impl, test, args, keys).items():
                        results[impl][key] = _best(key, results[impl].get(key), value)
    _report(results, args)


def _report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:

    mib = 1024 * 1024
    rows = [
        ("sequential ask, calls/s", "seq_per_s", "{:,.0f}"),
        ("sequential p50, us", "p50_us", "{:.1f}"),
        ("sequential p99, us", "p99_us", "{:.1f}"),
        (f"pipelined ({IN_FLIGHT} in flight), calls/s", "pipelined_per_s", "{:,.0f}"),
        (f"{args.payload_mib} MiB round trip, MiB/s", "mib_per_s", "{:,.0f}"),
        ("peak RSS client, MiB", "client_rss", "{:.0f}"),
        ("peak RSS server, MiB", "server_rss", "{:.0f}"),
    ]
    for mode in ("", " curve"):
        if f"raw{mode}" not in results:
            continue
        print(f"\n{'':40} {'raw' + mode:>12} {'zactor' + mode:>13} {'ratio':>8}")
        for label, key, fmt in rows:
            raw, ours = results[f"raw{mode}"][key], results[f"zactor{mode}"][key]
            if key.endswith("rss"):
                raw, ours = raw / mib, ours / mib
            print(f"{label:40} {fmt.format(raw):>12} {fmt.format(ours):>13} {ours / raw:>7.2f}x")
    print(f"\n{'blocking client (zactor.connect)':40} {'raw':>12} {'blocking':>13} {'ratio':>8}")
    for label, key, fmt in rows[:3] + rows[4:]:
        raw, ours = results["raw"][key], results["blocking"][key]
        if key.endswith("rss"):
            raw, ours = raw / mib, ours / mib
        print(f"{label:40} {fmt.format(raw):>12} {fmt.format(ours):>13} {ours / raw:>7.2f}x")
    if "raw curve" in results:
        print(f"\n{'with CURVE / plaintext':40} {'raw':>12} {'zactor':>13}")
        for label, key, _ in rows[:5]:
            kept = [results[f"{impl} curve"][key] / results[impl][key] for impl in ("raw", "zactor")]
            print(f"{label:40} {kept[0]:>12.2f} {kept[1]:>13.2f}")


if __name__ == "__main__":
    main()
