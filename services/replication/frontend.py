"""The ``zactor.kv`` actor: the replicated store of a node, offered to clients outside the cluster.

``zactor kv`` and ``zactor demo`` talk to it: a client asks any node's ``zactor.kv`` and that node performs the
operation with the requested consistency level (its ``ConsistencyFailure`` reaches the client as a ``RemoteError``
of that type). Consistency levels travel by name (``"quorum"``).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any, cast

from zactor import Actor, Context, Returns, handler, message
from zactor.services.replication.replica import RESERVED_PREFIX
from zactor.services.replication.storage import check_key
from zactor.services.replication.store import ReplicatedStore
from zactor.services.selector import Consistency

__all__ = [
    "KV_ACTOR",
    "KvFrontend",
    "KvPut",
    "KvPutMany",
    "KvGet",
    "KvDelete",
    "KvKeys",
    "KvKeyspaces",
    "KvDigest",
    "KvRemoveNode",
    "KvDone",
    "KvValue",
    "KvKeyList",
    "KvDigests",
]

KV_ACTOR = "zactor.kv"


@message("zactor.kv.Put")
class KvPut(Returns["KvDone"]):
    """Write one value (a large one travels as a zero-copy frame)."""

    keyspace: str
    key: str | bytes
    value: bytes
    consistency: str = "quorum"


@message("zactor.kv.PutMany")
class KvPutMany(Returns["KvDone"]):
    """Write ``items`` (``[(key, value), ...]``) as one batch."""

    keyspace: str
    items: Sequence[tuple[str | bytes, bytes]]
    consistency: str = "quorum"


@message("zactor.kv.Get")
class KvGet(Returns["KvValue"]):
    """Read one key; ``consistency`` "" reads the node's local replica."""

    keyspace: str
    key: str | bytes
    consistency: str = ""


@message("zactor.kv.Delete")
class KvDelete(Returns["KvDone"]):
    """Delete ``keys``."""

    keyspace: str
    keys: Sequence[str | bytes]
    consistency: str = "quorum"


@message("zactor.kv.Keys")
class KvKeys(Returns["KvKeyList"]):
    """List the live keys of a keyspace on this node."""

    keyspace: str


@message("zactor.kv.Keyspaces")
class KvKeyspaces(Returns["KvKeyList"]):
    """List the keyspaces this node holds any key or tombstone of (the reserved ``zactor.`` ones left out)."""


@message("zactor.kv.Digest")
class KvDigest(Returns["KvDigests"]):
    """SHA-256 of every live value of a keyspace on this node (to compare replicas without moving the data)."""

    keyspace: str


@message("zactor.kv.RemoveNode")
class KvRemoveNode(Returns["KvDone"]):
    """Remove a dead node from the replica set for good (an operator's decision), on every live replica."""

    node_id: str


@message("zactor.kv.Done")
class KvDone:
    """How many documents the operation covered (for a delete: how many of the keys were live on the node asked)."""

    count: int


@message("zactor.kv.Value")
class KvValue:
    """A read's result: ``found`` False when absent or deleted."""

    found: bool
    value: bytes | memoryview


@message("zactor.kv.KeyList")
class KvKeyList:
    """Live keys of a keyspace, sorted by ``repr`` (or keyspace names); ``exists`` is False for a keyspace this
    node has never held."""

    keys: list[str | bytes]
    exists: bool = True


@message("zactor.kv.Digests")
class KvDigests:
    """``{key: sha256 hex}`` of the live values (keys as given; bytes keys are shown hex-encoded)."""

    digests: dict[str, str]


def _level(name: str) -> Consistency:
    try:
        return Consistency(name.lower())
    except ValueError:
        raise ValueError(f"unknown consistency level {name!r}") from None


class KvFrontend(Actor):
    """Serves ``zactor.kv`` requests with the node's :class:`ReplicatedStore` (extension ``replication``)."""

    max_concurrency = 64
    mailbox_size = 100_000

    @staticmethod
    def _store(ctx: Context) -> ReplicatedStore:
        return ctx.node.extension(ReplicatedStore)

    @handler
    async def put(self, msg: KvPut, ctx: Context) -> KvDone:
        await self._store(ctx).put(msg.keyspace, check_key(msg.key), msg.value, _level(msg.consistency))
        return KvDone(count=1)

    @handler
    async def put_many(self, msg: KvPutMany, ctx: Context) -> KvDone:
        await self._store(ctx).put_many(msg.keyspace, [(k, v) for k, v in msg.items], _level(msg.consistency))
        return KvDone(count=len(msg.items))

    @handler
    async def get(self, msg: KvGet, ctx: Context) -> KvValue:
        level = _level(msg.consistency) if msg.consistency else None
        value = await self._store(ctx).get(msg.keyspace, check_key(msg.key), consistency=level)
        return KvValue(found=value is not None, value=b"" if value is None else value)

    @handler
    async def delete(self, msg: KvDelete, ctx: Context) -> KvDone:
        store = self._store(ctx)
        present = await store.get_many(msg.keyspace, msg.keys)
        await store.delete_many(msg.keyspace, msg.keys, _level(msg.consistency))
        return KvDone(count=len(present))

    @handler
    async def remove_node(self, msg: KvRemoveNode, ctx: Context) -> KvDone:
        return KvDone(count=int(await self._store(ctx).remove_replica(msg.node_id)))

    @handler
    async def keys(self, msg: KvKeys, ctx: Context) -> KvKeyList:
        replica = self._store(ctx).replica
        if msg.keyspace not in replica.keyspaces():
            return KvKeyList(keys=[], exists=False)
        keys = cast("list[str | bytes]", sorted(replica.crdt(msg.keyspace).entries, key=repr))  # the CRDT's keys
        return KvKeyList(keys=keys)

    @handler
    async def keyspaces(self, msg: KvKeyspaces, ctx: Context) -> KvKeyList:
        names = self._store(ctx).replica.keyspaces()
        return KvKeyList(keys=sorted(name for name in names if not name.startswith(RESERVED_PREFIX)))

    @handler
    async def digest(self, msg: KvDigest, ctx: Context) -> KvDigests:
        store = self._store(ctx)
        keys = [check_key(k) for k in store.replica.crdt(msg.keyspace).entries]
        docs = await store.get_many(msg.keyspace, keys)

        def hash_all() -> dict[Any, str]:
            return {k if isinstance(k, str) else k.hex(): hashlib.sha256(v).hexdigest() for k, v in docs.items()}

        return KvDigests(digests=await asyncio.get_running_loop().run_in_executor(None, hash_all))
