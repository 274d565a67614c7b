"""The blocking client: asks from plain threads with no event loop, typed replies, errors, and CURVE."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import time
from pathlib import Path

import pytest

import zactor
from zactor import Node
from zactor.errors import ActorNotFound, HandshakeFailed, NodeUnavailable, RequestTimeout
from zactor.services.cluster.demo import Add, Result
from zactor.services.cluster.process import NodeProcess
from zactor.transport.security import add_key, init_keyring

CALC = {"calc": "zactor.services.cluster.demo:Calculator"}
ACTORS = Path(__file__).parent.parent / "actors"
sys.path.insert(0, str(ACTORS))

from calc import Calculator, Sleep  # noqa: E402


@pytest.mark.parametrize("libzmq", [False, True], ids=["plain-zmtp", "libzmq"])
def test_blocking_asks_from_many_threads(libzmq: bool) -> None:
    """8 threads share one client and ask 100 times each; every answer is its own; errors arrive typed; over plain
    ZMTP connections and over libzmq's."""
    with NodeProcess("calc-node", actors=CALC) as node, zactor.BlockingClient(node.address, libzmq=libzmq) as client:
        calc = client.ref("calc")
        assert calc.ask(Add(a=1, b=2)) == Result(value=3)

        def work(thread: int) -> list[int]:
            return [calc.ask(Add(a=thread, b=i)).value for i in range(100)]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(8)))
        assert results == [[t + i for i in range(100)] for t in range(8)]
        with pytest.raises(ActorNotFound):
            client.ref("nobody").ask(Add(a=1, b=1))
        client.ref("calc").tell(Add(a=1, b=1))
        assert calc.ask(Add(a=2, b=2), timeout_s=5.0) == Result(value=4)


def test_a_refused_connection_is_node_unavailable_at_once() -> None:
    """No node at the address: the ask fails with NodeUnavailable as soon as the connection is refused, long
    before its 10 s deadline."""
    started = time.monotonic()
    with zactor.connect("tcp://127.0.0.1:1", timeout_s=10.0) as client, pytest.raises(NodeUnavailable, match="refused"):
        client.ref("calc").ask(Add(a=1, b=2))
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("address", ["127.0.0.1:5555", "tcp://127.0.0.1", "tcp://:5555", "udp://127.0.0.1:5555"])
def test_a_malformed_address_is_refused_at_connect(address: str) -> None:
    """A malformed address is a ValueError naming it at connect, not a ZMQError at the first ask."""
    with pytest.raises(ValueError, match="endpoint|port"):
        zactor.connect(address)


async def test_an_unanswered_ask_times_out() -> None:
    """A node that accepts the connection but does not answer in time: RequestTimeout at the deadline."""
    async with Node() as node:
        await node.add_actor("slow", Calculator())

        def ask() -> None:
            with zactor.connect(node.address, timeout_s=0.5) as client, pytest.raises(RequestTimeout):
                client.ref("slow").ask(Sleep(seconds=30.0))

        await asyncio.get_running_loop().run_in_executor(None, ask)


def test_a_secure_node_serves_key_holders_and_refuses_others(tmp_path: Path) -> None:
    """With the keyring's key the client is served; without one, the handshake failure is what it reports."""
    keyring = init_keyring(tmp_path / "keyring")
    for name in ("node", "script"):
        add_key(keyring, name)
    keys = ("--keyring", str(keyring), "--key-name", "node")
    with NodeProcess("node", actors=CALC, extra_args=keys) as node:
        with zactor.connect(node.address, keyring_dir=str(keyring), key_name="script") as client:
            assert client.ref("calc").ask(Add(a=2, b=3)) == Result(value=5)
        with zactor.connect(node.address, timeout_s=2.0) as plain, pytest.raises(HandshakeFailed):
            plain.ref("calc").ask(Add(a=2, b=3))
