"""The coordinator side of a fenced keyspace: claims and writes sent to a quorum of the store's replica set.

``registers = store.fenced("counter")``; an owner with fencing term ``t`` loads with ``await registers.load(key, t)``
and writes with ``await registers.write(key, t, seq, value)``. Both count the local replica and need a majority of the
replica set (QUORUM, as :mod:`~zactor.services.selector` counts it); the protocol is in
:mod:`~zactor.services.replication.fenced`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zactor.services.replication.fanout import await_acks
from zactor.services.replication.fenced import FencedRegisters, FencedRow, StaleTerm, newest
from zactor.services.replication.messages import FencedClaim, FencedReply, FencedWrite
from zactor.services.replication.storage import Key, check_key
from zactor.services.selector.policy import Consistency

if TYPE_CHECKING:
    from zactor.services.replication.store import ReplicatedStore

__all__ = ["FencedKeyspace", "next_seq"]


def next_seq(after: int, now_s: float) -> int:
    """A write's ``seq``: above ``after`` and at least ``now_s`` (monotonic seconds) in ns, so that two activations
    of one key in one term, which run in one process one after the other, never give two values one version."""
    return max(after + 1, int(now_s * 1e9))


class FencedKeyspace:
    """The fenced keyspace ``name`` of a started :class:`~zactor.services.replication.ReplicatedStore`.

    Args:
        store: the store (its replica set and deadline are used).
        registers: the local replica's rows.
        name: the keyspace.
    """

    def __init__(self, store: ReplicatedStore, registers: FencedRegisters, name: str) -> None:
        self._store = store
        self._registers = registers
        self.name = name

    async def claim(self, key: Key, term: int) -> FencedRow:
        """Raise the fence of ``key`` to ``term`` on a quorum; returns the newest row among the answers.

        Raises:
            StaleTerm: a replica holds a newer term (this owner is superseded).
            NotEnoughNodes: too few live replicas for a quorum.
            ConsistencyFailure: fewer than a quorum answered within the store's write deadline.
            StorageError: the local storage refused.
        """
        check_key(key)
        counter, targets = await self._store._plan(Consistency.QUORUM)
        try:
            local = await self._registers.claim(self.name, key, term)
            msg = FencedClaim(keyspace=self.name, key=key, term=term)
            answers = await self._fan_out(targets, msg, counter, term)
        except StaleTerm:
            self._store.stats["stale_terms"] += 1
            raise
        return newest([local, *(_row(reply) for reply in answers.values())])

    async def load(self, key: Key, term: int, now_s: float) -> FencedRow:
        """Claim ``key`` for ``term`` and write the newest value found back under ``term`` at a quorum, so that no
        later claim can miss what this owner is about to serve. Returns the row as written (``seq`` is where this
        owner's writes continue; ``value`` is ``None`` for a key never written).

        Raises:
            as :meth:`claim`.
        """
        row = await self.claim(key, term)
        if row.value is None:
            return FencedRow(term, term, 0, None)
        seq = next_seq(row.seq if row.term == term else 0, now_s)
        await self.write(key, term, seq, row.value)
        return FencedRow(term, term, seq, row.value)

    async def write(self, key: Key, term: int, seq: int, value: bytes) -> None:
        """Write version ``(term, seq)`` of ``key`` at a quorum.

        Raises:
            as :meth:`claim` (a refused write is not acknowledged: a newer owner's claim did not see it, or will
            see it and order it below its own writes).
        """
        check_key(key)
        counter, targets = await self._store._plan(Consistency.QUORUM)
        try:
            await self._registers.write(self.name, key, term, seq, value)
            msg = FencedWrite(keyspace=self.name, key=key, term=term, seq=seq, value=value)
            await self._fan_out(targets, msg, counter, term)
        except StaleTerm:
            self._store.stats["stale_terms"] += 1
            raise

    async def _fan_out(self, targets: list[str], msg: Any, counter: Any, term: int) -> dict[str, Any]:
        def refused(reply: Any) -> None:
            if isinstance(reply, FencedReply) and reply.stale:
                raise StaleTerm(term, reply.stale)

        store = self._store
        return await await_acks(store._send_each(targets, msg), counter, store._write_timeout_s, check=refused)


def _row(reply: Any) -> FencedRow:
    if not isinstance(reply, FencedReply):
        return FencedRow()
    return FencedRow(0, reply.term, reply.seq, reply.value)
