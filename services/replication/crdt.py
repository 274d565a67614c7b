"""An observed-remove set without tombstone growth (ORSWOT) of document keys, stamped with HLC timestamps.

Semantics follow datacake-crdt's ``OrSWotSet``: each key is either live (``entries``: key -> timestamp of the
insert) or deleted (``dead``: key -> timestamp of the delete, a tombstone); the newer timestamp wins, and an insert
and a delete with *equal* timestamps resolve to the insert. Every operation records, per source (e.g. 0: local
writes, 1: replication) and per origin node, the newest timestamp observed. The *safe timestamp* is the oldest of
those, less a forgiveness period: an operation older than it is refused (it may concern a purged tombstone), and
tombstones older than it can be purged, because every node has seen newer state.

Pure: timestamps and everything else come in as arguments. ``merge`` is commutative, associative and idempotent.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from zactor.services.clock.hlc import HLCTimestamp

__all__ = ["ORSWOT", "DEFAULT_FORGIVENESS_MS", "NUM_SOURCES"]

DEFAULT_FORGIVENESS_MS = 3_600_000
NUM_SOURCES = 2


class ORSWOT:
    """The replicated set of one keyspace.

    Args:
        num_sources: how many sources of operations are tracked separately (datacake uses 2).
        forgiveness_ms: how far below the oldest observed timestamp the safe timestamp lies, in ms.

    Attributes:
        entries: live keys -> the timestamp of the insert that made them live.
        dead: deleted keys -> the timestamp of the delete (tombstones).
        observed: per source, origin node id -> newest timestamp seen from it.
    """

    __slots__ = ("entries", "dead", "observed", "forgiveness_ms")

    def __init__(self, num_sources: int = NUM_SOURCES, forgiveness_ms: int = DEFAULT_FORGIVENESS_MS) -> None:
        self.entries: dict[Hashable, HLCTimestamp] = {}
        self.dead: dict[Hashable, HLCTimestamp] = {}
        self.observed: list[dict[str, HLCTimestamp]] = [{} for _ in range(num_sources)]
        self.forgiveness_ms = forgiveness_ms

    # ------------------------------------------------------------------------------------------- operations

    def safe_timestamp(self) -> HLCTimestamp | None:
        """Operations older than this are refused and tombstones older than it may be purged; ``None`` until every
        source has observed something."""
        if not self.observed or not all(self.observed):
            return None
        oldest = min(min(seen.values()) for seen in self.observed)
        return HLCTimestamp(max(0, oldest.physical_ms - self.forgiveness_ms), 0, "")

    def _observe(self, ts: HLCTimestamp, source: int) -> None:
        seen = self.observed[source]
        current = seen.get(ts.node_id)
        if current is None or ts > current:
            seen[ts.node_id] = ts

    def _too_old(self, ts: HLCTimestamp) -> bool:
        safe = self.safe_timestamp()
        return safe is not None and ts < safe

    def insert(self, key: Hashable, ts: HLCTimestamp, source: int = 0) -> bool:
        """Make ``key`` live at ``ts`` unless something at least as new is known (a delete only when newer).

        Returns:
            True when the set changed; False when the insert lost or was older than the safe timestamp.
        """
        return self._operate(key, ts, source, is_delete=False)

    def delete(self, key: Hashable, ts: HLCTimestamp, source: int = 0) -> bool:
        """Delete ``key`` at ``ts`` unless an insert at least as new, or a newer-or-equal delete, is known.

        Returns:
            True when the set changed; False when the delete lost or was older than the safe timestamp.
        """
        return self._operate(key, ts, source, is_delete=True)

    def _operate(self, key: Hashable, ts: HLCTimestamp, source: int, is_delete: bool) -> bool:
        if self._too_old(ts):
            return False
        self._observe(ts, source)
        return self._take(key, ts, is_delete)

    def apply_many(
        self, items: Iterable[tuple[Hashable, HLCTimestamp]], source: int, *, is_delete: bool
    ) -> list[tuple[Hashable, HLCTimestamp | None, HLCTimestamp | None, HLCTimestamp]]:
        """Insert (or delete, with ``is_delete``) a batch, as :meth:`insert`/:meth:`delete` one by one, but with the
        safe timestamp taken once for the batch: it only grows, and nothing is purged during a batch, so an operation
        it lets through concerns no purged tombstone.

        Returns:
            ``(key, live_before, tombstone_before, ts)`` for each operation that changed the set, in order (what
            undoing it needs).
        """
        safe = self.safe_timestamp()
        entries, dead = self.entries, self.dead
        changed = []
        for key, ts in items:
            if safe is not None and ts < safe:
                continue
            self._observe(ts, source)
            live_before, tombstone_before = entries.get(key), dead.get(key)
            if self._take(key, ts, is_delete):
                changed.append((key, live_before, tombstone_before, ts))
        return changed

    def _take(self, key: Hashable, ts: HLCTimestamp, is_delete: bool) -> bool:
        """Record the operation on ``key`` at ``ts`` if it wins; returns whether it did."""
        wins = _newer_delete if is_delete else _newer_insert
        if not wins(ts, self.entries.get(key), self.dead.get(key)):
            return False
        if is_delete:
            self.entries.pop(key, None)
            self.dead[key] = ts
        else:
            self.entries[key] = ts
            self.dead.pop(key, None)
        return True

    def get(self, key: Hashable) -> HLCTimestamp | None:
        """The timestamp of ``key`` when live, else ``None``."""
        return self.entries.get(key)

    # ---------------------------------------------------------------------------------------- replication

    def merge(self, other: ORSWOT) -> None:
        """Take in everything ``other`` knows (commutative, associative, idempotent)."""
        for key, ts in other.entries.items():
            self._take(key, ts, is_delete=False)
        for key, ts in other.dead.items():
            self._take(key, ts, is_delete=True)
        for source, seen in enumerate(other.observed):
            for ts in seen.values():
                self._observe(ts, source)

    def diff(self, other: ORSWOT) -> tuple[list[Hashable], list[Hashable]]:
        """What this set lacks compared with ``other``.

        Returns:
            ``(modified, removed)``: keys live in ``other`` with a newer insert than anything known here (fetch
            them), and keys deleted in ``other`` by a delete newer than anything known here (delete them).
        """
        modified = [
            key for key, ts in other.entries.items() if _newer_insert(ts, self.entries.get(key), self.dead.get(key))
        ]
        removed = [
            key for key, ts in other.dead.items() if _newer_delete(ts, self.entries.get(key), self.dead.get(key))
        ]
        return modified, removed

    def purge_old_deletes(self) -> list[Hashable]:
        """Forget the tombstones older than the safe timestamp; returns their keys (to purge from storage too)."""
        safe = self.safe_timestamp()
        if safe is None:
            return []
        purged = [key for key, ts in self.dead.items() if ts < safe]
        for key in purged:
            del self.dead[key]
        return purged

    def state(self) -> tuple[dict[Hashable, HLCTimestamp], dict[Hashable, HLCTimestamp]]:
        """``(entries, dead)`` copies, for comparisons."""
        return dict(self.entries), dict(self.dead)

    @classmethod
    def from_items(
        cls, items: Iterable[tuple[Hashable, HLCTimestamp, bool]], num_sources: int = NUM_SOURCES, **kwargs: int
    ) -> ORSWOT:
        """Rebuild a set from stored ``(key, timestamp, is_tombstone)`` rows (observed as source 0)."""
        crdt = cls(num_sources, **kwargs)
        for key, ts, is_tombstone in items:
            (crdt.delete if is_tombstone else crdt.insert)(key, ts)
        return crdt


def _newer_insert(ts: HLCTimestamp, live: HLCTimestamp | None, tomb: HLCTimestamp | None) -> bool:
    """An insert at ``ts`` wins over a live entry only when newer, and over a tombstone when newer or equal."""
    return (live is None or ts > live) and (tomb is None or ts >= tomb)


def _newer_delete(ts: HLCTimestamp, live: HLCTimestamp | None, tomb: HLCTimestamp | None) -> bool:
    """A delete at ``ts`` wins only over strictly older inserts and deletes (equal timestamps: the insert wins)."""
    return (live is None or ts > live) and (tomb is None or ts > tomb)
