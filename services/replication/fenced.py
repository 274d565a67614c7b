"""Fenced registers: one value per key, written only by the holder of the newest fencing term.

A fenced keyspace is not an ORSWOT: its values are ordered by ``(term, seq)``, never by timestamp, so a write from a
paused or cut-off former owner can neither overwrite newer state nor win a later merge. Each replica keeps, per key, a
:class:`FencedRow`: the highest term any owner claimed there (the *fence*) and the value with its ``(term, seq)``.

- ``claim(term)`` raises the fence to ``term`` and returns the row (a new owner's first step, sent to a quorum);
- ``write(term, seq, value)`` is refused with :class:`StaleTerm` below the fence, and replaces the value only when
  ``(term, seq)`` is newer than the stored one.

With claims and writes both at a majority, a write acknowledged by a majority before a claim is returned by that
claim (the two majorities share a replica, which saw the write before the claim, or refused it), and a write that a
majority refused is never acknowledged: this is fencing as Kleppmann describes it ("How to do distributed locking",
2016) with Paxos-style majorities, the term playing the ballot number. Fenced rows are not spread by anti-entropy: a
replica that missed writes holds an older ``(term, seq)``, which loses to the newer one at the next claim.

:class:`FencedRow`, :func:`claim_row`, :func:`write_row` and :func:`newest` are pure; :class:`FencedRegisters` keeps
one replica's rows in its storage.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Iterable

import attrs
import msgpack

from zactor.errors import StaleTerm
from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.replication.storage import Document, Key, Storage, StorageError

__all__ = ["FencedRow", "FencedRegisters", "StaleTerm", "claim_row", "write_row", "newest", "FENCED_PREFIX"]

FENCED_PREFIX = "zactor.fenced."
"""Storage keyspace of a fenced keyspace's rows: this prefix and its name (reserved: not in the ORSWOT)."""


@attrs.frozen
class FencedRow:
    """One key on one replica: ``fence``, the highest term claimed; ``term`` and ``seq``, the version of ``value``
    (``None``: never written)."""

    fence: int = 0
    term: int = 0
    seq: int = 0
    value: bytes | None = None

    def version(self) -> tuple[int, int]:
        """``(term, seq)``: how the row's value is ordered against another replica's."""
        return self.term, self.seq


def claim_row(row: FencedRow, term: int) -> FencedRow:
    """The row after an owner with ``term`` claimed it (its fence raised to ``term``).

    Raises:
        StaleTerm: the row's fence is above ``term``.
    """
    if row.fence > term:
        raise StaleTerm(term, row.fence)
    return row if row.fence == term else attrs.evolve(row, fence=term)


def write_row(row: FencedRow, term: int, seq: int, value: bytes) -> FencedRow:
    """The row after the write ``(term, seq, value)``: the fence raised to ``term``, and the value replaced when
    ``(term, seq)`` is newer than the row's.

    Raises:
        StaleTerm: the row's fence is above ``term``.
    """
    row = claim_row(row, term)
    if (term, seq) <= row.version():
        return row
    return FencedRow(row.fence, term, seq, value)


def newest(rows: Iterable[FencedRow]) -> FencedRow:
    """The row with the newest ``(term, seq)`` among ``rows`` (an empty row when there are none)."""
    return max(rows, key=FencedRow.version, default=FencedRow())


def pack_row(row: FencedRow) -> bytes:
    """A row as stored: msgpack ``[fence, term, seq, value]``."""
    packed: bytes = msgpack.packb([row.fence, row.term, row.seq, row.value])
    return packed


def unpack_row(data: bytes | memoryview) -> FencedRow:
    """A row read from storage.

    Raises:
        StorageError: the stored bytes are not a row.
    """
    try:
        fence, term, seq, value = msgpack.unpackb(data)
        return FencedRow(int(fence), int(term), int(seq), None if value is None else bytes(value))
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise StorageError("", f"a fenced row does not decode: {exc}") from None


class FencedRegisters:
    """One replica's fenced rows, in its storage; operations on one key run one at a time.

    Args:
        storage: the replica's storage (rows go to keyspace ``zactor.fenced.<name>``).
        now: the HLC clock stamping stored rows (the stamp orders nothing; rows are ordered by term).
    """

    def __init__(self, storage: Storage, now: Callable[[], HLCTimestamp]) -> None:
        self._storage = storage
        self._now = now
        self._locks: collections.defaultdict[tuple[str, Key], asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._waiting: collections.Counter[tuple[str, Key]] = collections.Counter()

    async def get(self, keyspace: str, key: Key) -> FencedRow:
        """The stored row of ``key`` (an empty row when there is none).

        Raises:
            StorageError: the storage cannot be read, or holds a row that does not decode.
        """
        doc = await self._storage.get(FENCED_PREFIX + keyspace, key)
        return FencedRow() if doc is None else unpack_row(doc.value)

    async def claim(self, keyspace: str, key: Key, term: int) -> FencedRow:
        """Raise the fence of ``key`` to ``term`` (stored before returning); returns the row.

        Raises:
            StaleTerm: the fence is above ``term`` (nothing changes).
            StorageError: the storage refused.
        """
        return await self._update(keyspace, key, lambda row: claim_row(row, term))

    async def write(self, keyspace: str, key: Key, term: int, seq: int, value: bytes) -> FencedRow:
        """Apply the write ``(term, seq, value)`` to ``key`` (stored before returning); returns the row.

        Raises:
            StaleTerm: the fence is above ``term`` (nothing changes).
            StorageError: the storage refused.
        """
        return await self._update(keyspace, key, lambda row: write_row(row, term, seq, value))

    async def _update(self, keyspace: str, key: Key, change: Callable[[FencedRow], FencedRow]) -> FencedRow:
        slot = (keyspace, key)
        self._waiting[slot] += 1
        try:
            async with self._locks[slot]:
                row = await self.get(keyspace, key)
                changed = change(row)
                if changed != row:
                    await self._storage.put(FENCED_PREFIX + keyspace, Document(key, self._now(), pack_row(changed)))
                return changed
        finally:
            self._waiting[slot] -= 1
            if not self._waiting[slot]:
                del self._waiting[slot], self._locks[slot]
