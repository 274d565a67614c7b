"""Least authority: the admin actor imports only allowed modules, never edits sys.path, never touches zactor.*;
and a node refusing a peer of another cluster does not say which cluster it is in."""

from __future__ import annotations

import sys

import pytest

from zactor import Node, NodeConfig
from zactor.errors import ClusterMismatch, RemoteError
from zactor.services.cluster import ClusterNode
from zactor.services.cluster.admin import ADMIN_ACTOR, AddActor, AdminActor, RemoveActor
from zactor.services.cluster.demo import Add, Calculator, Result
from zactor.services.membership.messages import Syn
from zactor.services.membership.service import MEMBERSHIP_ACTOR


async def test_admin_builds_only_allowed_modules_and_never_touches_system_actors() -> None:
    """Outside the allow-list (even the harmless ``this``) is a PermissionError; zactor.* names are refused."""
    path_before, imported_this = list(sys.path), "this" in sys.modules
    async with Node() as node, Node() as caller:
        await node.add_actor(ADMIN_ACTOR, AdminActor(allow=["zactor.services.cluster.demo"]))
        await node.add_actor("zactor.kv", Calculator())
        admin = caller.ref(ADMIN_ACTOR, address=node.address)
        for spec in ("this:nothing", "os:system", "zactor.services.cluster.demos:X", "zactor:Node"):
            with pytest.raises(RemoteError) as info:
                await admin.ask(AddActor(name="x", spec=spec))
            assert info.value.type_name == "PermissionError" and "admin-allow" in info.value.message
        assert ("this" in sys.modules) == imported_this, "a refused module was imported anyway"
        for bad in (
            AddActor(name="zactor.kv", spec="zactor.services.cluster.demo:Calculator"),
            RemoveActor(name="zactor.kv"),
        ):
            with pytest.raises(RemoteError, match="system actor"):
                await admin.ask(bad)
        names = await admin.ask(AddActor(name="calc", spec="zactor.services.cluster.demo:Calculator"))
        assert "calc" in names.names and "zactor.kv" in names.names
        assert await caller.ref("calc", address=node.address).ask(Add(a=2, b=3)) == Result(value=5)
    assert sys.path == path_before


async def test_a_node_refusing_another_cluster_does_not_reveal_its_id() -> None:
    """The caller's ClusterMismatch names neither cluster id."""
    async with ClusterNode(NodeConfig(cluster_id="secret-cluster-id")) as node, Node() as stranger:
        with pytest.raises(ClusterMismatch) as info:
            await stranger.ref(MEMBERSHIP_ACTOR, address=node.address).ask(Syn(digest=[]))
        assert "secret-cluster-id" not in str(info.value) and "secret" not in repr(info.value.__dict__)
