"""``ReplicatedStore``: an eventually consistent, replicated key-value store as a node extension.

``store = await node.add_extension(ReplicatedStore(SQLiteStorage(path), replication_factor=3))``.

Consistency levels count acknowledgements over the **replica set** (every member hosting the store, live or dead, until
it leaves or is removed: :mod:`zactor.services.replication.replica_set`), the coordinator's own durable write included,
as :mod:`zactor.services.selector` describes. A write is checked first: with fewer live replicas than its level
requires, or a QUORUM/ALL-type level before membership has synced with a seed, it fails at once with ``NotEnoughNodes``
and nothing is written. Otherwise it is stamped with the node's HLC, applied locally (and stored durably), and sent to
every live replica at once; it succeeds as soon as the required count of acknowledgements arrives, otherwise it raises
``ConsistencyFailure(acked, required)`` at its deadline (the local write stays and anti-entropy spreads it later). Reads
are local unless a consistency level is given: then every live replica is asked, the level's count of answers (the local
one included) is awaited, the newest version wins and stale replicas are repaired.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from zactor.errors import ActorError
from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.clock.service import ClockService
from zactor.services.membership.service import MembershipService
from zactor.services.replication.antientropy import AntiEntropy
from zactor.services.replication.coalesce import WriteCoalescer
from zactor.services.replication.crdt import DEFAULT_FORGIVENESS_MS
from zactor.services.replication.fanout import ConsistencyFailure, Sends, await_acks, learn_hosts, send_each
from zactor.services.replication.fenced import FencedRegisters
from zactor.services.replication.fenced_store import FencedKeyspace
from zactor.services.replication.handlers import REPLICATION_ACTOR, ReplicationActor, TimestampCheck, wire_ts
from zactor.services.replication.keyspace import KeyspaceHandle
from zactor.services.replication.messages import DeleteMany, PutMany, PutOne, Read, ReadReply, RemoveReplica
from zactor.services.replication.replica import LOCAL, RESERVED_PREFIX, Replica
from zactor.services.replication.replica_set import ReplicaSet
from zactor.services.replication.storage import Document, Key, Storage, StoredValue, Value, check_key
from zactor.services.selector.policy import AckCounter, Consistency, NotEnoughNodes, needs_majority, requirement

if TYPE_CHECKING:
    from zactor import Node

__all__ = ["ReplicatedStore", "ConsistencyFailure", "ValueTooLarge"]

log = logging.getLogger("zactor.replication")


class ValueTooLarge(ActorError, ValueError):
    """A value is larger than the store's ``max_value_bytes``.

    Attributes:
        size_bytes: the value's size in bytes.
        limit_bytes: the configured limit.
    """

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(f"value of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class ReplicatedStore:
    """The replicated key-value extension (see the module docstring).

    Args:
        storage: where this node's documents live (``MemoryStorage`` or ``SQLiteStorage``).
        anti_entropy_interval_s: seconds between anti-entropy rounds.
        write_timeout_s: the deadline for replica acknowledgements of a write, in seconds.
        max_value_bytes: the largest value accepted, in bytes.
        fetch_chunk: documents per anti-entropy fetch.
        forgiveness_ms: the CRDT's forgiveness period, in ms.
        replication_factor: the replica set size assumed at the least (0: its known size); give the cluster's size
            so that a node that knows too few peers can never take itself for the whole cluster.

    Attributes:
        anti_entropy: the pull loop (its ``stats`` count fetched documents and failures).
        stats: ``writes_<level>`` and ``reads_<level>`` per consistency level, ``not_enough_nodes``,
            ``consistency_failures``.
    """

    name = "replication"

    def __init__(
        self,
        storage: Storage,
        *,
        anti_entropy_interval_s: float = 2.0,
        write_timeout_s: float = 2.0,
        max_value_bytes: int = 64 * 1024 * 1024,
        fetch_chunk: int = 2_000,
        forgiveness_ms: int = DEFAULT_FORGIVENESS_MS,
        replication_factor: int = 0,
    ) -> None:
        if replication_factor < 0:
            raise ValueError(f"replication_factor must be 0 or more, got {replication_factor}")
        self._storage = storage
        self._forgiveness_ms = forgiveness_ms
        self._replica: Replica | None = None
        self._fenced: FencedRegisters | None = None
        self.replication_factor = replication_factor
        self.replica_set: ReplicaSet | None = None
        self._interval_s = anti_entropy_interval_s
        self._write_timeout_s = write_timeout_s
        self._max_value_bytes = max_value_bytes
        self._fetch_chunk = fetch_chunk
        self._node: Node | None = None
        self._membership: MembershipService | None = None
        self._clock: ClockService | None = None
        self._coalescer: WriteCoalescer | None = None
        self._check_ts: TimestampCheck = _no_check
        self._task: asyncio.Task[None] | None = None
        self.anti_entropy: AntiEntropy | None = None
        self.stats: collections.Counter[str] = collections.Counter()

    async def start(self, node: Node) -> ReplicatedStore:
        """Rebuild the CRDTs from storage, serve peers, start anti-entropy. Returns the store.

        Raises:
            LookupError: the node runs no clock or no membership service.
            StorageError: the storage cannot be read.
        """
        self._clock = clock = node.extension(ClockService)
        self._membership = membership = node.extension(MembershipService)
        self._node = node
        self._coalescer = WriteCoalescer(self._send_each)
        self._replica = Replica(self._storage, self._forgiveness_ms, epoch=node.rng.getrandbits(62) + 1)
        rows = await self.replica.load()
        self.replica_set = ReplicaSet(self.replica.storage, node.node_id, node.config.data_center, REPLICATION_ACTOR)
        await self.replica_set.load()
        log.info("replica of node %r loaded %d documents and tombstones", node.node_id, rows)
        check_ts = self._check_ts = clock.check
        self._fenced = FencedRegisters(self._storage, clock.now)
        actor = ReplicationActor(self.replica, check_ts, self.replica_set, self._fenced)
        await node.add_actor(REPLICATION_ACTOR, actor)
        own_since_ms = clock.now().physical_ms + clock.max_offset_ms  # past any stamp of a previous process
        self.anti_entropy = AntiEntropy(
            node,
            membership,
            self.replica,
            self._fetch_chunk,
            self._write_timeout_s * 5,
            check_ts,
            self.replica_set,
            own_since_ms,
        )
        self._task = asyncio.create_task(self.anti_entropy.run(self._interval_s), name="zactor-anti-entropy")
        return self

    async def stop(self) -> None:
        """Stop anti-entropy and serving, and close the storage."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        node, self._node = self._node, None
        if node is not None and REPLICATION_ACTOR in node.actors():
            await node.remove_actor(REPLICATION_ACTOR)
        await self._storage.close()

    @property
    def replica(self) -> Replica:
        """The local CRDT state and storage; its change-log epoch is drawn from ``node.rng`` at start.

        Raises:
            RuntimeError: the store is not started.
        """
        if self._replica is None:
            raise RuntimeError("the replicated store is not started")
        return self._replica

    def _parts(self) -> tuple[Node, MembershipService, ClockService, ReplicaSet]:
        node, membership, clock, replica_set = self._node, self._membership, self._clock, self.replica_set
        if node is None or membership is None or clock is None or replica_set is None:
            raise RuntimeError("the replicated store is not started")
        return node, membership, clock, replica_set

    # ------------------------------------------------------------------------------------------------ writes

    async def put(self, keyspace: str, key: Key, value: Value, consistency: Consistency = Consistency.QUORUM) -> None:
        """Write ``value`` under ``key``.

        Raises:
            NotEnoughNodes: too few live replicas for ``consistency`` (nothing was written).
            ConsistencyFailure: fewer replicas acknowledged in time than ``consistency`` requires.
            StorageError: the local storage refused the write (nothing was sent).
            ValueTooLarge: ``value`` exceeds ``max_value_bytes``.
            TypeError: ``key`` is not ``str``/``bytes`` or ``value`` is not bytes-like.
            ValueError: the keyspace is empty or starts with ``zactor.`` (reserved).
        """
        _check_keyspace(keyspace)
        key, value = check_key(key), self._check_value(value)
        node, _, clock, _ = self._parts()
        doc = Document(key, clock.now(), value)
        counter, targets = await self._plan(consistency)
        await self.replica.put(keyspace, [doc], LOCAL)
        ts_wire = doc.ts.to_wire()
        if _nbytes(value) >= node.config.copy_threshold_bytes:  # large: alone, as a zero-copy frame
            msg = PutOne(keyspace=keyspace, key=key, ts=ts_wire, value=value)
            sends = self._send_each(targets, msg)
        else:
            coalescer = self._coalescer
            if coalescer is None:
                raise RuntimeError("the replicated store is not started")
            sends = await coalescer.submit(keyspace, tuple(targets), (key, ts_wire, value)) if targets else []
        await self._acks(sends, counter)

    async def put_many(
        self, keyspace: str, items: Iterable[tuple[Key, Value]], consistency: Consistency = Consistency.QUORUM
    ) -> None:
        """Write many ``(key, value)`` pairs as one batch (one storage transaction, one message per replica).

        Raises:
            as :meth:`put`.
        """
        node, _, clock, _ = self._parts()
        _check_keyspace(keyspace)
        docs = [Document(check_key(k), clock.now(), self._check_value(v)) for k, v in items]
        counter, targets = await self._plan(consistency)
        await self.replica.put(keyspace, docs, LOCAL)
        wire = [(k, ts.to_wire(), v) for k, ts, v in docs]
        msg = PutMany(keyspace=keyspace, docs=wire)
        await self._acks(self._send_each(targets, msg), counter)

    async def delete(self, keyspace: str, key: Key, consistency: Consistency = Consistency.QUORUM) -> None:
        """Delete ``key`` (a tombstone until every node has seen past it).

        Raises:
            as :meth:`put`.
        """
        await self.delete_many(keyspace, [key], consistency)

    async def delete_many(
        self, keyspace: str, keys: Iterable[Key], consistency: Consistency = Consistency.QUORUM
    ) -> None:
        """Delete many keys as one batch.

        Raises:
            as :meth:`put`.
        """
        node, _, clock, _ = self._parts()
        _check_keyspace(keyspace)
        items = [(check_key(k), clock.now()) for k in keys]
        counter, targets = await self._plan(consistency)
        await self.replica.delete(keyspace, items, LOCAL)
        wire = [(k, ts.to_wire()) for k, ts in items]
        msg = DeleteMany(keyspace=keyspace, items=wire)
        await self._acks(self._send_each(targets, msg), counter)

    async def remove_replica(self, node_id: str) -> bool:
        """Remove a dead node from the replica set, here and on every live replica (an operator's decision: the
        node is gone for good, and consistency levels stop counting it). Returns whether it was a member here.

        Raises:
            ValueError: ``node_id`` is this node, or a live member (stop it first; a live node hosting the store
                would rejoin the set at once).
            StorageError: the change cannot be stored.
        """
        node, membership, _, replica_set = self._parts()
        if node_id != node.node_id and node_id in {m.node_id for m in membership.members()}:
            raise ValueError(f"node {node_id!r} is live; stop it before removing it from the replica set")
        removed = await replica_set.remove(node_id)
        live = replica_set.live(membership.members())
        msg = RemoveReplica(node_id=node_id)
        await self._send_all([n for n in live if n != node.node_id], msg)
        log.warning("node %r removed from the replica set by an operator", node_id)
        return removed

    def _check_value(self, value: Any) -> Any:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"a value must be bytes-like, not {type(value).__name__}")
        size = _nbytes(value)
        if size > self._max_value_bytes:
            raise ValueTooLarge(size, self._max_value_bytes)
        return value

    async def _plan(self, consistency: Consistency, op: str = "writes") -> tuple[AckCounter, list[str]]:
        """The acknowledgement counter of an operation (the local one counted) and the other live replicas.

        Raises:
            NotEnoughNodes: too few live replicas, a majority level before membership synced with a seed, or a live
                member that may host the store did not say whether it does.
        """
        node, membership, _, replica_set = self._parts()
        self.stats[f"{op}_{consistency.value}"] += 1
        members = membership.members()
        try:
            if consistency is not Consistency.NONE:
                gossip_s = membership.config.gossip_interval_s
                await learn_hosts(node, replica_set, members, gossip_s, self._write_timeout_s)
            live = replica_set.live(members)
            if not live.keys() <= replica_set.members.keys():
                await replica_set.observe(members)
            required = requirement(consistency, replica_set.members, node.config.data_center, self.replication_factor)
            if needs_majority(consistency) and not membership.is_synced:
                raise NotEnoughNodes(len(live), required.needed, "membership has not synced with a seed yet")
            required.check_live(live)
        except NotEnoughNodes:
            self.stats["not_enough_nodes"] += 1
            raise
        counter = AckCounter(required, replica_set.members)
        counter.add(node.node_id)
        if consistency is Consistency.NONE:
            return counter, []
        return counter, [n for n in live if n != node.node_id]

    async def _acks(self, sends: Sends, counter: AckCounter) -> None:
        try:
            await await_acks(sends, counter, self._write_timeout_s)
        except ConsistencyFailure:
            self.stats["consistency_failures"] += 1
            raise

    def _send_each(self, node_ids: Sequence[str], msg: Any) -> Sends:
        node, membership, _, _ = self._parts()
        return send_each(node, membership.address_of, node_ids, msg, self._write_timeout_s)

    async def _send_all(self, node_ids: Sequence[str], msg: Any) -> None:
        """Send ``msg`` to every one of ``node_ids`` and wait for all the answers (failures are logged, not raised)."""
        await asyncio.gather(*(task for _, task in self._send_each(node_ids, msg)))

    # ------------------------------------------------------------------------------------------------- reads

    async def get(self, keyspace: str, key: Key, *, consistency: Consistency | None = None) -> StoredValue | None:
        """The value of ``key``, or ``None`` when absent or deleted (an unknown keyspace reads as empty).

        With ``consistency``, the replicas it selects are asked too; the newest version wins and replicas holding an
        older one are repaired.

        Raises:
            TypeError: ``key`` is not ``str``/``bytes``.
            NotEnoughNodes: too few live replicas for ``consistency`` (as for writes).
            ConsistencyFailure: fewer replicas than required answered before the deadline.
        """
        check_key(key)
        if consistency is None:
            doc = await self.replica.storage.get(keyspace, key)
            return None if doc is None else doc.value
        return await self._quorum_read(keyspace, key, consistency)

    async def get_many(self, keyspace: str, keys: Sequence[Key]) -> dict[Key, StoredValue]:
        """``{key: value}`` of the live keys among ``keys`` (local read)."""
        docs = await self.replica.storage.get_many(keyspace, [check_key(k) for k in keys])
        return {d.key: d.value for d in docs}

    async def keyspaces(self) -> list[str]:
        """Names of the keyspaces holding any key or tombstone on this node."""
        return self.replica.keyspaces()

    def keyspace(self, name: str) -> KeyspaceHandle:
        """A handle bound to the keyspace ``name``."""
        return KeyspaceHandle(self, name)

    def fenced(self, name: str) -> FencedKeyspace:
        """The fenced keyspace ``name`` (:mod:`~zactor.services.replication.fenced`), apart from the ORSWOT ones.

        Raises:
            RuntimeError: the store is not started.
        """
        if self._fenced is None:
            raise RuntimeError("the replicated store is not started")
        return FencedKeyspace(self, self._fenced, name)

    async def _quorum_read(self, keyspace: str, key: Key, consistency: Consistency) -> StoredValue | None:
        counter, targets = await self._plan(consistency, op="reads")
        crdt = self.replica.crdt(keyspace)
        local_doc = await self.replica.storage.get(keyspace, key)
        best_ts: HLCTimestamp | None = crdt.dead.get(key) or (local_doc.ts if local_doc else None)
        best_value = local_doc.value if local_doc else None
        msg = Read(keyspace=keyspace, key=key)
        answers = await await_acks(self._send_each(targets, msg), counter, self._write_timeout_s)
        replies: dict[str, HLCTimestamp | None] = {}
        for node_id, answer in answers.items():
            if not isinstance(answer, ReadReply):
                continue
            try:
                ts = wire_ts(answer.ts, self._check_ts) if answer.ts is not None else None
            except ActorError as exc:
                log.warning("replica %s answered a read with a bad timestamp: %s", node_id, exc)
                continue
            replies[node_id] = ts
            if ts is not None and (best_ts is None or ts > best_ts):
                best_ts, best_value = ts, answer.value
        if best_ts is not None:
            await self._repair(keyspace, key, best_ts, best_value, replies)
        return best_value

    async def _repair(self, keyspace: str, key: Key, ts: HLCTimestamp, value: Any, seen: dict[str, Any]) -> None:
        if value is None:
            await self.replica.delete(keyspace, [(key, ts)], LOCAL)
            msg: Any = DeleteMany(keyspace=keyspace, items=[(key, ts.to_wire())])
        else:
            await self.replica.put(keyspace, [Document(key, ts, value)], LOCAL)
            msg = PutOne(keyspace=keyspace, key=key, ts=ts.to_wire(), value=value)
        stale = [n for n, their in seen.items() if their is None or their < ts]
        if stale:
            await self._send_all(stale, msg)


def _no_check(ts: HLCTimestamp) -> None:
    """The timestamp check before the store starts (it reads nothing from the network then)."""


def _check_keyspace(keyspace: str) -> None:
    if not isinstance(keyspace, str) or not keyspace or keyspace.startswith(RESERVED_PREFIX):
        raise ValueError(f"a keyspace is a non-empty str not starting with {RESERVED_PREFIX!r}, got {keyspace!r}")


def _nbytes(value: Any) -> int:
    return value.nbytes if isinstance(value, memoryview) else len(value)
