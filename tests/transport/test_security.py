"""Secure nodes: keyrings, CURVE with ZAP, failing closed, revocation without a restart, protected mode."""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path

import pytest
import zmq

from zactor import Actor, Context, Node, NodeConfig, handler, message
from zactor.errors import HandshakeFailed, InsecureBind, KeyringError, RequestTimeout
from zactor.testing import wait_until
from zactor.transport import ZmqTransport
from zactor.transport.curve import is_loopback_endpoint
from zactor.transport.envelope import Kind, pack
from zactor.transport.security import Credentials, add_key, init_keyring, key_names, revoke_key


@message("test.security.Ping")
class Ping:
    n: int


class Echo(Actor):
    @handler
    async def ping(self, msg: Ping, ctx: Context) -> Ping:
        return msg


@pytest.fixture
def keyring(tmp_path: Path) -> Path:
    root = init_keyring(tmp_path / "keyring")
    for name in ("server", "client"):
        add_key(root, name)
    return root


def _config(keyring: Path, name: str) -> NodeConfig:
    return NodeConfig(node_id=name, keyring_dir=str(keyring), key_name=name)


def test_keyring_layout_modes_and_names(keyring: Path) -> None:
    """Secret keys are 0600 and never in a repr; names are checked; revoking removes the authorization."""
    for secret in (keyring / "cluster.key_secret", keyring / "secrets" / "client.key_secret"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert key_names(keyring) == ["client", "server"]
    credentials = Credentials.load(keyring, "client")
    assert credentials.secret_key.decode() not in repr(credentials)
    assert credentials.server_secret_key is not None and credentials.server_secret_key.decode() not in repr(credentials)
    for bad in ("", "../x", "cluster", "a b"):
        with pytest.raises(KeyringError, match="bad key name"):
            add_key(keyring, bad)
    with pytest.raises(KeyringError, match="already has a key"):
        add_key(keyring, "client")
    with pytest.raises(KeyringError, match="already holds"):
        init_keyring(keyring)
    revoke_key(keyring, "client")
    assert key_names(keyring) == ["server"]
    with pytest.raises(KeyringError, match="no key pair"):
        Credentials.load(keyring, "client")
    with pytest.raises(KeyringError, match="not authorized"):
        revoke_key(keyring, "client")
    with pytest.raises(KeyringError, match="no keyring"):
        Credentials.load(keyring.parent, "server")
    (keyring / "authorized" / "server.key").unlink()
    (keyring / "authorized").rmdir()
    with pytest.raises(KeyringError, match="authorized/"):
        Credentials.load(keyring, "server")


async def test_an_authorized_client_is_served(keyring: Path) -> None:
    """Two nodes of one keyring talk over CURVE; the server counts no refusal."""
    async with Node(_config(keyring, "server")) as server, Node(_config(keyring, "client")) as client:
        await server.add_actor("echo", Echo())
        assert await client.ref("echo", address=server.address).ask(Ping(n=1), timeout_s=5.0) == Ping(n=1)
        assert server.transport.stats["refused_handshakes"] == 0


async def test_a_plaintext_dealer_gets_nothing_and_is_counted(keyring: Path) -> None:
    """A raw plaintext DEALER's valid request is never delivered; the secure node counts the refused handshake."""
    async with Node(_config(keyring, "server")) as server:
        await server.add_actor("echo", Echo())
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(server.address)
        try:
            sock.send_multipart(pack(Kind.REQUEST, 1, "echo", Ping(n=1), None))
            assert not await asyncio.to_thread(sock.poll, 1000)
        finally:
            sock.close()
        await wait_until(lambda: server.transport.stats["refused_handshakes"] >= 1, what="the refusal to be counted")
        assert server.stats["unknown_actor"] == 0


async def test_a_plaintext_node_learns_why_at_once(keyring: Path) -> None:
    """A zactor node without a keyring asking a secure node fails with HandshakeFailed, not its ask's timeout."""
    async with Node(_config(keyring, "server")) as server, Node() as plain:
        await server.add_actor("echo", Echo())
        with pytest.raises(HandshakeFailed, match="plaintext"):
            await plain.ref("echo", address=server.address).ask(Ping(n=1), timeout_s=30.0)


async def test_an_unknown_key_is_refused(keyring: Path) -> None:
    """A client holding the cluster's public key but an unauthorized key pair is refused at the handshake."""
    known = Credentials.load(keyring, "client")
    public, secret = zmq.curve_keypair()
    stranger = Credentials(
        name="stranger",
        public_key=public,
        secret_key=secret,
        server_public_key=known.server_public_key,
        server_secret_key=None,
        authorized_dir=None,
    )
    async with Node(_config(keyring, "server")) as server:
        await server.add_actor("echo", Echo())
        async with Node(transport=ZmqTransport(credentials=stranger)) as client:
            with pytest.raises(HandshakeFailed, match="refused this node's key"):
                await client.ref("echo", address=server.address).ask(Ping(n=1), timeout_s=30.0)
        await wait_until(lambda: server.transport.stats["refused_handshakes"] >= 1, what="the refusal to be counted")


async def test_a_revoked_key_is_refused_without_a_restart(keyring: Path) -> None:
    """After `keys revoke`, the connected client's envelopes are dropped and a new connection is refused."""
    async with Node(_config(keyring, "server")) as server:
        await server.add_actor("echo", Echo())
        async with Node(_config(keyring, "client")) as client:
            ref = client.ref("echo", address=server.address)
            assert await ref.ask(Ping(n=1), timeout_s=5.0) == Ping(n=1)
            credentials = Credentials.load(keyring, "client")
            revoke_key(keyring, "client")

            async def refused() -> bool:
                try:
                    await ref.ask(Ping(n=2), timeout_s=0.2)
                except RequestTimeout:
                    return True
                return False

            await wait_until(refused, what="the revoked client's asks to go unanswered")
            assert server.transport.stats["refused_revoked"] >= 1
        async with Node(transport=ZmqTransport(credentials=credentials)) as again:
            with pytest.raises(HandshakeFailed):
                await again.ref("echo", address=server.address).ask(Ping(n=3), timeout_s=30.0)


@pytest.mark.parametrize(
    ("endpoint", "loopback"),
    [
        ("tcp://127.0.0.1:0", True),
        ("tcp://127.3.2.1:5555", True),
        ("tcp://localhost:5555", True),
        ("tcp://[::1]:5555", True),
        ("ipc:///tmp/x", True),
        ("tcp://0.0.0.0:5555", False),
        ("tcp://*:5555", False),
        ("tcp://10.1.2.3:5555", False),
        ("tcp://eth0:5555", False),
    ],
)
def test_loopback_endpoints(endpoint: str, loopback: bool) -> None:
    """Protected mode's notion of an address only this host reaches."""
    assert is_loopback_endpoint(endpoint) is loopback


async def test_protected_mode_refuses_a_public_bind_unless_insecure(caplog: pytest.LogCaptureFixture) -> None:
    """Without a keyring, binding every interface raises InsecureBind; insecure=True binds and logs a warning."""
    with pytest.raises(InsecureBind, match="keyring"):
        await Node(NodeConfig(bind="tcp://0.0.0.0:0")).start()
    with caplog.at_level(logging.WARNING, logger="zactor.security"):
        async with Node(NodeConfig(bind="tcp://0.0.0.0:0", insecure=True)) as node:
            assert node.address.startswith("tcp://0.0.0.0:")
    assert any("insecure" in r.message for r in caplog.records)


async def test_a_keyring_node_may_bind_every_interface(keyring: Path) -> None:
    """A node that encrypts and authenticates binds any address."""
    config = NodeConfig(bind="tcp://0.0.0.0:0", keyring_dir=str(keyring), key_name="server")
    async with Node(config) as node:
        assert node.address.startswith("tcp://0.0.0.0:")


def test_keyring_and_key_name_go_together(keyring: Path) -> None:
    """One without the other is a configuration error."""
    with pytest.raises(ValueError, match="together"):
        NodeConfig(keyring_dir=str(keyring))
    with pytest.raises(KeyringError, match="no key pair"):
        Node(NodeConfig(keyring_dir=str(keyring), key_name="nobody"))


async def test_refusals_are_counted_without_flooding_the_log(keyring: Path, caplog: pytest.LogCaptureFixture) -> None:
    """40 plaintext connections are all counted; the node logs at most a handful of lines about them."""
    async with Node(_config(keyring, "server")) as server:
        ctx = zmq.Context.instance()
        socks = []
        with caplog.at_level(logging.WARNING, logger="zactor.transport"):
            try:
                for _ in range(40):
                    sock = ctx.socket(zmq.DEALER)
                    sock.linger = 0
                    sock.setsockopt(zmq.RECONNECT_IVL, 60_000)
                    sock.connect(server.address)
                    socks.append(sock)
                await wait_until(
                    lambda: server.transport.stats["refused_handshakes"] >= 40, what="40 refusals to be counted"
                )
            finally:
                for sock in socks:
                    sock.close()
        lines = [r for r in caplog.records if "refused a connection" in r.getMessage()]
        assert 1 <= len(lines) <= 10
