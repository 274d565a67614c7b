"""Replication messages between the ``zactor.replication`` actors of two nodes.

Timestamps travel in the compact HLC form ``(physical_ms, logical, node_id)`` (:data:`HLCWire`). A single document
write (``PutOne``) keeps its value as a top-level field, so a large value travels as a zero-copy frame; batches
(``PutMany``) carry their values inline. Every field has a fixed shape that the checked decode enforces; the envelope
names the sender's cluster, and the replication actor takes these from members of its own cluster only.
"""

from __future__ import annotations

import attrs

from zactor.transport.codec import Returns, message

HLCWire = tuple[int, int, str]
"""A document timestamp: ``(physical_ms, logical, node_id)``."""
WireKey = str | bytes
"""A document key."""
WireValue = bytes | bytearray | memoryview
"""A document value (a large one arrives as a ``memoryview`` over its frame)."""
WireDoc = tuple[WireKey, HLCWire, WireValue]
"""A document: ``(key, ts, value)``."""
Columns = tuple[list[WireKey], list[int], list[int], list[str]]
"""Keys and their timestamps as four columns, ``(keys, physical_ms, logical, node_ids)``."""

__all__ = [
    "HLCWire",
    "WireKey",
    "WireValue",
    "WireDoc",
    "Columns",
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
    "FencedClaim",
    "FencedWrite",
    "FencedReply",
]


@message("zactor.repl.PutOne")
class PutOne(Returns[None]):
    """Store one document (replicated write)."""

    keyspace: str
    key: WireKey
    ts: HLCWire
    value: WireValue


@message("zactor.repl.PutMany")
class PutMany(Returns[None]):
    """Store documents: ``docs`` is ``[(key, ts, value), ...]``."""

    keyspace: str
    docs: list[WireDoc]


@message("zactor.repl.DeleteMany")
class DeleteMany(Returns[None]):
    """Delete keys: ``items`` is ``[(key, ts), ...]``."""

    keyspace: str
    items: list[tuple[WireKey, HLCWire]]


@message("zactor.repl.GetKeyspaceVersions")
class GetKeyspaceVersions(Returns["KeyspaceVersions"]):
    """Anti-entropy, step 1: how far each keyspace's change log has got."""


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
    ``epoch`` is the replica's current one (else all of it, or of the digest ``ranges`` given). Keys whose version
    the asker wrote itself, stamped at or after ``own_since_ms`` (0: none), are left out: the asker's process applied
    them before sending them, so it holds them or newer."""

    keyspace: str
    epoch: int = 0
    since: int = 0
    ranges: list[int] = attrs.field(factory=list)
    own_since_ms: int = 0


@message("zactor.repl.State")
class State:
    """``entries``: the live keys and their timestamps as four columns, ``[keys, physical_ms, logical, node_ids]``
    (see :func:`~zactor.services.replication.handlers.stamped_columns`); ``dead``: the tombstones, the same way;
    ``seq``: the change the state is complete up to."""

    entries: Columns
    dead: Columns
    seq: int = 0


@message("zactor.repl.FetchDocs")
class FetchDocs(Returns["Docs"]):
    """Anti-entropy, step 3: the documents of ``keys`` (a bounded chunk)."""

    keyspace: str
    keys: list[WireKey]


@message("zactor.repl.Docs")
class Docs:
    """``docs``: ``[(key, ts, value), ...]`` of the live documents asked for."""

    docs: list[WireDoc]


@message("zactor.repl.Read")
class Read(Returns["ReadReply"]):
    """A replica read (``get`` with a consistency level)."""

    keyspace: str
    key: WireKey


@message("zactor.repl.ReadReply")
class ReadReply:
    """The replica's document: ``ts`` None when it has none (a tombstone: ``ts`` and a None ``value``)."""

    ts: HLCWire | None
    value: bytes | None


@message("zactor.repl.RemoveReplica")
class RemoveReplica(Returns[None]):
    """An operator removed ``node_id`` from the replica set (it is gone for good): stop counting it."""

    node_id: str


@message("zactor.repl.HostsStore")
class HostsStore(Returns[None]):
    """Asked of a live member that gossip does not show hosting the store yet: it answers (empty) when it does, and
    the asker counts it as a replica from then on; a node without a store answers ``ActorNotFound``."""


@message("zactor.repl.FencedClaim")
class FencedClaim(Returns["FencedReply"]):
    """Raise the fence of ``key`` in the fenced keyspace ``keyspace`` to ``term`` and answer the row
    (:mod:`~zactor.services.replication.fenced`)."""

    keyspace: str
    key: WireKey
    term: int


@message("zactor.repl.FencedWrite")
class FencedWrite(Returns["FencedReply"]):
    """Write ``value`` as version ``(term, seq)`` of ``key`` in the fenced keyspace ``keyspace``."""

    keyspace: str
    key: WireKey
    term: int
    seq: int
    value: bytes


@message("zactor.repl.FencedReply")
class FencedReply:
    """A replica's row after a claim or write: ``stale`` is 0, or the newer fence that refused it (then the row
    fields are empty)."""

    stale: int
    term: int = 0
    seq: int = 0
    value: bytes | None = None
