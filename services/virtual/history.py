"""The single-activation check: no two nodes ran the same key at the same moment.

An activation is recorded as ``(kind, key, node_id, term, start, end)``, its interval in a clock all the recorders
share (``CLOCK_MONOTONIC`` is one clock for every process of a machine; a simulation's virtual clock is one clock
for all its nodes). Two intervals of one key on different nodes that intersect break at-most-one activation.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ActivationRecord", "overlaps"]

ActivationRecord = tuple[str, str, str, int, float, float]
"""``(kind, key, node_id, term, start, end)``, times in seconds."""


def overlaps(history: Iterable[ActivationRecord]) -> list[tuple[ActivationRecord, ActivationRecord]]:
    """Every pair of activations of one key, on different nodes, whose intervals intersect (empty: the history keeps
    at most one activation per key at every moment). Intervals are closed at their start and open at their end."""
    by_key: dict[tuple[str, str], list[ActivationRecord]] = {}
    for record in history:
        by_key.setdefault((record[0], record[1]), []).append(record)
    found = []
    for records in by_key.values():
        records.sort(key=lambda r: r[4])
        for i, first in enumerate(records):
            for second in records[i + 1 :]:
                if second[4] >= first[5]:
                    break
                if second[2] != first[2]:
                    found.append((first, second))
    return found
