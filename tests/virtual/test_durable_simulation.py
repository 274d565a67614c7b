"""The durable counter over 1,000 seeded simulated runs with partitions, loss, crashes, clock drift, pauses and
voters swapped for spares (nodes joining and leaving the shard's group): no acknowledged increment lost, none applied
to stale state; and the checker catching the core with fencing removed."""

from __future__ import annotations

import pytest

from zactor.services.virtual.durable_simulation import run_durable_seed
from zactor.services.virtual.history import increments_out_of_order


@pytest.mark.timeout(600)
def test_increments_stay_linearizable_in_1000_runs() -> None:
    increments = refused = 0
    for seed in range(1000):
        sim = run_durable_seed(seed, n=3 if seed % 2 else 5, spares=seed % 3)
        assert increments_out_of_order(sim.increments) == [], f"seed {seed}"
        increments += len(sim.increments)
        refused += sim.refused
    assert increments > 50_000
    assert refused > 100, "stale claims and writes must have reached replicas, and been refused"


def test_the_checker_catches_a_core_without_fencing() -> None:
    caught = sum(bool(increments_out_of_order(run_durable_seed(seed, fencing=False).increments)) for seed in range(200))
    assert caught >= 5
