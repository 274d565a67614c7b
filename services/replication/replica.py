"""One node's replica: the ORSWOT of every keyspace kept in step with the storage.

Every change goes through :class:`Replica`: the CRDT decides (newest HLC wins; an insert beats a delete at an equal
timestamp), the winners are written to storage in one batch, and if the storage refuses, the CRDT entries that batch
set are put back, so the CRDT never claims what the disk does not hold. Writes are submitted to storage in the
order the CRDT accepted them, so a newer version is never overwritten by an older one.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from services.clock import HLCTimestamp
from services.replication.crdt import ORSWOT
from services.replication.storage import Document, Key, Storage

__all__ = ["Replica", "LOCAL", "REMOTE"]

LOCAL = 0
REMOTE = 1


class Replica:
    """The keyspaces of one node: CRDT state plus storage.

    Args:
        storage: where documents live.
        forgiveness_ms: the CRDT's forgiveness period, in ms.

    Attributes:
        changed_at: keyspace -> the newest timestamp applied to it (anti-entropy compares these).
    """

    def __init__(self, storage: Storage, forgiveness_ms: int) -> None:
        self.storage = storage
        self._forgiveness_ms = forgiveness_ms
        self._crdts: dict[str, ORSWOT] = {}
        self.changed_at: dict[str, HLCTimestamp] = {}

    async def load(self) -> int:
        """Rebuild every keyspace's CRDT from storage (at start); returns how many rows were read."""
        rows = 0
        for keyspace in await self.storage.keyspaces():
            metadata = await self.storage.iter_metadata(keyspace)
            crdt = ORSWOT.from_items(metadata, forgiveness_ms=self._forgiveness_ms)
            self._crdts[keyspace] = crdt
            if metadata:
                self.changed_at[keyspace] = max(ts for _, ts, _ in metadata)
            rows += len(metadata)
        return rows

    def crdt(self, keyspace: str) -> ORSWOT:
        """The CRDT of ``keyspace`` (created empty on first use)."""
        crdt = self._crdts.get(keyspace)
        if crdt is None:
            crdt = self._crdts[keyspace] = ORSWOT(forgiveness_ms=self._forgiveness_ms)
        return crdt

    def _touch(self, keyspace: str, ts: HLCTimestamp) -> None:
        current = self.changed_at.get(keyspace)
        if current is None or ts > current:
            self.changed_at[keyspace] = ts

    async def put(self, keyspace: str, docs: Sequence[tuple[Key, HLCTimestamp, Any]], source: int) -> int:
        """Apply writes; the ones the CRDT accepts are stored. Returns how many were accepted.

        Raises:
            StorageError: the storage refused the batch (the CRDT is restored; nothing of it counts).
        """
        crdt = self.crdt(keyspace)
        undo: list[tuple[Hashable, HLCTimestamp | None, HLCTimestamp | None, HLCTimestamp]] = []
        accepted = []
        for key, ts, value in docs:
            before = (crdt.entries.get(key), crdt.dead.get(key))
            if crdt.insert(key, ts, source):
                undo.append((key, *before, ts))
                accepted.append(Document(key, ts, value))
        if accepted:
            try:
                await self.storage.put_many(keyspace, accepted)
            except BaseException:
                _restore(crdt, undo)
                raise
            self._touch(keyspace, max(d.ts for d in accepted))
        return len(accepted)

    async def delete(self, keyspace: str, items: Sequence[tuple[Key, HLCTimestamp]], source: int) -> int:
        """Apply deletes; the ones the CRDT accepts become tombstones in storage. Returns how many were accepted.

        Raises:
            StorageError: the storage refused the batch (the CRDT is restored).
        """
        crdt = self.crdt(keyspace)
        undo: list[tuple[Hashable, HLCTimestamp | None, HLCTimestamp | None, HLCTimestamp]] = []
        accepted: list[tuple[Key, HLCTimestamp]] = []
        for key, ts in items:
            before = (crdt.entries.get(key), crdt.dead.get(key))
            if crdt.delete(key, ts, source):
                undo.append((key, *before, ts))
                accepted.append((key, ts))
        if accepted:
            try:
                await self.storage.mark_many_tombstones(keyspace, accepted)
            except BaseException:
                _restore(crdt, undo)
                raise
            self._touch(keyspace, max(ts for _, ts in accepted))
        return len(accepted)

    async def purge(self, keyspace: str) -> int:
        """Drop the tombstones every node has seen past (CRDT and storage); returns how many."""
        purged = self.crdt(keyspace).purge_old_deletes()
        if purged:
            await self.storage.remove_tombstones(keyspace, purged)  # type: ignore[arg-type]
        return len(purged)

    def keyspaces(self) -> list[str]:
        """Names of the keyspaces with any live key or tombstone."""
        return sorted(name for name, crdt in self._crdts.items() if crdt.entries or crdt.dead)


def _restore(crdt: ORSWOT, undo: list[tuple[Hashable, HLCTimestamp | None, HLCTimestamp | None, HLCTimestamp]]) -> None:
    """Put back the entries a failed batch changed, unless something newer changed them since."""
    for key, live, tomb, ts in reversed(undo):
        if crdt.entries.get(key) != ts and crdt.dead.get(key) != ts:
            continue
        crdt.entries.pop(key, None)
        crdt.dead.pop(key, None)
        if live is not None:
            crdt.entries[key] = live
        if tomb is not None:
            crdt.dead[key] = tomb
