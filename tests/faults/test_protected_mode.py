"""Security over a real network: two network namespaces on one bridge. A node without a keyring refuses to bind its
non-loopback address; a keyring node there refuses a plaintext peer from the other namespace and serves a key
holder; an insecure node serves anyone, as asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zactor.services.cluster.netns import exec_prefix, namespaces, unavailable_reason
from zactor.services.cluster.process import NodeProcess, NodeStartError
from zactor.transport.security import add_key, init_keyring

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(120),
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

CALC = {"calc": "zactor.services.cluster.demo:Calculator"}


def _call(namespace: str, address: str, *security: str) -> subprocess.CompletedProcess[str]:
    """`zactor call` from inside ``namespace``."""
    command = [sys.executable, "-m", "zactor.services.cluster.cli", "call", "--address", address, "--timeout", "20"]
    command += [*security, "calc", "zactor.demo.Add", '{"a": 1, "b": 2}']
    return subprocess.run([*exec_prefix(namespace), *command], capture_output=True, text=True, timeout=60)


def test_a_peer_on_another_host_needs_a_key(tmp_path: Path) -> None:
    """Plaintext at a non-loopback address: refused at start unless --insecure. With a keyring: a plaintext peer
    in the other namespace fails at once with HandshakeFailed, an authorized one gets its answer."""
    keyring = init_keyring(tmp_path / "keyring")
    for name in ("node0", "visitor"):
        add_key(keyring, name)
    with namespaces(2, subnet="10.213.78") as ns:
        bind = f"tcp://{ns.addresses[0]}:7001"
        log = tmp_path / "plain.log"
        with pytest.raises(NodeStartError, match="exited"):
            NodeProcess("plain", bind=bind, actors=CALC, prefix=exec_prefix(ns.names[0]), log_path=log)
        assert "InsecureBind" in log.read_text()

        insecure = NodeProcess(
            "open", bind=bind, actors=CALC, extra_args=("--insecure",), prefix=exec_prefix(ns.names[0])
        )
        try:
            served = _call(ns.names[1], insecure.address)
            assert served.returncode == 0 and "Result(value=3)" in served.stdout
        finally:
            insecure.kill()

        secure = NodeProcess(
            "node0",
            bind=f"tcp://{ns.addresses[0]}:7002",
            actors=CALC,
            extra_args=("--keyring", str(keyring), "--key-name", "node0"),
            prefix=exec_prefix(ns.names[0]),
            log_path=tmp_path / "node0.log",
        )
        try:
            refused = _call(ns.names[1], secure.address)
            assert refused.returncode == 1 and "HandshakeFailed" in refused.stderr, refused.stderr
            served = _call(ns.names[1], secure.address, "--keyring", str(keyring), "--key-name", "visitor")
            assert served.returncode == 0 and "Result(value=3)" in served.stdout, served.stderr
        finally:
            secure.kill()
        assert "refused a connection" in (tmp_path / "node0.log").read_text()
