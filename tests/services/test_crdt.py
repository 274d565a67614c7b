"""The ORSWOT: datacake's semantics, merge algebra, convergence in any order, safe timestamps and purging."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from zactor.services.clock import HLCTimestamp
from zactor.services.replication.crdt import ORSWOT


def ts(ms: int, logical: int = 0, node: str = "a") -> HLCTimestamp:
    return HLCTimestamp(ms, logical, node)


def test_newer_wins_and_an_insert_beats_a_delete_at_the_same_timestamp() -> None:
    """Later operations win; an insert and a delete with equal timestamps resolve to the insert."""
    s = ORSWOT()
    assert s.insert("k", ts(10))
    assert not s.insert("k", ts(9))
    assert s.delete("k", ts(11)) and s.get("k") is None
    assert not s.delete("k", ts(11))
    assert s.insert("k", ts(11)) and s.get("k") == ts(11)
    assert not s.delete("k", ts(11)), "an equal-timestamp delete must lose to the insert"


def test_diff_lists_what_the_other_side_has_newer() -> None:
    """diff(other) returns the keys to fetch (newer inserts there) and to delete (newer deletes there)."""
    a, b = ORSWOT(), ORSWOT()
    a.insert("same", ts(1))
    b.insert("same", ts(1))
    b.insert("new", ts(2))
    a.insert("old", ts(1))
    b.delete("old", ts(3))
    a.insert("newer-here", ts(9))
    b.insert("newer-here", ts(5))
    assert a.diff(b) == (["new"], ["old"])
    assert b.diff(a) == (["newer-here"], [])


def test_safe_timestamp_refuses_old_operations_and_lets_tombstones_be_purged() -> None:
    """Operations older than the safe timestamp are refused; tombstones below it are purged and returned."""
    s = ORSWOT(num_sources=1, forgiveness_ms=100)
    s.insert("k", ts(1_000, node="a"))
    s.delete("k", ts(1_050, node="a"))
    assert s.purge_old_deletes() == []
    s.insert("other", ts(2_000, node="a"))
    assert s.safe_timestamp() == HLCTimestamp(1_900, 0, "")
    assert not s.insert("late", ts(1_500, node="a"))
    assert s.purge_old_deletes() == ["k"] and s.dead == {}


def test_safe_timestamp_waits_for_every_node_and_source() -> None:
    """Until every source has observed an operation there is no safe timestamp; the slowest node bounds it."""
    s = ORSWOT(num_sources=2, forgiveness_ms=0)
    s.insert("x", ts(500, node="a"), source=0)
    assert s.safe_timestamp() is None
    s.insert("y", ts(900, node="b"), source=1)
    s.insert("z", ts(700, node="c"), source=0)
    assert s.safe_timestamp() == HLCTimestamp(500, 0, "")


_ops = st.lists(
    st.tuples(st.booleans(), st.sampled_from(["k1", "k2", "k3"]), st.integers(1, 30), st.sampled_from(["a", "b", "c"])),
    max_size=25,
)


def _apply(ops: list[tuple[bool, str, int, str]]) -> ORSWOT:
    s = ORSWOT(forgiveness_ms=10**9)
    for is_insert, key, ms, node in ops:
        (s.insert if is_insert else s.delete)(key, ts(ms, node=node))
    return s


def _merged(*sets: ORSWOT) -> ORSWOT:
    out = ORSWOT(forgiveness_ms=10**9)
    for s in sets:
        out.merge(s)
    return out


@settings(max_examples=300, deadline=None)
@given(a=_ops, b=_ops, c=_ops)
def test_merge_is_commutative_associative_and_idempotent(a: list, b: list, c: list) -> None:
    """merge(a, b) == merge(b, a); (a+b)+c == a+(b+c); merging a set into itself changes nothing."""
    sa, sb, sc = _apply(a), _apply(b), _apply(c)
    assert _merged(sa, sb).state() == _merged(sb, sa).state()
    assert _merged(_merged(sa, sb), sc).state() == _merged(sa, _merged(sb, sc)).state()
    before = sa.state()
    sa.merge(sa)
    assert sa.state() == before


@settings(max_examples=200, deadline=None)
@given(ops=_ops, seed=st.integers(0, 1000))
def test_replicas_that_saw_the_same_operations_in_any_order_converge(ops: list, seed: int) -> None:
    """Applying the same operations in two different orders gives the same set."""
    shuffled = list(ops)
    random.Random(seed).shuffle(shuffled)
    assert _apply(ops).state() == _apply(shuffled).state()


def test_applying_a_diff_makes_replicas_equal() -> None:
    """Fetching `modified` and deleting `removed` from diff() brings a replica up to date (pull anti-entropy)."""
    rng = random.Random(4)
    for _ in range(50):
        ops = [(rng.random() < 0.6, f"k{rng.randrange(6)}", rng.randrange(1, 40), rng.choice("abc")) for _ in range(30)]
        full, partial = _apply(ops), _apply(ops[:10])
        modified, removed = partial.diff(full)
        for key in modified:
            partial.insert(key, full.entries[key])
        for key in removed:
            partial.delete(key, full.dead[key])
        assert partial.state() == full.state()


@given(ops=_ops)
def test_a_batch_applies_like_its_operations_one_by_one(ops: list) -> None:
    """``apply_many`` changes the set as the same inserts or deletes one at a time, and reports each change with
    what undoing it needs."""
    for is_delete in (False, True):
        one_by_one, batched = ORSWOT(), ORSWOT()
        items = [(key, ts(ms, 0, node)) for _, key, ms, node in ops]
        expected = []
        for key, stamp in items:
            before = (one_by_one.entries.get(key), one_by_one.dead.get(key))
            changed = one_by_one.delete(key, stamp) if is_delete else one_by_one.insert(key, stamp)
            if changed:
                expected.append((key, *before, stamp))
        assert batched.apply_many(items, 0, is_delete=is_delete) == expected
        assert (batched.entries, batched.dead) == (one_by_one.entries, one_by_one.dead)


def test_a_batch_refuses_what_is_older_than_the_safe_timestamp() -> None:
    s = ORSWOT(num_sources=1, forgiveness_ms=100)
    s.insert("seen", ts(2_000))
    changed = s.apply_many([("late", ts(1_500)), ("fresh", ts(2_100))], 0, is_delete=False)
    assert [key for key, *_ in changed] == ["fresh"] and "late" not in s.entries
