"""The blocking client: asks from plain threads with no event loop, typed replies, errors, and CURVE."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest

import zactor
from zactor.errors import ActorNotFound, HandshakeFailed, RequestTimeout
from zactor.services.cluster.demo import Add, Result
from zactor.services.cluster.process import NodeProcess
from zactor.transport.security import add_key, init_keyring

CALC = {"calc": "zactor.services.cluster.demo:Calculator"}


def test_blocking_asks_from_many_threads() -> None:
    """8 threads share one client and ask 100 times each; every answer is its own; errors arrive typed."""
    with NodeProcess("calc-node", actors=CALC) as node, zactor.connect(node.address) as client:
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


def test_an_unanswered_ask_times_out() -> None:
    with zactor.connect("tcp://127.0.0.1:1", timeout_s=0.3) as client, pytest.raises(RequestTimeout):
        client.ref("calc").ask(Add(a=1, b=2))


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
