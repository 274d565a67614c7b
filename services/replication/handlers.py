"""The ``zactor.replication`` actor: what a node does with replication messages from its peers.

Writes are applied through the :class:`~zactor.services.replication.replica.Replica` (so a refused storage write is
answered with an ERROR, never acknowledged); anti-entropy questions are answered from the CRDT and storage. A message
from a node that is no member of this cluster is refused with ``ClusterMismatch`` (the node refused another cluster's
envelope already); fields of the wrong shape never reach a handler (checked decode), and timestamps out of range or
too far ahead are refused with ``DecodeError`` or ``ClockOffsetError``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

from zactor import Actor, Context, handler
from zactor.errors import DecodeError
from zactor.services.clock.hlc import MAX_LOGICAL, HLCTimestamp
from zactor.services.replication.digest import pack_digests, range_of
from zactor.services.replication.fenced import FencedRegisters, FencedRow, StaleTerm
from zactor.services.replication.messages import (
    Columns,
    DeleteMany,
    Digests,
    Docs,
    FencedClaim,
    FencedReply,
    FencedWrite,
    FetchDocs,
    GetDigests,
    GetKeyspaceVersions,
    GetState,
    HostsStore,
    KeyspaceVersions,
    PutMany,
    PutOne,
    Read,
    ReadReply,
    RemoveReplica,
    State,
    WireDoc,
    WireKey,
)
from zactor.services.replication.replica import REMOTE, Replica
from zactor.services.replication.replica_set import ReplicaSet
from zactor.services.replication.storage import Document

__all__ = [
    "ReplicationActor",
    "REPLICATION_ACTOR",
    "TimestampCheck",
    "stamped_columns",
    "wire_docs",
    "wire_stamped",
    "wire_ts",
]

REPLICATION_ACTOR = "zactor.replication"

TimestampCheck = Callable[[HLCTimestamp], None]
"""Refuses a document timestamp from the network that is too far ahead (raises ``ClockOffsetError``)."""

_stamp = functools.partial(tuple.__new__, HLCTimestamp)  # from a checked (ms, logical, node) tuple, in C


def wire_ts(value: Any, check: TimestampCheck) -> HLCTimestamp:
    """A document timestamp received from a peer, parsed and checked against the local clock.

    Raises:
        DecodeError: not ``[uint, uint, str]`` with the logical counter in bounds.
        ClockOffsetError: further ahead of local time than the clock's max offset (a forged or broken clock).
    """
    ts = HLCTimestamp.from_wire(value)
    check(ts)
    return ts


def stamped_columns(pairs: Sequence[tuple[Hashable, HLCTimestamp]]) -> Columns:
    """``(key, ts)`` pairs as the four columns ``(keys, physical_ms, logical, node_ids)``: a few arrays on the wire
    instead of two per pair, built and parsed without a Python step per pair."""
    if not pairs:
        return [], [], [], []
    keys, stamps = zip(*pairs, strict=True)
    physical, logical, nodes = zip(*stamps, strict=True)
    return cast(list[WireKey], list(keys)), list(physical), list(logical), list(nodes)  # the CRDT's keys


def wire_stamped(columns: Columns, check: TimestampCheck) -> dict[Hashable, HLCTimestamp]:
    """``{key: ts}`` from :func:`stamped_columns`' form received from a peer (its types checked at decode).

    Raises:
        DecodeError: the four columns differ in length, or a timestamp is out of range (physical time below 0, a
            logical counter outside 0 to ``MAX_LOGICAL``).
        ClockOffsetError: a timestamp is too far ahead (see :func:`wire_ts`); nothing of it is returned.
    """
    keys, physical, logical, nodes = columns
    if not len(keys) == len(physical) == len(logical) == len(nodes):
        raise DecodeError("stamped keys: the four columns differ in length")
    if not keys:
        return {}
    if min(physical) < 0 or min(logical) < 0 or max(logical) > MAX_LOGICAL:
        raise DecodeError(f"stamped keys: a timestamp out of range (logical 0 to {MAX_LOGICAL})")
    stamps = map(_stamp, zip(physical, logical, nodes, strict=True))
    stamped: dict[Hashable, HLCTimestamp] = dict(zip(keys, stamps, strict=True))
    check(max(stamped.values()))  # the newest passes: so do the others
    return stamped


def wire_docs(docs: list[WireDoc], check: TimestampCheck) -> list[Document]:
    """``[(key, ts, value), ...]`` received from a peer (its types checked at decode), as documents.

    Raises:
        DecodeError: a timestamp is out of range.
        ClockOffsetError: a timestamp is too far ahead (see :func:`wire_ts`); nothing of the list is applied.
    """
    parsed = [Document(k, HLCTimestamp.from_wire(ts), v) for k, ts, v in docs]
    if parsed:
        check(max(ts for _, ts, _ in parsed))  # the newest passes: so do the others
    return parsed


class ReplicationActor(Actor):
    """Serves one node's replica to its peers.

    Args:
        replica: the node's replica.
        check_ts: refuses document timestamps too far ahead of local time (``ClockOffsetError``).
        replica_set: the store's replica set (an operator's removal reaches it through :class:`RemoveReplica`).
        fenced: the replica's fenced rows (:mod:`~zactor.services.replication.fenced`).
    """

    max_concurrency = 16
    mailbox_size = 100_000

    def __init__(
        self, replica: Replica, check_ts: TimestampCheck, replica_set: ReplicaSet, fenced: FencedRegisters
    ) -> None:
        self._replica = replica
        self._fenced = fenced
        self._replica_set = replica_set
        self._check_ts = check_ts

    @handler
    async def on_put_one(self, msg: PutOne, ctx: Context) -> None:
        ctx.require_member()
        doc = Document(msg.key, wire_ts(msg.ts, self._check_ts), msg.value)
        await self._replica.put(msg.keyspace, [doc], REMOTE)

    @handler
    async def on_put_many(self, msg: PutMany, ctx: Context) -> None:
        ctx.require_member()
        await self._replica.put(msg.keyspace, wire_docs(msg.docs, self._check_ts), REMOTE)

    @handler
    async def on_delete_many(self, msg: DeleteMany, ctx: Context) -> None:
        ctx.require_member()
        items = [(k, wire_ts(ts, self._check_ts)) for k, ts in msg.items]
        await self._replica.delete(msg.keyspace, items, REMOTE)

    @handler
    async def on_hosts_store(self, msg: HostsStore, ctx: Context) -> None:
        ctx.require_member()

    @handler
    async def on_remove_replica(self, msg: RemoveReplica, ctx: Context) -> None:
        ctx.require_member()
        if msg.node_id != ctx.node_id:
            await self._replica_set.remove(msg.node_id)

    @handler
    async def on_get_keyspace_versions(self, msg: GetKeyspaceVersions, ctx: Context) -> KeyspaceVersions:
        ctx.require_member()
        return KeyspaceVersions(epoch=self._replica.epoch, keyspaces=dict(self._replica.seq))

    @handler
    async def on_get_digests(self, msg: GetDigests, ctx: Context) -> Digests:
        ctx.require_member()
        replica = self._replica
        digests = pack_digests(replica.digests(msg.keyspace))
        return Digests(digests=digests, epoch=replica.epoch, seq=replica.seq.get(msg.keyspace, 0))

    @handler
    async def on_get_state(self, msg: GetState, ctx: Context) -> State:
        ctx.require_member()
        replica = self._replica
        crdt = replica.crdt(msg.keyspace)
        seq = replica.seq.get(msg.keyspace, 0)
        # the asker's own writes of its current process are left out: it holds them (or newer)
        asker, since_ms = (ctx.sender.node_id, msg.own_since_ms) if msg.own_since_ms else (None, 0)
        if msg.epoch == replica.epoch:
            entries, dead = [], []
            live_ts, dead_ts = crdt.entries.get, crdt.dead.get
            for key in replica.changed_since(msg.keyspace, msg.since):
                ts = live_ts(key)
                if ts is not None:
                    if ts[2] != asker or ts[0] < since_ms:
                        entries.append((key, ts))
                elif (ts := dead_ts(key)) is not None and (ts[2] != asker or ts[0] < since_ms):
                    dead.append((key, ts))
        else:
            entries, dead = list(crdt.entries.items()), list(crdt.dead.items())
            if asker is not None:
                entries, dead = _not_written_by(asker, since_ms, entries, dead)
        if msg.ranges:
            wanted = set(msg.ranges)
            entries = [(k, ts) for k, ts in entries if range_of(k) in wanted]
            dead = [(k, ts) for k, ts in dead if range_of(k) in wanted]
        return State(entries=stamped_columns(entries), dead=stamped_columns(dead), seq=seq)

    @handler
    async def on_fetch_docs(self, msg: FetchDocs, ctx: Context) -> Docs:
        ctx.require_member()
        # Documents and their timestamps are named tuples: msgpack packs them as the arrays WireDoc describes
        docs = await self._replica.storage.get_many(msg.keyspace, msg.keys)
        return Docs(docs=cast(list[WireDoc], docs))

    @handler
    async def on_read(self, msg: Read, ctx: Context) -> ReadReply:
        ctx.require_member()
        key = msg.key
        crdt = self._replica.crdt(msg.keyspace)
        tomb = crdt.dead.get(key)
        if tomb is not None:
            return ReadReply(ts=tomb.to_wire(), value=None)
        doc = await self._replica.storage.get(msg.keyspace, key)
        return ReadReply(ts=doc.ts.to_wire(), value=doc.value) if doc else ReadReply(ts=None, value=None)

    @handler
    async def on_fenced_claim(self, msg: FencedClaim, ctx: Context) -> FencedReply:
        ctx.require_member()
        try:
            return _fenced_reply(await self._fenced.claim(msg.keyspace, msg.key, msg.term))
        except StaleTerm as exc:
            return FencedReply(stale=exc.current)

    @handler
    async def on_fenced_write(self, msg: FencedWrite, ctx: Context) -> FencedReply:
        ctx.require_member()
        try:
            return _fenced_reply(await self._fenced.write(msg.keyspace, msg.key, msg.term, msg.seq, msg.value))
        except StaleTerm as exc:
            return FencedReply(stale=exc.current)


def _not_written_by(
    node_id: str | None, since_ms: int, *columns: list[tuple[Hashable, HLCTimestamp]]
) -> tuple[list[tuple[Hashable, HLCTimestamp]], ...]:
    """``columns`` without the versions ``node_id`` stamped at or after ``since_ms``."""
    return tuple([(k, ts) for k, ts in pairs if ts[2] != node_id or ts[0] < since_ms] for pairs in columns)


def _fenced_reply(row: FencedRow) -> FencedReply:
    return FencedReply(stale=0, term=row.term, seq=row.seq, value=row.value)
