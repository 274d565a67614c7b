"""One node's replica: the ORSWOT of every keyspace kept in step with the storage.

Every change goes through :class:`Replica`: the CRDT decides (newest HLC wins; an insert beats a delete at an equal
timestamp), the winners are written to storage in one batch, and if the storage refuses, the CRDT entries that batch
set are put back, so the CRDT never claims what the disk does not hold. Writes are submitted to storage in the
order the CRDT accepted them, so a newer version is never overwritten by an older one.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Hashable, Sequence
from typing import cast

from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.replication.crdt import ORSWOT
from zactor.services.replication.digest import range_digests
from zactor.services.replication.storage import Document, Key, Storage

__all__ = ["Replica", "LOCAL", "REMOTE", "RESERVED_PREFIX"]

LOCAL = 0
REMOTE = 1
RESERVED_PREFIX = "zactor."  # keyspaces of zactor's own bookkeeping, not replicated

# (key, live timestamp before, tombstone timestamp before, timestamp applied)
_Undo = tuple[Hashable, HLCTimestamp | None, HLCTimestamp | None, HLCTimestamp]


class Replica:
    """The keyspaces of one node: CRDT state plus storage.

    Args:
        storage: where documents live.
        forgiveness_ms: the CRDT's forgiveness period, in ms.
        epoch: identifies this replica's change log: a value never used before by this node, e.g. a random 62-bit
            number drawn at every start.

    Attributes:
        epoch: as given.
        seq: keyspace -> how many changes were applied to it in this epoch (anti-entropy compares these).
    """

    def __init__(self, storage: Storage, forgiveness_ms: int, epoch: int) -> None:
        self.storage = storage
        self._forgiveness_ms = forgiveness_ms
        self._crdts: dict[str, ORSWOT] = {}
        self.epoch = epoch
        self.seq: dict[str, int] = {}
        self._changed: dict[str, dict[Hashable, int]] = {}
        self._digests: dict[str, tuple[int, list[int]]] = {}  # keyspace -> (seq computed at, range digests)

    async def load(self) -> int:
        """Rebuild every keyspace's CRDT from storage (at start); returns how many rows were read."""
        rows = 0
        for keyspace in await self.storage.keyspaces():
            if keyspace.startswith(RESERVED_PREFIX):
                continue
            metadata = await self.storage.iter_metadata(keyspace)
            self._crdts[keyspace] = ORSWOT.from_items(metadata, forgiveness_ms=self._forgiveness_ms)
            self._record(keyspace, [key for key, _, _ in metadata])
            rows += len(metadata)
        return rows

    def crdt(self, keyspace: str) -> ORSWOT:
        """The CRDT of ``keyspace`` (created empty on first use)."""
        crdt = self._crdts.get(keyspace)
        if crdt is None:
            crdt = self._crdts[keyspace] = ORSWOT(forgiveness_ms=self._forgiveness_ms)
        return crdt

    def digests(self, keyspace: str) -> list[int]:
        """The range digests of ``keyspace`` (:func:`~zactor.services.replication.digest.range_digests`), computed
        once per change number: a restarted peer asks every node for them, and compares its own with each."""
        seq = self.seq.get(keyspace, 0)
        cached = self._digests.get(keyspace)
        if cached is None or cached[0] != seq:
            cached = self._digests[keyspace] = (seq, range_digests(self.crdt(keyspace)))
        return cached[1]

    def _record(self, keyspace: str, keys: Sequence[Hashable]) -> None:
        seq = self.seq.get(keyspace, 0)
        changed = self._changed.setdefault(keyspace, {})
        for key in keys:
            seq += 1
            changed.pop(key, None)  # re-inserted at the end: the dict stays in change order
            changed[key] = seq
        self.seq[keyspace] = seq

    def changed_since(self, keyspace: str, since: int) -> list[Hashable]:
        """Keys of ``keyspace`` changed after change number ``since`` of this epoch, oldest change first; reads only
        those changes (the log is kept in change order, so they are its last ``seq - since`` entries at most)."""
        changed = self._changed.get(keyspace)
        if not changed:
            return []
        keys = list(itertools.islice(reversed(changed), max(self.seq[keyspace] - since, 0)))
        if keys and changed[keys[-1]] <= since:  # keys changed again: fewer than seq - since are newer
            keys = list(itertools.takewhile(lambda key: changed[key] > since, keys))
        keys.reverse()
        return keys

    async def put(self, keyspace: str, docs: Sequence[Document], source: int) -> int:
        """Apply writes; the ones the CRDT accepts are stored. Returns how many were accepted.

        Raises:
            StorageError: the storage refused the batch (the CRDT is restored; nothing of it counts).
        """
        crdt = self.crdt(keyspace)
        undo = crdt.apply_many(((key, ts) for key, ts, _ in docs), source, is_delete=False)
        if not undo:
            return 0
        if len(undo) == len(docs):  # the usual case: every document won
            stored = docs
        else:
            kept = {(key, ts) for key, _, _, ts in undo}
            stored = [doc for doc in docs if (doc.key, doc.ts) in kept]
        await self._store(keyspace, crdt, undo, self.storage.put_many(keyspace, stored))
        return len(undo)

    async def delete(self, keyspace: str, items: Sequence[tuple[Key, HLCTimestamp]], source: int) -> int:
        """Apply deletes; the ones the CRDT accepts become tombstones in storage. Returns how many were accepted.

        Raises:
            StorageError: the storage refused the batch (the CRDT is restored).
        """
        crdt = self.crdt(keyspace)
        undo = crdt.apply_many(items, source, is_delete=True)
        if undo:
            accepted = [(cast(Key, key), ts) for key, _, _, ts in undo]  # the keys given: Keys
            await self._store(keyspace, crdt, undo, self.storage.mark_many_tombstones(keyspace, accepted))
        return len(undo)

    async def _store(self, keyspace: str, crdt: ORSWOT, undo: list[_Undo], write: Awaitable[None]) -> None:
        """Await the storage write of an accepted batch; undo the CRDT changes if it fails, record them if not."""
        try:
            await write
        except BaseException:
            _restore(crdt, undo)
            self._digests.pop(keyspace, None)  # computed meanwhile from what is now undone
            raise
        self._record(keyspace, [key for key, *_ in undo])

    async def purge(self, keyspace: str) -> int:
        """Drop the tombstones every node has seen past (CRDT and storage); returns how many."""
        purged = self.crdt(keyspace).purge_old_deletes()
        if purged:
            self._digests.pop(keyspace, None)
            await self.storage.remove_tombstones(keyspace, purged)  # type: ignore[arg-type]
            changed = self._changed.get(keyspace, {})
            for key in purged:
                changed.pop(key, None)
        return len(purged)

    def keyspaces(self) -> list[str]:
        """Names of the keyspaces with any live key or tombstone."""
        return sorted(name for name, crdt in self._crdts.items() if crdt.entries or crdt.dead)


def _restore(crdt: ORSWOT, undo: list[_Undo]) -> None:
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
