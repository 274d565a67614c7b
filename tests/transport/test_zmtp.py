"""ZMTP on a plain socket: it speaks to a node's libzmq ROUTER, answers its heartbeat, and refuses what a broken or
hostile peer sends with a clear error."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq

import zactor
from zactor import Node, NodeConfig
from zactor.connection import PlainConnection
from zactor.errors import DecodeError, HandshakeFailed
from zactor.loops import run
from zactor.services.cluster.bench import Echo, EchoActor
from zactor.transport import ZmqTransport
from zactor.transport.envelope import Kind, pack, unpack
from zactor.transport.framing import GREETING, frame_header
from zactor.transport.zmtp import ZmtpClosed, ZmtpSocket
from zactor.wire import open_reply

ACTORS = Path(__file__).parent.parent / "actors"


def _ask(zmtp: ZmtpSocket, request_id: int, msg: object, wait_s: float = 5.0) -> object:
    zmtp.send(pack(Kind.REQUEST, request_id, "echo", msg, None, 64 * 1024))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        frames = zmtp.receive(0.05)
        if frames is not None:
            header = unpack(frames)
            assert header.request_id == request_id
            ok, outcome = open_reply(header, frames)
            assert ok, outcome
            return outcome
    raise AssertionError("no reply")


def _with_node(body: object, heartbeat_s: float = 1.0, slow: bool = False) -> None:
    """Run ``body(address)`` in a thread while a node hosting ``echo`` (and ``slow``) serves on the loop."""

    async def main() -> None:
        transport = ZmqTransport(heartbeat_s=heartbeat_s)
        async with Node(NodeConfig(node_id="zmtp-node"), transport=transport) as node:
            await node.add_actor("echo", EchoActor(asyncio.Event()))
            if slow:
                from calc import Calculator

                await node.add_actor("calc", Calculator())
            await asyncio.to_thread(body, node.address)  # type: ignore[arg-type]

    run(main())


def test_requests_of_every_size_go_to_a_node_and_back() -> None:
    """Small messages, and a 300 KiB field that travels as zero-copy frames both ways, read straight into its own
    buffer."""

    def body(address: str) -> None:
        zmtp = ZmtpSocket(address, 5.0)
        try:
            for i in range(1, 51):
                assert _ask(zmtp, i, Echo(data=b"x" * i)) == Echo(data=b"x" * i)
            big = bytes(range(256)) * 1200
            assert bytes(_ask(zmtp, 99, Echo(data=big)).data) == big  # type: ignore[attr-defined]
        finally:
            zmtp.close()

    _with_node(body)


def test_the_node_heartbeat_is_answered_while_a_reply_is_awaited(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose heartbeat closes a silent connection after 0.3 s: an ask whose handler takes 1 s is answered,
    since the PINGs that come meanwhile get their PONGs."""
    import sys

    sys.path.insert(0, str(ACTORS))
    from calc import Record, Sleep

    def body(address: str) -> None:
        with zactor.connect(address, timeout_s=5.0) as client:
            assert client.ref("calc").ask(Sleep(seconds=1.0, tag=7)) == Record(tag=7)

    _with_node(body, heartbeat_s=0.1, slow=True)


def test_an_idle_connection_closed_by_the_node_is_replaced() -> None:
    """Nobody reads between calls, so the node's heartbeat closes an idle connection: the socket says it is no longer
    usable, and the blocking client connects anew before its next ask."""

    def body(address: str) -> None:
        zmtp = ZmtpSocket(address, 5.0)
        assert zmtp.usable()
        time.sleep(1.0)
        assert not zmtp.usable()
        zmtp.close()
        with zactor.BlockingClient(address, heartbeat_s=0.1) as client:
            assert client.ref("echo").ask(Echo(data=b"a")) == Echo(data=b"a")
            time.sleep(1.0)
            assert client.ref("echo").ask(Echo(data=b"b")) == Echo(data=b"b")

    _with_node(body, heartbeat_s=0.1)


def test_a_connection_idle_for_two_of_the_node_s_intervals_is_replaced_before_the_node_closes_it() -> None:
    """A node with a 0.2 s heartbeat gives a 0.6 s silence timeout in its READY: a client with a 1 s heartbeat
    replaces a connection idle for 0.45 s, which the node still serves, rather than write a request that the node
    may close under it."""

    def body(address: str) -> None:
        connection = PlainConnection(address, 5.0, heartbeat_s=1.0)
        zmtp = ZmtpSocket(address, 5.0)
        try:
            assert zmtp.silence_timeout_s == 0.6
            time.sleep(0.45)
            assert zmtp.usable()  # the node has not closed an idle connection yet
            assert connection.stale()
        finally:
            zmtp.close()
            connection.close(0)

    _with_node(body, heartbeat_s=0.2)


def test_a_libzmq_router_gives_no_silence_timeout() -> None:
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.linger = 0
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    try:
        zmtp = ZmtpSocket(f"tcp://127.0.0.1:{port}", 5.0)
        assert zmtp.silence_timeout_s is None
        zmtp.close()
    finally:
        sock.close()


@contextmanager
def _peer(script: Sequence[bytes | float]) -> Iterator[str]:
    """A listening socket whose one connection reads the greeting, then writes ``script``: bytes, or pauses in s."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(64)
            for step in script:
                if isinstance(step, float):
                    time.sleep(step)
                else:
                    conn.sendall(step)
            time.sleep(0.5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        thread.join(5)
        server.close()


def _command(name: bytes, body: bytes = b"") -> bytes:
    payload = bytes((len(name),)) + name + body
    return frame_header(len(payload), 4) + payload


READY = _command(b"READY", b"\x0bSocket-Type\x00\x00\x00\x06ROUTER")
CUT_PROPERTY = b"\x0bSocket-Type\x00\x00\x00\x09ROUTER"  # says 9 bytes of value, gives 6
WORDY_TIMEOUT = b"\x14X-Silence-Timeout-Ms\x00\x00\x00\x02ab"
CURVE = GREETING[:12] + b"CURVE".ljust(20, b"\0") + GREETING[32:]


@pytest.mark.parametrize(
    ("script", "error", "match"),
    [
        ([b"HTTP/1.1 400 Bad Request\r\n" * 3], HandshakeFailed, "does not speak ZMTP 3"),
        ([CURVE], HandshakeFailed, "CURVE mechanism: give this client a keyring"),
        ([GREETING, _command(b"ERROR", b"\x0bNot welcome")], HandshakeFailed, "Not welcome"),
        ([GREETING[:30]], HandshakeFailed, "closed the connection at the greeting"),
        ([GREETING, _command(b"READY", CUT_PROPERTY)], HandshakeFailed, "malformed READY"),
        ([GREETING, _command(b"READY", WORDY_TIMEOUT)], HandshakeFailed, "malformed READY"),
    ],
    ids=["not-zmtp", "curve", "error", "closed", "ready-cut", "ready-timeout"],
)
def test_a_refused_or_foreign_handshake_is_a_clear_error(
    script: list[bytes], error: type[Exception], match: str
) -> None:
    with _peer(script) as address, pytest.raises(error, match=match):
        ZmtpSocket(address, 2.0)


def test_a_frame_over_the_limit_is_refused() -> None:
    with _peer([GREETING, READY, frame_header(5000, 0) + b"x" * 10]) as address:
        zmtp = ZmtpSocket(address, 2.0, max_frame_bytes=4096)
        with pytest.raises(DecodeError, match="5000 bytes"):
            zmtp.receive(1.0)
        zmtp.close()


def test_a_message_cut_by_a_timeout_is_completed_by_the_next_receive() -> None:
    """The first frame comes, then nothing for a while: the receive that times out keeps it, and the next returns
    the whole message; a connection closed in the middle of a frame is ZmtpClosed."""
    first = frame_header(3, 1) + b"one"
    second_head = frame_header(70_000, 0)
    script: list[bytes | float] = [GREETING, READY, first, 0.3, second_head + b"a" * 30_000, 1.0, b"b" * 40_000]
    script += [frame_header(10, 0) + b"z" * 4]
    with _peer(script) as address:
        zmtp = ZmtpSocket(address, 2.0)
        assert zmtp.receive(0.1) is None  # the first frame only
        assert zmtp.receive(0.5) is None  # and part of the large one
        frames = zmtp.receive(2.0)
        assert frames is not None and frames[0] == b"one" and bytes(frames[1]) == b"a" * 30_000 + b"b" * 40_000
        with pytest.raises(ZmtpClosed):
            zmtp.receive(2.0)
        zmtp.close()
