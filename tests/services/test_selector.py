"""Consistency levels count the replica set as Cassandra does; the selector spreads picks over data centers."""

from __future__ import annotations

import random

import pytest

from zactor.services.selector import AckCounter, Consistency, DCAwareSelector, NotEnoughNodes, Requirement, requirement

C = Consistency


def _others(n: int, dc: str = "dc1", prefix: str = "n") -> dict[str, str]:
    return {f"{prefix}{i}": dc for i in range(n)}


@pytest.mark.parametrize(
    ("level", "n", "expected"),
    [
        (C.NONE, 3, 1),
        (C.ONE, 3, 1),
        (C.TWO, 3, 2),
        (C.THREE, 3, 3),
        (C.QUORUM, 1, 1),
        (C.QUORUM, 2, 2),
        (C.QUORUM, 3, 2),
        (C.QUORUM, 4, 3),
        (C.QUORUM, 5, 3),
        (C.ALL, 3, 3),
    ],
)
def test_required_acknowledgements_include_the_coordinator(level: Consistency, n: int, expected: int) -> None:
    """ONE/TWO/THREE need 1/2/3, QUORUM floor(N/2)+1, ALL N, NONE the local write: counted over the replica set."""
    assert requirement(level, _others(n), "dc1") == Requirement(expected)


def test_replication_factor_is_a_floor_for_n() -> None:
    """A fresh node that knows only itself still needs 2 of 3 for QUORUM and 3 for ALL with replication_factor=3."""
    alone = {"me": "dc1"}
    assert requirement(C.QUORUM, alone, "dc1", replication_factor=3).total == 2
    assert requirement(C.ALL, alone, "dc1", replication_factor=3).total == 3
    assert requirement(C.QUORUM, _others(5), "dc1", replication_factor=3).total == 3


def test_dead_replicas_count_in_n_but_not_as_live() -> None:
    """QUORUM over a replica set of 3 with only the local node live is refused at once with NotEnoughNodes(1, 2)."""
    required = requirement(C.QUORUM, {"me": "dc1", "a": "dc1", "b": "dc1"}, "dc1")
    with pytest.raises(NotEnoughNodes) as info:
        required.check_live({"me": "dc1"})
    assert (info.value.live, info.value.required) == (1, 2)
    required.check_live({"me": "dc1", "a": "dc1"})


def test_local_and_each_quorum_count_per_data_center() -> None:
    """LOCAL_QUORUM needs a majority of the local DC's replicas; EACH_QUORUM a majority in every DC."""
    replicas = {"me": "dc1", "a": "dc1", "b": "dc1", "x": "dc2", "y": "dc2"}
    assert requirement(C.LOCAL_QUORUM, replicas, "dc1") == Requirement(0, {"dc1": 2})
    each = requirement(C.EACH_QUORUM, replicas, "dc1")
    assert each == Requirement(0, {"dc1": 2, "dc2": 2})
    with pytest.raises(NotEnoughNodes) as info:
        each.check_live({"me": "dc1", "a": "dc1", "x": "dc2"})
    assert (info.value.live, info.value.required) == (1, 2) and "dc2" in str(info.value)


def test_ack_counter_is_satisfied_per_data_center() -> None:
    """Acknowledgements count once per node, and per data center for the per-DC levels."""
    dcs = {"me": "dc1", "a": "dc1", "x": "dc2", "y": "dc2"}
    counter = AckCounter(Requirement(0, {"dc1": 1, "dc2": 2}), dcs)
    assert not counter.add("me") and not counter.add("me") and not counter.add("x")
    assert counter.add("y") and counter.acked == 3
    total = AckCounter(Requirement(2), dcs)
    assert not total.add("a") and total.add("x")


def test_selector_picks_others_with_the_local_node_counting_as_one() -> None:
    """3 nodes in one DC: ONE picks none, QUORUM 1 other, ALL 2, THREE 2 others; with 2 nodes THREE fails."""
    selector = DCAwareSelector()
    others = _others(2)
    assert selector.select("me", "dc1", others, C.ONE) == []
    assert len(selector.select("me", "dc1", others, C.QUORUM)) == 1
    assert sorted(selector.select("me", "dc1", others, C.ALL)) == ["n0", "n1"]
    assert len(selector.select("me", "dc1", others, C.THREE)) == 2
    with pytest.raises(NotEnoughNodes) as info:
        selector.select("me", "dc1", _others(1), C.THREE)
    assert (info.value.live, info.value.required) == (2, 3)


@pytest.mark.parametrize(("total", "expected"), [(1, 0), (2, 1), (3, 1), (4, 2), (5, 2), (7, 3)])
def test_quorum_counts(total: int, expected: int) -> None:
    """QUORUM over N live nodes selects N // 2 others (a majority with the local node)."""
    assert len(DCAwareSelector().select("me", "dc1", _others(total - 1), C.QUORUM)) == expected


def test_other_data_centers_are_preferred_and_spread() -> None:
    """Picks go round-robin over the other data centers before the local one; the local node is never picked."""
    others = {**_others(3, "dc1", "a"), **_others(2, "dc2", "b"), **_others(2, "dc3", "c"), "me": "dc1"}
    picked = DCAwareSelector().select("me", "dc1", others, C.THREE)
    assert {others[n] for n in picked} == {"dc2", "dc3"}
    picked = DCAwareSelector().select("me", "dc1", others, C.ALL)
    assert "me" not in picked and len(picked) == 7


def test_local_and_each_quorum_picks() -> None:
    """LOCAL_QUORUM stays in the local DC; EACH_QUORUM takes a majority of every other DC plus the local quorum."""
    others = {**_others(2, "dc1", "a"), **_others(3, "dc2", "b")}
    selector = DCAwareSelector()
    assert [others[n] for n in selector.select("me", "dc1", others, C.LOCAL_QUORUM)] == ["dc1"]
    each = selector.select("me", "dc1", others, C.EACH_QUORUM)
    assert sorted(others[n] for n in each) == ["dc1", "dc2", "dc2"]


def test_seeded_rng_varies_the_pick_reproducibly() -> None:
    """With a seeded RNG the choice within a data center is shuffled, and the same seed gives the same pick."""
    others = _others(9)
    picks = {tuple(DCAwareSelector(random.Random(seed)).select("me", "dc1", others, C.TWO)) for seed in range(20)}
    assert len(picks) > 1
    first = DCAwareSelector(random.Random(7)).select("me", "dc1", others, C.THREE)
    assert DCAwareSelector(random.Random(7)).select("me", "dc1", others, C.THREE) == first
