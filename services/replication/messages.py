"""Replication messages between the ``zactor.replication`` actors of two nodes.

Timestamps travel in the compact HLC form ``[physical_ms, logical, node_id]``. A single document write (``PutOne``)
keeps its value as a top-level field, so a large value travels as a zero-copy frame; batches (``PutMany``) carry
their values inline.
"""

from __future__ import annotations

from typing import Any

import attrs

from zactor.transport.codec import Returns, message

__all__ = [
    "PutOne",
    "PutMany",
    "DeleteMany",
    "GetKeyspaceVersions",
    "KeyspaceVersions",
    "GetState",
    "State",
    "FetchDocs",
    "Docs",
    "Read",
    "ReadReply",
    "RemoveReplica",
    "HostsStore",
]


@message("zactor.repl.PutOne")
class PutOne(Returns[None]):
    """Store one document (replicated write)."""

    cluster_id: str
    keyspace: str
    key: object
    ts: list[Any]
    value: bytes | bytearray | memoryview


@message("zactor.repl.PutMany")
class PutMany(Returns[None]):
    """Store documents: ``docs`` is ``[[key, ts, value], ...]``."""

    cluster_id: str
    keyspace: str
    docs: list[Any]


@message("zactor.repl.DeleteMany")
class DeleteMany(Returns[None]):
    """Delete keys: ``items`` is ``[[key, ts], ...]``."""

    cluster_id: str
    keyspace: str
    items: list[Any]


@message("zactor.repl.GetKeyspaceVersions")
class GetKeyspaceVersions(Returns["KeyspaceVersions"]):
    """Anti-entropy, step 1: how far each keyspace's change log has got."""

    cluster_id: str


@message("zactor.repl.KeyspaceVersions")
class KeyspaceVersions:
    """``epoch`` identifies the replica's change log (new at every start); ``keyspaces`` is ``{keyspace: seq}``, the
    number of changes applied to each since then."""

    epoch: int
    keyspaces: dict[str, int]


@message("zactor.repl.GetDigests")
class GetDigests(Returns["Digests"]):
    """Anti-entropy, step 2 after the peer restarted (a new epoch): the per-range digests of one keyspace
    (:mod:`zactor.services.replication.digest`), to find which ranges differ before asking for any state."""

    cluster_id: str
    keyspace: str


@message("zactor.repl.Digests")
class Digests:
    """``digests``: the packed per-range digests; ``epoch`` and ``seq``: the change log position they describe."""

    digests: bytes
    epoch: int
    seq: int


@message("zactor.repl.GetState")
class GetState(Returns["State"]):
    """Anti-entropy, step 2: the ORSWOT state of one keyspace, only the keys changed after change ``since`` when
    ``epoch`` is the replica's current one (else all of it, or of the digest ``ranges`` given)."""

    cluster_id: str
    keyspace: str
    epoch: int = 0
    since: int = 0
    ranges: list[int] = attrs.field(factory=list)


@message("zactor.repl.State")
class State:
    """``entries``: the live keys and their timestamps as four columns, ``[keys, physical_ms, logical, node_ids]``
    (see :func:`~zactor.services.replication.handlers.stamped_columns`); ``dead``: the tombstones, the same way;
    ``seq``: the change the state is complete up to."""

    entries: list[Any]
    dead: list[Any]
    seq: int = 0


@message("zactor.repl.FetchDocs")
class FetchDocs(Returns["Docs"]):
    """Anti-entropy, step 3: the documents of ``keys`` (a bounded chunk)."""

    cluster_id: str
    keyspace: str
    keys: list[Any]


@message("zactor.repl.Docs")
class Docs:
    """``docs``: ``[[key, ts, value], ...]`` of the live documents asked for."""

    docs: list[Any]


@message("zactor.repl.Read")
class Read(Returns["ReadReply"]):
    """A replica read (``get`` with a consistency level)."""

    cluster_id: str
    keyspace: str
    key: object


@message("zactor.repl.ReadReply")
class ReadReply:
    """The replica's document: ``ts`` empty when it has none (or a tombstone: then ``value`` is None)."""

    ts: list[Any]
    value: object


@message("zactor.repl.RemoveReplica")
class RemoveReplica(Returns[None]):
    """An operator removed ``node_id`` from the replica set (it is gone for good): stop counting it."""

    cluster_id: str
    node_id: str


@message("zactor.repl.HostsStore")
class HostsStore(Returns[None]):
    """Asked of a live member that gossip does not show hosting the store yet: it answers (empty) when it does, and
    the asker counts it as a replica from then on; a node without a store answers ``ActorNotFound``."""

    cluster_id: str
