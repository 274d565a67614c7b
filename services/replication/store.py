"""``ReplicatedStore``: an eventually consistent, replicated key-value store as a node extension.

``store = await node.add_extension(ReplicatedStore(SQLiteStorage(path)))``. A write is stamped with the node's HLC,
applied locally (and stored durably), then sent to the nodes the selector picks for its consistency level; it
succeeds when enough of them acknowledge before the deadline, otherwise it raises ``ConsistencyFailure`` (the local
write stays and anti-entropy spreads it later). Reads are local unless a consistency level is given: then replicas are
asked, the newest version wins and stale replicas are repaired.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from actors.errors import ActorError
from services.clock import HLCTimestamp
from services.replication.antientropy import AntiEntropy
from services.replication.coalesce import WriteCoalescer
from services.replication.crdt import DEFAULT_FORGIVENESS_MS
from services.replication.handlers import REPLICATION_ACTOR, ReplicationActor, TimestampCheck, wire_ts
from services.replication.messages import DeleteMany, PutMany, PutOne, Read, ReadReply
from services.replication.replica import LOCAL, RESERVED_PREFIX, Replica
from services.replication.storage import Key, Storage, check_key
from services.selector import Consistency, NotEnoughNodes

if TYPE_CHECKING:
    from actors import Node

__all__ = ["ReplicatedStore", "ConsistencyFailure", "ValueTooLarge", "KeyspaceHandle"]

log = logging.getLogger("zactor.replication")


class ConsistencyFailure(ActorError):
    """Fewer replicas acknowledged a write than its consistency level requires (the local write stays).

    Attributes:
        acked: how many other nodes acknowledged before the deadline.
        required: how many the level required.
    """

    def __init__(self, acked: int, required: int) -> None:
        super().__init__(f"{acked} of {required} required replicas acknowledged")
        self.acked = acked
        self.required = required


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

    Attributes:
        replica: the local CRDT state and storage.
        anti_entropy: the pull loop (its ``stats`` count fetched documents and failures).
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
    ) -> None:
        self.replica = Replica(storage, forgiveness_ms)
        self._interval_s = anti_entropy_interval_s
        self._write_timeout_s = write_timeout_s
        self._max_value_bytes = max_value_bytes
        self._fetch_chunk = fetch_chunk
        self._node: Node | None = None
        self._coalescer: WriteCoalescer | None = None
        self._check_ts: TimestampCheck = _no_check
        self._task: asyncio.Task[None] | None = None
        self.anti_entropy: AntiEntropy | None = None

    async def start(self, node: Node) -> ReplicatedStore:
        """Rebuild the CRDTs from storage, serve peers, start anti-entropy. Returns the store."""
        self._node = node
        self._coalescer = WriteCoalescer(self._fan_out, node.config.cluster_id)
        rows = await self.replica.load()
        log.info("replica of node %r loaded %d documents and tombstones", node.node_id, rows)
        check_ts = self._check_ts = node.clock.check
        await node.add_actor(REPLICATION_ACTOR, ReplicationActor(self.replica, node.config.cluster_id, check_ts))
        self.anti_entropy = AntiEntropy(node, self.replica, self._fetch_chunk, self._write_timeout_s * 5, check_ts)
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
        await self.replica.storage.close()

    def _started(self) -> Node:
        if self._node is None:
            raise RuntimeError("the replicated store is not started")
        return self._node

    # ------------------------------------------------------------------------------------------------ writes

    async def put(self, keyspace: str, key: Key, value: Any, consistency: Consistency = Consistency.QUORUM) -> None:
        """Write ``value`` under ``key``.

        Raises:
            ConsistencyFailure: fewer replicas acknowledged in time than ``consistency`` requires.
            StorageError: the local storage refused the write (nothing was sent).
            ValueTooLarge: ``value`` exceeds ``max_value_bytes``.
            TypeError: ``key`` is not ``str``/``bytes`` or ``value`` is not bytes-like.
            ValueError: the keyspace is empty or starts with ``zactor.`` (reserved).
        """
        node = self._started()
        _check_keyspace(keyspace)
        ts = node.clock.now()
        doc = (check_key(key), ts, self._check_value(value))
        await self.replica.put(keyspace, [doc], LOCAL)
        if _nbytes(value) >= node.config.copy_threshold_bytes:  # large: alone, as a zero-copy frame
            msg = PutOne(cluster_id=node.config.cluster_id, keyspace=keyspace, key=key, ts=ts.to_wire(), value=value)
            await self._replicate(msg, consistency)
            return
        targets, required = self._targets(consistency)
        coalescer = self._coalescer
        assert coalescer is not None
        acked = await coalescer.submit(keyspace, tuple(targets), [key, ts.to_wire(), value]) if targets else 0
        if acked < required:
            raise ConsistencyFailure(acked, required)

    async def put_many(
        self, keyspace: str, items: Iterable[tuple[Key, Any]], consistency: Consistency = Consistency.QUORUM
    ) -> None:
        """Write many ``(key, value)`` pairs as one batch (one storage transaction, one message per replica).

        Raises:
            as :meth:`put`.
        """
        node = self._started()
        _check_keyspace(keyspace)
        docs = [(check_key(k), node.clock.now(), self._check_value(v)) for k, v in items]
        await self.replica.put(keyspace, docs, LOCAL)
        wire = [[k, ts.to_wire(), v] for k, ts, v in docs]
        await self._replicate(PutMany(cluster_id=node.config.cluster_id, keyspace=keyspace, docs=wire), consistency)

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
        node = self._started()
        _check_keyspace(keyspace)
        items = [(check_key(k), node.clock.now()) for k in keys]
        await self.replica.delete(keyspace, items, LOCAL)
        wire = [[k, ts.to_wire()] for k, ts in items]
        await self._replicate(DeleteMany(cluster_id=node.config.cluster_id, keyspace=keyspace, items=wire), consistency)

    def _check_value(self, value: Any) -> Any:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"a value must be bytes-like, not {type(value).__name__}")
        size = _nbytes(value)
        if size > self._max_value_bytes:
            raise ValueTooLarge(size, self._max_value_bytes)
        return value

    def _targets(self, consistency: Consistency) -> tuple[list[str], int]:
        node = self._started()
        try:
            targets = node.select(consistency, hosting=REPLICATION_ACTOR)
            return targets, len(targets)
        except NotEnoughNodes as exc:
            others = [m.node_id for m in node.members() if m.node_id != node.node_id and REPLICATION_ACTOR in m.actors]
            return others, exc.required

    async def _replicate(self, msg: Any, consistency: Consistency) -> None:
        targets, required = self._targets(consistency)
        if not targets:
            if required:
                raise ConsistencyFailure(0, required)
            return
        acked = await self._fan_out(targets, msg)
        if acked < required:
            raise ConsistencyFailure(acked, required)

    async def _fan_out(self, node_ids: Sequence[str], msg: Any) -> int:
        node = self._started()
        timeout_s = self._write_timeout_s

        async def send(node_id: str) -> bool:
            try:
                await node.ref(REPLICATION_ACTOR, node_id=node_id).ask(msg, timeout_s=timeout_s)
                return True
            except ActorError as exc:
                log.debug("replica %s did not acknowledge: %s", node_id, exc)
                return False

        results = await asyncio.gather(*(send(n) for n in node_ids))
        return sum(results)

    # ------------------------------------------------------------------------------------------------- reads

    async def get(self, keyspace: str, key: Key, *, consistency: Consistency | None = None) -> Any:
        """The value of ``key``, or ``None`` when absent or deleted (an unknown keyspace reads as empty).

        With ``consistency``, the replicas it selects are asked too; the newest version wins and replicas holding an
        older one are repaired.

        Raises:
            TypeError: ``key`` is not ``str``/``bytes``.
            NotEnoughNodes: too few live nodes for ``consistency``.
        """
        check_key(key)
        if consistency is None:
            doc = await self.replica.storage.get(keyspace, key)
            return None if doc is None else doc.value
        return await self._quorum_read(keyspace, key, consistency)

    async def get_many(self, keyspace: str, keys: Sequence[Key]) -> dict[Key, Any]:
        """``{key: value}`` of the live keys among ``keys`` (local read)."""
        docs = await self.replica.storage.get_many(keyspace, [check_key(k) for k in keys])
        return {d.key: d.value for d in docs}

    async def keyspaces(self) -> list[str]:
        """Names of the keyspaces holding any key or tombstone on this node."""
        return self.replica.keyspaces()

    def keyspace(self, name: str) -> KeyspaceHandle:
        """A handle bound to the keyspace ``name``."""
        return KeyspaceHandle(self, name)

    async def _quorum_read(self, keyspace: str, key: Key, consistency: Consistency) -> Any:
        node = self._started()
        targets = node.select(consistency, hosting=REPLICATION_ACTOR)
        crdt = self.replica.crdt(keyspace)
        local_doc = await self.replica.storage.get(keyspace, key)
        best_ts: HLCTimestamp | None = crdt.dead.get(key) or (local_doc.ts if local_doc else None)
        best_value = local_doc.value if local_doc else None
        replies: dict[str, HLCTimestamp | None] = {}
        msg = Read(cluster_id=node.config.cluster_id, keyspace=keyspace, key=key)
        answers = await asyncio.gather(
            *(node.ref(REPLICATION_ACTOR, node_id=n).ask(msg, timeout_s=self._write_timeout_s) for n in targets),
            return_exceptions=True,
        )
        for node_id, answer in zip(targets, answers, strict=True):
            if not isinstance(answer, ReadReply):
                continue
            try:
                ts = wire_ts(answer.ts, self._check_ts) if answer.ts else None
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
        node = self._started()
        if value is None:
            await self.replica.delete(keyspace, [(key, ts)], LOCAL)
            msg: Any = DeleteMany(cluster_id=node.config.cluster_id, keyspace=keyspace, items=[[key, ts.to_wire()]])
        else:
            await self.replica.put(keyspace, [(key, ts, value)], LOCAL)
            msg = PutOne(cluster_id=node.config.cluster_id, keyspace=keyspace, key=key, ts=ts.to_wire(), value=value)
        stale = [n for n, their in seen.items() if their is None or their < ts]
        if stale:
            await self._fan_out(stale, msg)


def _no_check(ts: HLCTimestamp) -> None:
    """The timestamp check before the store starts (it reads nothing from the network then)."""


def _check_keyspace(keyspace: str) -> None:
    if not isinstance(keyspace, str) or not keyspace or keyspace.startswith(RESERVED_PREFIX):
        raise ValueError(f"a keyspace is a non-empty str not starting with {RESERVED_PREFIX!r}, got {keyspace!r}")


def _nbytes(value: Any) -> int:
    return value.nbytes if isinstance(value, memoryview) else len(value)


class KeyspaceHandle:
    """The store's operations bound to one keyspace: ``kv = store.keyspace("users"); await kv.put("ada", b"...")``."""

    def __init__(self, store: ReplicatedStore, name: str) -> None:
        self.store = store
        self.name = name

    async def put(self, key: Key, value: Any, consistency: Consistency = Consistency.QUORUM) -> None:
        """As :meth:`ReplicatedStore.put` in this keyspace."""
        await self.store.put(self.name, key, value, consistency)

    async def put_many(self, items: Iterable[tuple[Key, Any]], consistency: Consistency = Consistency.QUORUM) -> None:
        """As :meth:`ReplicatedStore.put_many` in this keyspace."""
        await self.store.put_many(self.name, items, consistency)

    async def delete(self, key: Key, consistency: Consistency = Consistency.QUORUM) -> None:
        """As :meth:`ReplicatedStore.delete` in this keyspace."""
        await self.store.delete(self.name, key, consistency)

    async def delete_many(self, keys: Iterable[Key], consistency: Consistency = Consistency.QUORUM) -> None:
        """As :meth:`ReplicatedStore.delete_many` in this keyspace."""
        await self.store.delete_many(self.name, keys, consistency)

    async def get(self, key: Key, *, consistency: Consistency | None = None) -> Any:
        """As :meth:`ReplicatedStore.get` in this keyspace."""
        return await self.store.get(self.name, key, consistency=consistency)

    async def get_many(self, keys: Sequence[Key]) -> dict[Key, Any]:
        """As :meth:`ReplicatedStore.get_many` in this keyspace."""
        return await self.store.get_many(self.name, keys)
