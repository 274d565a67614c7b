"""The RPC benchmark's workloads: a 16-byte echo and a large payload, each served and driven by raw pyzmq, by
zactor (an asyncio caller and the blocking client) and by Pyro5 with its msgpack serializer when installed.

Each function runs in a process of its own (``multiprocessing`` spawn): a server puts its port on ``port_q`` and
serves until the client's stop message; a client puts its figures (``seq_per_s``, ``p50_us``, ``p99_us``,
``pipelined_per_s``, ``mib_per_s``, ``client_rss``, ``server_rss``) on ``out_q``. :mod:`.cli_bench` runs them.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import zmq
import zmq.auth

import zactor
from zactor import Actor, Context, Node, NodeConfig, handler, message
from zactor.loops import run as run_loop
from zactor.transport import ZmqTransport

__all__ = [
    "IN_FLIGHT",
    "raw_server",
    "raw_client",
    "msgpack_server",
    "msgpack_client",
    "zactor_server",
    "zactor_libzmq_server",
    "zactor_sync_server",
    "zactor_client",
    "blocking_client",
    "pyro_server",
    "pyro_client",
]

IN_FLIGHT = 100
STOP = b"__stop__"
_WARM_UP = 200  # calls before timing
_MIB = 1024 * 1024
PYRO_THREADS = 64


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
    """A blocking pyzmq ROUTER echoing every message with ``copy=False`` (CURVE with ``keyring``, no ZAP)."""
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
    """A blocking pyzmq DEALER: sequential 16-byte calls, then ``IN_FLIGHT`` pipelined ones (``small``), or the
    large payload with ``copy=False`` (``big``)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 1000)
    _raw_curve(sock, keyring, "client")
    sock.connect(f"tcp://127.0.0.1:{port}")
    result: dict[str, float] = {}
    if test == "small":
        payload = b"x" * 16

        def echo() -> None:
            sock.send(payload)
            sock.recv()

        result.update(_sequential(echo, seconds))
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
        large = bytes(payload_mib * _MIB)

        def echo_large() -> int:
            sock.send(large, copy=False)
            return len(sock.recv(copy=False))

        result.update(_large_round_trips(echo_large, payload_mib, rounds))
    sock.send(STOP)
    reply = sock.recv()
    if test == "big":
        result["server_rss"] = int(reply)
    sock.close()
    ctx.term()
    out_q.put(result)


def msgpack_server(port_q: Any, keyring: str | None) -> None:
    """A blocking pyzmq ROUTER that decodes each request as a msgpack envelope ``[request id, method, payload]`` and
    answers ``[request id, payload]``: an RPC echo with an envelope and no framework (``keyring`` unsupported)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 1000)
    port_q.put(sock.bind_to_random_port("tcp://127.0.0.1"))
    while True:
        peer, body = sock.recv_multipart()
        request_id, method, payload = msgpack.unpackb(body)
        sock.send_multipart([peer, msgpack.packb([request_id, payload])])
        if method == "stop":
            break
    sock.close()
    ctx.term()


def msgpack_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    """A blocking pyzmq DEALER calling :func:`msgpack_server`: sequential 16-byte calls (``small`` only)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(f"tcp://127.0.0.1:{port}")
    ids = iter(range(1, 1 << 62))
    payload = b"x" * 16

    def call(method: str = "echo") -> None:
        request_id = next(ids)
        sock.send(msgpack.packb([request_id, method, payload]))
        if msgpack.unpackb(sock.recv())[0] != request_id:
            raise RuntimeError("a reply to another request")

    result = _sequential(call, seconds)
    call("stop")
    sock.close()
    ctx.term()
    out_q.put(result)


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


class SyncEchoActor(EchoActor):
    """:class:`EchoActor` with a synchronous echo handler (``def``), which runs in the receive callback."""

    @handler
    def echo(self, msg: Echo, ctx: Context) -> Echo:  # type: ignore[override]  # def instead of async def
        return msg


def _config(node_id: str, keyring: str | None, key_name: str) -> NodeConfig:
    if keyring is None:
        return NodeConfig(node_id=node_id)
    return NodeConfig(keyring_dir=keyring, key_name=key_name)


def zactor_server(port_q: Any, keyring: str | None) -> None:
    """A zactor node hosting ``echo`` (secure with ``keyring``), on zactor's default event loop."""
    _serve_echo(port_q, keyring, libzmq=False)


def zactor_libzmq_server(port_q: Any, keyring: str | None) -> None:
    """As :func:`zactor_server`, on libzmq's ROUTER and DEALERs even without a keyring (``asyncio_zmtp=False``)."""
    _serve_echo(port_q, keyring, libzmq=True)


def zactor_sync_server(port_q: Any, keyring: str | None) -> None:
    """As :func:`zactor_server`, with a synchronous echo handler (:class:`SyncEchoActor`)."""
    _serve_echo(port_q, keyring, libzmq=False, actor=SyncEchoActor)


def _serve_echo(port_q: Any, keyring: str | None, libzmq: bool, actor: type[EchoActor] = EchoActor) -> None:
    async def serve() -> None:
        done = asyncio.Event()
        config = _config("bench-server", keyring, "server")
        transport = ZmqTransport(asyncio_zmtp=False) if libzmq else None
        async with Node(config, transport=transport) as node:
            await node.add_actor("echo", actor(done))
            port_q.put(int(node.address.rsplit(":", 1)[1]))
            await done.wait()
            await asyncio.sleep(0.2)

    run_loop(serve())


def zactor_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    """Asks from a zactor node: sequential, then ``IN_FLIGHT`` tasks asking in a loop (``small``), or the large
    payload (``big``)."""

    async def run() -> dict[str, float]:
        result: dict[str, float] = {}
        async with Node(_config("bench-client", keyring, "client")) as node:
            ref = node.ref("echo", address=f"tcp://127.0.0.1:{port}")
            if test == "small":
                msg = Echo(data=b"x" * 16)
                for _ in range(_WARM_UP):
                    await ref.ask(msg)
                latencies: list[int] = []
                end = time.perf_counter() + seconds
                while time.perf_counter() < end:  # as _sequential, awaiting each call
                    start_ns = time.perf_counter_ns()
                    await ref.ask(msg)
                    latencies.append(time.perf_counter_ns() - start_ns)
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
                msg = Echo(data=bytes(payload_mib * _MIB))
                t0 = time.perf_counter()
                for _ in range(rounds):
                    _check_echo(len((await ref.ask(msg, timeout_s=60.0)).data), payload_mib)
                result["mib_per_s"] = 2 * rounds * payload_mib / (time.perf_counter() - t0)
                result["client_rss"] = _peak_rss_bytes()
            rss = await ref.ask(Stop())
            if test == "big":
                result["server_rss"] = rss.peak_rss_bytes
        return result

    out_q.put(run_loop(run()))


def blocking_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    """zactor's blocking client (``zactor.connect``): no event loop on the call path; sequential asks only."""
    result: dict[str, float] = {}
    key_name = "client" if keyring else None
    with zactor.connect(f"tcp://127.0.0.1:{port}", timeout_s=60.0, keyring_dir=keyring, key_name=key_name) as client:
        ref = client.ref("echo")
        if test == "small":
            small = Echo(data=b"x" * 16)
            result.update(_sequential(lambda: ref.ask(small), seconds))
        else:
            large = Echo(data=bytes(payload_mib * _MIB))
            result.update(_large_round_trips(lambda: len(ref.ask(large).data), payload_mib, rounds))
        rss = ref.ask(Stop())
        if test == "big":
            result["server_rss"] = rss.peak_rss_bytes
    out_q.put(result)


def _sequential(call: Callable[[], object], seconds: float) -> dict[str, float]:
    """Time ``call`` one at a time for ``seconds`` s, after ``_WARM_UP`` calls: calls/s, p50 and p99 in µs."""
    for _ in range(_WARM_UP):
        call()
    latencies: list[int] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start_ns = time.perf_counter_ns()
        call()
        latencies.append(time.perf_counter_ns() - start_ns)
    return _latency_figures(latencies)


def _large_round_trips(call: Callable[[], int], payload_mib: int, rounds: int) -> dict[str, float]:
    """``rounds`` round trips of a ``payload_mib`` MiB payload (``call`` returns the echo's size in bytes): MiB/s
    both ways together, and this process's peak RSS in bytes."""
    t0 = time.perf_counter()
    for _ in range(rounds):
        _check_echo(call(), payload_mib)
    return {"mib_per_s": 2 * rounds * payload_mib / (time.perf_counter() - t0), "client_rss": _peak_rss_bytes()}


def _check_echo(size_bytes: int, payload_mib: int) -> None:
    if size_bytes != payload_mib * _MIB:
        raise RuntimeError(f"the echo came back with {size_bytes} bytes, not {payload_mib} MiB")


def _latency_figures(latencies_ns: list[int]) -> dict[str, float]:
    latencies_ns.sort()
    return {
        "seq_per_s": 1e9 / statistics.fmean(latencies_ns),
        "p50_us": latencies_ns[len(latencies_ns) // 2] / 1000,
        "p99_us": latencies_ns[int(len(latencies_ns) * 0.99)] / 1000,
    }


def pyro_server(port_q: Any, keyring: str | None) -> None:
    """Pyro5 (thread-pool server, msgpack serializer) serving ``echo``; no keyring support (plaintext only)."""
    import threading

    import Pyro5.api
    from Pyro5 import config

    config.SERIALIZER = "msgpack"
    stopped = threading.Event()

    @Pyro5.api.expose
    class PyroEcho:
        def echo(self, data: bytes) -> bytes:
            return data

        def stop(self) -> int:
            stopped.set()
            return _peak_rss_bytes()

    with Pyro5.api.Daemon(host="127.0.0.1", port=0) as daemon:
        daemon.register(PyroEcho(), "echo")
        port_q.put(int(daemon.locationStr.rsplit(":", 1)[1]))
        daemon.requestLoop(lambda: not stopped.is_set())


def pyro_client(
    port: int, test: str, seconds: float, payload_mib: int, rounds: int, out_q: Any, keyring: str | None
) -> None:
    """Sequential calls through one Pyro5 proxy, then ``PYRO_THREADS`` threads with a proxy each (a Pyro5 proxy
    serves one call at a time): Pyro5's way to have calls in flight."""
    import threading

    import Pyro5.api
    from Pyro5 import config

    config.SERIALIZER = "msgpack"
    uri = f"PYRO:echo@127.0.0.1:{port}"
    payload = b"x" * 16
    result: dict[str, float] = {}
    with Pyro5.api.Proxy(uri) as proxy:
        result.update(_sequential(lambda: proxy.echo(payload), seconds))
        counts = [0] * PYRO_THREADS

        def worker(i: int) -> None:
            with Pyro5.api.Proxy(uri) as own:
                own.echo(payload)
                while time.perf_counter() < end:
                    own.echo(payload)
                    counts[i] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(PYRO_THREADS)]
        t0 = time.perf_counter()
        end = t0 + seconds
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result["pipelined_per_s"] = sum(counts) / (time.perf_counter() - t0)
        proxy.stop()
    out_q.put(result)
