"""Safety of elections over 1,000 seeded simulated runs with partitions, message loss, pauses, crashes and clock
offsets and drift up to the configured bound, and 1,000 more with voter changes that nodes hear of at different
times; and the checker catches a core that breaks the rules, or takes its voters from its own view."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from zactor.services.election.core import GroupElection
from zactor.services.election.simulation import check, run_seed
from zactor.services.election.voters import Voters

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


@pytest.mark.fault
@pytest.mark.timeout(600)
def test_voter_changes_under_faults_stay_safe_in_1000_runs() -> None:
    """Each run: 3 or 5 voters and 2 spares; every 1 to 5 s membership swaps a voter for a spare, and each node
    hears of it 0 to 2 s later, under the same faults. Every history is safe, and a leader holds a lease within 6 s
    of healing in every run."""
    worst_heal_s = 0.0
    elections = 0
    for seed in range(RUNS):
        history = run_seed(seed, n=3 if seed % 2 else 5, spares=2)
        check(history)
        assert history.leader_after_heal_s is not None, f"seed {seed}: no leader after healing"
        worst_heal_s = max(worst_heal_s, history.leader_after_heal_s)
        elections += len(history.elected)
    assert worst_heal_s < 6.0
    assert elections > 2 * RUNS


@pytest.mark.fault
def test_the_checker_catches_voters_taken_from_each_nodes_own_view(monkeypatch: pytest.MonkeyPatch) -> None:
    """A core that uses the voters its own membership view derives, at once and by majority (as before voter
    configurations), is caught: {A,B,C} becoming {A,B,D} lets two candidates win one term or overlap leases."""

    def set_voters(self: GroupElection, voters: Sequence[str], now_s: float, observers: Sequence[str] = ()) -> None:
        current = self.configuration
        self._configure(Voters.of(voters, current.term, current.seq), now_s)

    monkeypatch.setattr(GroupElection, "set_voters", set_voters)
    monkeypatch.setattr(Voters, "admits", lambda self, term, seq, members: True)
    monkeypatch.setattr(GroupElection, "majority", property(lambda self: self.configuration.majority))
    failures = 0
    for seed in range(100):
        try:
            check(run_seed(seed, n=3, spares=2))
        except AssertionError:
            failures += 1
    assert failures > 0
