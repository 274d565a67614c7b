"""Safety of elections over 1,000 seeded simulated runs with partitions, message loss, pauses, crashes and clock
offsets and drift up to the configured bound; and the checker catches a core that breaks the rules."""

from __future__ import annotations

import pytest

from zactor.services.election.core import GroupElection
from zactor.services.election.simulation import check, run_seed

RUNS = 1000


@pytest.mark.timeout(600)
def test_no_overlapping_leases_or_stale_writes_in_1000_runs() -> None:
    """Each run: 20 s of faults on 3 or 5 voters, then 10 s healed. Every history is safe, and a leader holds a
    lease within 5 s of healing in every run."""
    elections = refused = 0
    worst_heal_s = 0.0
    for seed in range(RUNS):
        history = run_seed(seed, n=3 if seed % 2 else 5)
        check(history)
        assert history.leader_after_heal_s is not None, f"seed {seed}: no leader after healing"
        worst_heal_s = max(worst_heal_s, history.leader_after_heal_s)
        elections += len(history.elected)
        refused += sum(1 for *_, accepted in history.writes if not accepted)
    assert worst_heal_s < 5.0
    assert elections > 2 * RUNS, "the faults must force leadership changes"
    assert refused > 0, "some stale leader's late write must have been fenced off"


def test_the_checker_catches_voters_that_break_their_promise(monkeypatch: pytest.MonkeyPatch) -> None:
    """Voters that vote while a leader's lease may hold produce overlapping leases, and check() says so."""
    monkeypatch.setattr(GroupElection, "_bound", lambda self, candidate, now_s: False)
    failures = 0
    for seed in range(100):
        try:
            check(run_seed(seed, n=5))
        except AssertionError:
            failures += 1
    assert failures > 0
