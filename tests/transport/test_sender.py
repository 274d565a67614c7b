"""Who sent a message: the envelope's sender and cluster id, checked once per envelope; on a secure cluster the sender
must be the name of the key its connection authenticated with (ZAP), and a handler reads both in ``ctx.sender``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import zmq

import zactor
from zactor import Actor, Context, Node, NodeConfig, Returns, handler, message
from zactor.errors import ClusterMismatch, ForgedSender
from zactor.services.cluster import ClusterNode
from zactor.transport.curve import SocketSecurity
from zactor.transport.envelope import Kind, pack, unpack
from zactor.transport.security import Credentials, add_key, init_keyring
from zactor.wire import open_reply


@message("test.sender.Identity")
class Identity:
    node_id: str | None
    principal: str | None


@message("test.sender.WhoAmI")
class WhoAmI(Returns[Identity]):
    pass


class Mirror(Actor):
    @handler
    async def who(self, msg: WhoAmI, ctx: Context) -> Identity:
        await asyncio.sleep(0)  # the sender holds across a suspension
        return Identity(node_id=ctx.sender.node_id, principal=ctx.sender.principal)


@pytest.fixture
def keyring(tmp_path: Path) -> Path:
    root = init_keyring(tmp_path / "keyring")
    for name in ("server", "alice", "mallory", "script"):
        add_key(root, name)
    return root


def _secure(keyring: Path, name: str) -> NodeConfig:
    return NodeConfig(keyring_dir=str(keyring), key_name=name)


def _ask_raw(keyring: Path, key: str, address: str, sender: str | None, cluster_id: str | None) -> object:
    """One ask over a CURVE DEALER holding ``key``, its envelope claiming ``sender``: the reply or the error."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    SocketSecurity(Credentials.load(keyring, key), insecure=False).secure_dealer(sock)
    sock.connect(address)
    try:
        sock.send_multipart(pack(Kind.REQUEST, 7, "mirror", WhoAmI(), None, 1024, sender, cluster_id))
        assert sock.poll(5000), "no answer"
        frames = sock.recv_multipart()
    finally:
        sock.close()
    ok, outcome = open_reply(unpack(frames), frames)
    return outcome


async def test_a_sender_forged_over_another_key_is_refused_and_the_real_ones_are_named(keyring: Path) -> None:
    async with Node(_secure(keyring, "server")) as server, Node(_secure(keyring, "alice")) as alice:
        await server.add_actor("mirror", Mirror())
        assert alice.node_id == "alice"
        honest = await alice.ref("mirror", address=server.address).ask(WhoAmI())
        assert honest == Identity(node_id="alice", principal="alice")
        address = server.address
        forged = await asyncio.to_thread(_ask_raw, keyring, "mallory", address, "alice", "default")
        assert isinstance(forged, ForgedSender) and "alice" not in str(forged)
        assert server.stats["forged_sender"] == 1
        own = await asyncio.to_thread(_ask_raw, keyring, "mallory", address, "mallory", "default")
        assert own == Identity(node_id="mallory", principal="mallory")
        with zactor.connect(address, keyring_dir=str(keyring), key_name="script") as client:
            by_client = await asyncio.to_thread(client.ref("mirror").ask, WhoAmI())
            assert by_client == Identity(node_id=None, principal="script")


async def test_an_envelope_of_another_cluster_is_refused_once_for_any_actor() -> None:
    """A cluster member's envelopes name its cluster; a plain node's name none (a client of any cluster)."""
    async with ClusterNode(NodeConfig(cluster_id="prod")) as server:
        await server.add_actor("mirror", Mirror())
        async with ClusterNode(NodeConfig(node_id="s1", cluster_id="staging")) as stranger:
            with pytest.raises(ClusterMismatch):
                await stranger.ref("mirror", address=server.address).ask(WhoAmI())
            with pytest.raises(ClusterMismatch):
                await stranger.ref("nobody", address=server.address).ask(WhoAmI())
        assert server.stats["wrong_cluster"] == 2 and server.stats["unknown_actor"] == 0
        async with Node(NodeConfig(node_id="c7", cluster_id="other")) as client:
            named = await client.ref("mirror", address=server.address).ask(WhoAmI())
            assert named == Identity(node_id="c7", principal=None)
        local = await server.ref("mirror").ask(WhoAmI())
        assert local == Identity(node_id=server.node_id, principal=None)


def test_a_secure_node_id_is_its_key_name(keyring: Path) -> None:
    assert NodeConfig(keyring_dir=str(keyring), key_name="alice").node_id == "alice"
    with pytest.raises(ValueError, match="node_id 'bob' differs from key_name 'alice'"):
        NodeConfig(node_id="bob", keyring_dir=str(keyring), key_name="alice")
