"""Replication messages between the ``zactor.replication`` actors of two nodes.

Timestamps travel in the compact HLC form ``[physical_ms, logical, node_id]``. A single document write (``PutOne``)
keeps its value as a top-level field, so a large value travels as a zero-copy frame; batches (``PutMany``) carry
their values inline.
"""

from __future__ import annotations

from actors import message

__all__ = [
    "PutOne",
    "PutMany",
    "DeleteMany",
    "GetKeyspaceTimestamps",
    "KeyspaceTimestamps",
    "GetState",
    "State",
    "FetchDocs",
    "Docs",
    "Read",
    "ReadReply",
]


@message("zactor.repl.PutOne")
class PutOne:
    """Store one document (replicated write)."""

    cluster_id: str
    keyspace: str
    key: object
    ts: list
    value: bytes


@message("zactor.repl.PutMany")
class PutMany:
    """Store documents: ``docs`` is ``[[key, ts, value], ...]``."""

    cluster_id: str
    keyspace: str
    docs: list


@message("zactor.repl.DeleteMany")
class DeleteMany:
    """Delete keys: ``items`` is ``[[key, ts], ...]``."""

    cluster_id: str
    keyspace: str
    items: list


@message("zactor.repl.GetKeyspaceTimestamps")
class GetKeyspaceTimestamps:
    """Anti-entropy, step 1: which keyspaces changed when."""

    cluster_id: str


@message("zactor.repl.KeyspaceTimestamps")
class KeyspaceTimestamps:
    """``{keyspace: ts}``: the newest operation applied to each keyspace."""

    keyspaces: dict


@message("zactor.repl.GetState")
class GetState:
    """Anti-entropy, step 2: the ORSWOT state of one keyspace."""

    cluster_id: str
    keyspace: str


@message("zactor.repl.State")
class State:
    """``entries``: ``[[key, ts], ...]`` of live keys; ``dead``: ``[[key, ts], ...]`` of tombstones."""

    entries: list
    dead: list


@message("zactor.repl.FetchDocs")
class FetchDocs:
    """Anti-entropy, step 3: the documents of ``keys`` (a bounded chunk)."""

    cluster_id: str
    keyspace: str
    keys: list


@message("zactor.repl.Docs")
class Docs:
    """``docs``: ``[[key, ts, value], ...]`` of the live documents asked for."""

    docs: list


@message("zactor.repl.Read")
class Read:
    """A replica read (``get`` with a consistency level)."""

    cluster_id: str
    keyspace: str
    key: object


@message("zactor.repl.ReadReply")
class ReadReply:
    """The replica's document: ``ts`` empty when it has none (or a tombstone: then ``value`` is None)."""

    ts: list
    value: object
