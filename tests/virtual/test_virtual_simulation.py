"""Single activation of a shard's key over 1,000 seeded simulated runs (partitions, loss, crashes, clock offsets and
drift), fenced writes over 300 more with pauses, and the checker catching a core whose activations ignore a lost
lease."""

from __future__ import annotations

import pytest

from zactor.services.election.simulation import check
from zactor.services.virtual.history import overlaps
from zactor.services.virtual.simulation import run_shard_seed


@pytest.mark.timeout(900)
def test_no_two_activations_in_1000_runs_without_pauses() -> None:
    activations = 0
    for seed in range(1000):
        records, history = run_shard_seed(seed, n=3 if seed % 2 else 5, pauses=False)
        assert overlaps(records) == [], f"seed {seed}"
        check(history)
        activations += len(records)
    assert activations > 2000, "the faults must move the key between nodes"


@pytest.mark.timeout(600)
def test_writes_stay_fenced_when_nodes_pause() -> None:
    refused = 0
    for seed in range(300):
        _, history = run_shard_seed(10_000 + seed, pauses=True)
        check(history)
        refused += sum(1 for *_, accepted in history.writes if not accepted)
    assert refused > 0, "some paused activation's late write must have been fenced off"


def test_the_checker_catches_activations_that_ignore_a_lost_lease() -> None:
    caught = sum(bool(overlaps(run_shard_seed(seed, pauses=False, lease_stop=False)[0])) for seed in range(50))
    assert caught > 10
