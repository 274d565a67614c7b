"""Consistency levels pick the right number of other nodes, other data centers first, never the local node."""

from __future__ import annotations

import random

import pytest

from services.selector import Consistency, DCAwareSelector, NotEnoughNodes

C = Consistency


def _others(n: int, dc: str = "dc1", prefix: str = "n") -> dict[str, str]:
    return {f"{prefix}{i}": dc for i in range(n)}


def test_one_data_center_of_three_nodes() -> None:
    """3 nodes in one DC: QUORUM -> 1 other node, ALL -> 2, THREE -> NotEnoughNodes(live=2, required=3)."""
    selector = DCAwareSelector()
    others = _others(2)
    assert len(selector.select("me", "dc1", others, C.QUORUM)) == 1
    assert sorted(selector.select("me", "dc1", others, C.ALL)) == ["n0", "n1"]
    with pytest.raises(NotEnoughNodes) as info:
        selector.select("me", "dc1", others, C.THREE)
    assert (info.value.live, info.value.required) == (2, 3)


@pytest.mark.parametrize(("total", "expected"), [(1, 0), (2, 1), (3, 1), (4, 2), (5, 2), (7, 3)])
def test_quorum_counts(total: int, expected: int) -> None:
    """QUORUM over N live nodes selects N // 2 others (a majority with the local node)."""
    assert len(DCAwareSelector().select("me", "dc1", _others(total - 1), C.QUORUM)) == expected


def test_none_and_fixed_levels() -> None:
    """NONE selects nobody; ONE/TWO select exactly one/two."""
    selector = DCAwareSelector()
    others = _others(4)
    assert selector.select("me", "dc1", others, C.NONE) == []
    assert len(selector.select("me", "dc1", others, C.ONE)) == 1
    assert len(selector.select("me", "dc1", others, C.TWO)) == 2


def test_other_data_centers_are_preferred_and_spread() -> None:
    """Picks go round-robin over the other data centers before the local one; the local node is never picked."""
    others = {**_others(3, "dc1", "a"), **_others(2, "dc2", "b"), **_others(2, "dc3", "c"), "me": "dc1"}
    picked = DCAwareSelector().select("me", "dc1", others, C.TWO)
    assert {others[n] for n in picked} == {"dc2", "dc3"}
    picked = DCAwareSelector().select("me", "dc1", others, C.ALL)
    assert "me" not in picked and len(picked) == 7


def test_local_and_each_quorum() -> None:
    """LOCAL_QUORUM stays in the local DC; EACH_QUORUM takes a majority of every other DC plus the local quorum."""
    others = {**_others(2, "dc1", "a"), **_others(3, "dc2", "b")}
    selector = DCAwareSelector()
    assert [others[n] for n in selector.select("me", "dc1", others, C.LOCAL_QUORUM)] == ["dc1"]
    each = selector.select("me", "dc1", others, C.EACH_QUORUM)
    assert sorted(others[n] for n in each) == ["dc1", "dc2", "dc2"]


def test_a_lone_node_cannot_meet_fixed_levels() -> None:
    """With no other live node, ONE raises NotEnoughNodes(live=0, required=1) while QUORUM and ALL select none."""
    selector = DCAwareSelector()
    with pytest.raises(NotEnoughNodes) as info:
        selector.select("me", "dc1", {}, C.ONE)
    assert (info.value.live, info.value.required) == (0, 1)
    assert selector.select("me", "dc1", {}, C.QUORUM) == selector.select("me", "dc1", {}, C.ALL) == []


def test_seeded_rng_varies_the_pick_reproducibly() -> None:
    """With a seeded RNG the choice within a data center is shuffled, and the same seed gives the same pick."""
    others = _others(9)
    picks = {tuple(DCAwareSelector(random.Random(seed)).select("me", "dc1", others, C.ONE)) for seed in range(20)}
    assert len(picks) > 1
    first = DCAwareSelector(random.Random(7)).select("me", "dc1", others, C.TWO)
    assert DCAwareSelector(random.Random(7)).select("me", "dc1", others, C.TWO) == first
