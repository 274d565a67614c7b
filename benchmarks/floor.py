"""The floor of a request on asyncio and ZeroMQ, against zactor's node, in the same run.

The floor is the least an asyncio server can do with zactor's envelope: a ROUTER read from the event loop
(``add_reader`` on its FD), the header unpacked, the body decoded, the reply encoded and sent; no registry, mailbox,
deadline, clock, counter or context. The floor without libzmq does the same in an asyncio protocol that speaks ZMTP.
zactor's node, which speaks ZMTP from its event loop by default, measures against the second (with an ``async def``
echo handler, and with a ``def`` one, which runs in the receive callback), and with libzmq's sockets
(``asyncio_zmtp=False``) against the first. All answer zactor's blocking client (sequential 16-byte echo
asks); the CPU each server process spends per request is read from ``/proc/PID/task/*/stat`` over the run, split
into the event loop's thread and libzmq's I/O thread. Runs alternate; each figure is the median of its runs.

Usage: ``python benchmarks/floor.py [--seconds S] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

import zmq

from zactor.loops import run as run_loop
from zactor.services.cluster import bench
from zactor.services.cluster.cli_bench import run_pair
from zactor.transport.envelope import Kind, open_body, pack, unpack
from zactor.transport.framing import GREETING, FrameReader, message_parts, ready
from zactor.transport.pump import recv_rest
from zactor.transport.sockets import ZmqTransport

_TICK = os.sysconf("SC_CLK_TCK")


def echo_reply(frames: list[Any], done: asyncio.Event) -> list[Any]:
    """The floors' answer to one request envelope: its message echoed; a ``Stop`` is answered with an ``Rss`` and
    sets ``done``."""
    header = unpack(frames)
    msg = open_body(header, frames)
    if isinstance(msg, bench.Stop):
        msg = bench.Rss(peak_rss_bytes=0)
        done.set()
    return pack(Kind.REPLY, header.request_id, "", msg)


class ZmtpPeer(asyncio.BufferedProtocol):
    """The least an asyncio protocol does to speak ZMTP 3.1 (NULL) as ``socket_type``: greet, read with
    :class:`~zactor.transport.framing.FrameReader`, and hand each whole message to :meth:`message`; commands (READY,
    PING) are left unanswered."""

    def __init__(self, socket_type: bytes) -> None:
        self.reader = FrameReader(1 << 31)
        self._hello = GREETING + ready(socket_type)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self._hello)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.reader.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        for name, frames in self.reader.buffer_updated(nbytes):
            if name is None:
                self.message(frames)

    def message(self, frames: list[Any]) -> None:
        raise NotImplementedError


def floor_server(port_q: Any, keyring: str | None) -> None:
    """The minimal asyncio echo with zactor's envelope (see the module docstring); ``keyring`` is not supported."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        ctx = zmq.Context()
        sock = ctx.socket(zmq.ROUTER)
        port_q.put(sock.bind_to_random_port("tcp://127.0.0.1"))

        def drain() -> None:
            while cast(int, sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                peer = sock.recv(zmq.NOBLOCK)
                reply = echo_reply(recv_rest(sock, sock.recv(zmq.NOBLOCK, copy=False)), done)
                sock.send(peer, zmq.SNDMORE | zmq.NOBLOCK)
                for frame in reply[:-1]:
                    sock.send(frame, zmq.SNDMORE | zmq.NOBLOCK)
                sock.send(reply[-1], zmq.NOBLOCK)

        fd = cast(int, sock.getsockopt(zmq.FD))
        loop.add_reader(fd, drain)
        loop.call_soon(drain)
        await done.wait()
        loop.remove_reader(fd)
        sock.close(linger=1000)
        ctx.term()

    run_loop(serve())


def zmtp_floor_server(port_q: Any, keyring: str | None) -> None:
    """The same echo with no libzmq at all: ZMTP 3.1 (NULL) read by :class:`~zactor.transport.framing.FrameReader`
    in an asyncio protocol (no heartbeat, no size limit, no budget: the least of :mod:`zactor.transport.listener`)."""

    class Echo(ZmtpPeer):
        def __init__(self, done: asyncio.Event) -> None:
            super().__init__(b"ROUTER")
            self.done = done

        def message(self, frames: list[Any]) -> None:
            self.transport.writelines(message_parts(echo_reply(frames, self.done))[0])

    async def serve() -> None:
        done = asyncio.Event()
        server = await asyncio.get_running_loop().create_server(lambda: Echo(done), "127.0.0.1", 0)
        port_q.put(server.sockets[0].getsockname()[1])
        await done.wait()
        await asyncio.sleep(0.2)
        server.close()

    run_loop(serve())


def transport_server(port_q: Any, keyring: str | None) -> None:
    """The floor's echo on zactor's transport (``ZmqTransport``, ZMTP from the loop) with no actor layer: no
    registry, mailbox, sender, statistics or reply routing; ``keyring`` is not supported."""

    async def serve() -> None:
        done = asyncio.Event()
        transport = ZmqTransport()

        def on_request(peer: bytes, frames: list[Any]) -> None:
            transport.reply(peer, echo_reply(frames, done), 1.0)

        address = await transport.start("tcp://127.0.0.1:0", on_request, lambda endpoint, frames: None)
        port_q.put(int(address.rsplit(":", 1)[1]))
        await done.wait()
        await asyncio.sleep(0.2)
        await transport.close()

    run_loop(serve())


def _cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of each thread kind of process ``pid``: ``main`` and libzmq's ``io``."""
    totals = {"main": 0.0, "io": 0.0}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        except FileNotFoundError:  # a thread that just ended
            continue
        fields = stat.rsplit(")", 1)[1].split()
        kind = "io" if name.startswith("ZMQbg/IO") else "main" if tid == str(pid) else ""
        if kind:
            totals[kind] += (int(fields[11]) + int(fields[12])) / _TICK
    return totals


def measure(server_fn: Any, seconds: float) -> dict[str, float]:
    """One run: ``server_fn`` served to the blocking client for ``seconds`` s; rate and server CPU per request."""

    def watch(pid: int) -> tuple[dict[str, float], dict[str, float], float]:
        time.sleep(min(1.0, seconds / 4))  # past start-up and warm-up
        before, start = _cpu_s(pid), time.perf_counter()
        time.sleep(seconds / 2)
        return before, _cpu_s(pid), time.perf_counter() - start

    result, watched = run_pair(server_fn, bench.blocking_client, ("small", seconds, 64, 1), None, 120, watch)
    assert watched is not None
    before, after, elapsed = watched
    calls = result["seq_per_s"] * elapsed
    return {
        "rate": result["seq_per_s"],
        "main_us": (after["main"] - before["main"]) / calls * 1e6,
        "io_us": (after["io"] - before["io"]) / calls * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each run (s)")
    parser.add_argument("--repeat", type=int, default=5, help="alternating runs of each server")
    args = parser.parse_args()
    servers = {
        "floor": floor_server,
        "zactor": bench.zactor_server,
        "zactor, def handler": bench.zactor_sync_server,
        "floor without libzmq": zmtp_floor_server,
        "zactor's transport alone": transport_server,
        "zactor, libzmq sockets": bench.zactor_libzmq_server,
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    for attempt in range(args.repeat):
        for name, server_fn in servers.items():
            print(f"measuring {name} ({attempt + 1}/{args.repeat}) ...", file=sys.stderr, flush=True)
            runs[name].append(measure(server_fn, args.seconds))
    print(f"\n{'server (median of ' + str(args.repeat) + ' runs)':32}{'calls/s':>10}{'loop us':>10}{'I/O us':>10}")
    medians = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    for name, m in medians.items():
        print(f"{name:32}{m['rate']:>10,.0f}{m['main_us']:>10.1f}{m['io_us']:>10.1f}")
    pairs = (
        ("zactor", "floor without libzmq"),
        ("zactor, def handler", "floor without libzmq"),
        ("zactor's transport alone", "floor without libzmq"),
        ("zactor, libzmq sockets", "floor"),
    )
    for ours, floor in pairs:
        ratio = medians[ours]["main_us"] / medians[floor]["main_us"]
        print(f"\n{ours}: event loop thread against the {floor}'s: {ratio:.2f}x (target: at most 1.10x)")


if __name__ == "__main__":
    main()
