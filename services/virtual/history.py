"""History checks of virtual actors: single activation, and a durable counter's increments in real-time order.

An activation is recorded as ``(kind, key, node_id, term, start, end)``, its interval in a clock all the recorders
share (``CLOCK_MONOTONIC`` is one clock for every process of a machine; a simulation's virtual clock is one clock
for all its nodes). Two intervals of one key on different nodes that intersect break at-most-one activation.

An acknowledged increment (by 1) of a durable counter is recorded as ``(key, invoked, acknowledged, value)``, ``value``
being the counter after it. Increments are linearizable (Herlihy and Wing, 1990) only if no two returned the same
value (one of them was lost) and one acknowledged before another was invoked returned a smaller value (else the later
one was applied to older state: a lost increment, or a stale writer's).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ActivationRecord", "Increment", "overlaps", "increments_out_of_order", "activations_from_log"]

ActivationRecord = tuple[str, str, str, int, float, float]
"""``(kind, key, node_id, term, start, end)``, times in seconds."""
Increment = tuple[str, float, float, int]
"""``(key, invoked, acknowledged, value after)``, times in seconds."""


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


def increments_out_of_order(history: Iterable[Increment]) -> list[tuple[Increment, Increment]]:
    """Pairs ``(a, b)`` of acknowledged increments by 1 of one key that no linearizable counter gives: ``a`` was
    acknowledged before ``b`` was invoked and ``b``'s value is not above ``a``'s (for each such ``b``, the ``a`` with
    the highest value), or both returned the same value. Empty: the counter never went backwards and lost nothing
    acknowledged."""
    by_key: dict[str, list[Increment]] = {}
    for op in history:
        by_key.setdefault(op[0], []).append(op)
    found = []
    for ops in by_key.values():
        by_ack = sorted(ops, key=lambda op: op[2])
        highest: Increment | None = None
        i = 0
        for op in sorted(ops, key=lambda op: op[1]):
            while i < len(by_ack) and by_ack[i][2] < op[1]:
                if highest is None or by_ack[i][3] > highest[3]:
                    highest = by_ack[i]
                i += 1
            if highest is not None and op[3] <= highest[3]:
                found.append((highest, op))
        by_value: dict[int, Increment] = {}
        for op in ops:
            first = by_value.setdefault(op[3], op)
            if first is not op and (first, op) not in found and (op, first) not in found:
                found.append((first, op))
    return found


def activations_from_log(lines: Iterable[str], ended_s: float) -> list[ActivationRecord]:
    """The activations one node process logged (``activation start|end ...`` lines at INFO, as
    :class:`~zactor.services.virtual.VirtualActors` writes them); one still open when the log ends ends at
    ``ended_s`` (the process's kill, or now)."""
    open_: dict[tuple[str, str, str, int, float], None] = {}
    records: list[ActivationRecord] = []
    for line in lines:
        _, sep, rest = line.partition("activation ")
        words = rest.split()
        if not sep or not words:
            continue
        if words[0] == "start":
            open_[(words[1], words[2], words[3], int(words[4]), float(words[5]))] = None
        elif words[0] == "end":
            kind, key, node, term, start, end = *words[1:4], int(words[4]), float(words[5]), float(words[6])
            open_.pop((kind, key, node, term, start), None)
            records.append((kind, key, node, term, start, end))
    records += [(kind, key, node, term, start, ended_s) for kind, key, node, term, start in open_]
    return records
