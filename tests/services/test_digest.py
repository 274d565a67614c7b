"""Per-range digests of an ORSWOT: stable, order-independent, and sensitive to every difference that matters."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.replication.crdt import ORSWOT
from zactor.services.replication.digest import (
    DIGEST_RANGES,
    differing_ranges,
    pack_digests,
    range_digests,
    range_of,
    unpack_digests,
)


def _set(entries: dict[object, HLCTimestamp], dead: dict[object, HLCTimestamp] | None = None) -> ORSWOT:
    crdt = ORSWOT()
    crdt.entries = dict(entries)  # type: ignore[arg-type]
    crdt.dead = dict(dead or {})  # type: ignore[arg-type]
    return crdt


def ts(ms: int, logical: int = 0, node: str = "a") -> HLCTimestamp:
    return HLCTimestamp(ms, logical, node)


ENTRIES = {f"k{i}": ts(1000 + i) for i in range(500)}


def test_equal_sets_have_equal_digests_whatever_the_order() -> None:
    reversed_entries = dict(reversed(list(ENTRIES.items())))
    assert range_digests(_set(ENTRIES)) == range_digests(_set(reversed_entries))
    assert range_digests(ORSWOT()) == [0] * DIGEST_RANGES


@pytest.mark.parametrize(
    "change",
    ["newer timestamp", "other node", "extra key", "missing key", "tombstone", "int key"],
)
def test_each_difference_changes_exactly_its_range(change: str) -> None:
    entries, dead = dict(ENTRIES), {}
    key: object = "k7"
    if change == "newer timestamp":
        entries["k7"] = ts(1007, 1)
    elif change == "other node":
        entries["k7"] = ts(1007, 0, "b")
    elif change == "extra key":
        key, entries["extra"] = "extra", ts(5)
    elif change == "missing key":
        del entries["k7"]
    elif change == "tombstone":
        dead["k7"] = entries.pop("k7")
    else:
        key, entries[7] = 7, ts(5)
    before, after = range_digests(_set(ENTRIES)), range_digests(_set(entries, dead))
    assert differing_ranges(before, after) == [range_of(key)]


def test_ranges_are_the_same_in_another_process() -> None:
    """Python's own hash differs between processes; the ranges must not."""
    code = "from zactor.services.replication.digest import range_of; print([range_of(k) for k in ('a', b'a', 1)])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str([range_of(k) for k in ("a", b"a", 1)])
    assert len({range_of("a"), range_of(b"a"), range_of(1), range_of("1")}) > 1


def test_the_wire_form_round_trips_and_refuses_a_wrong_size() -> None:
    digests = range_digests(_set(ENTRIES))
    packed = pack_digests(digests)
    assert len(packed) == 8 * DIGEST_RANGES
    assert unpack_digests(packed) == digests
    with pytest.raises(ValueError, match="range digests are"):
        unpack_digests(packed[:-1])
