"""The election core, message by message: pre-vote, votes, leases, fencing terms, stickiness, resignation."""

from __future__ import annotations

import random
from typing import Any

import pytest

from zactor.services.election.core import GroupElection
from zactor.services.election.messages import Heartbeat, HeartbeatAck, RequestVote, Resign, Vote
from zactor.services.election.model import ElectionConfig, Role

CONFIG = ElectionConfig(lease_s=1.0, heartbeat_s=0.2, rank_step_s=0.1, round_s=0.3, max_drift=0.01)
VOTERS = ("a", "b", "c")


class Net:
    """Three cores wired directly: messages are delivered at once unless a link is cut."""

    def __init__(self, voters: tuple[str, ...] = VOTERS) -> None:
        self.now = 0.0
        self.cut: set[str] = set()
        self.nodes = {v: GroupElection("g", v, voters, CONFIG, random.Random(v), self.now) for v in voters}

    def send(self, sender: str, out: list[tuple[str, Any]]) -> None:
        for target, msg in out:
            if sender in self.cut or target in self.cut:
                continue
            self.send(target, self.nodes[target].receive(sender, msg, self.now))

    def run(self, seconds: float, step: float = 0.01) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += step
            for name, node in self.nodes.items():
                if name not in self.cut or node.role is Role.LEADER:
                    self.send(name, node.tick(self.now))

    def leaders(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.is_leader(self.now)]


def test_a_group_elects_one_leader_and_every_voter_knows_it() -> None:
    net = Net()
    net.run(3.0)
    [leader] = net.leaders()
    assert {node.leader for node in net.nodes.values()} == {leader}
    assert {node.term for node in net.nodes.values()} == {1}


def test_the_backup_stands_first_when_the_leader_is_cut_off() -> None:
    """The leader steps down when it cannot renew; the next in line wins the next term."""
    net = Net()
    net.run(3.0)
    [old] = net.leaders()
    backup = net.nodes[old].succession()[0]
    net.cut.add(old)
    net.run(4.0)
    assert not net.nodes[old].is_leader(net.now) and net.nodes[old].role is Role.FOLLOWER
    assert net.leaders() == [backup] and net.nodes[backup].term == 2


def test_no_leader_without_a_majority() -> None:
    net = Net()
    net.run(3.0)
    net.cut.update({"a", "b"})
    net.run(5.0)
    assert net.leaders() == []
    assert net.nodes["c"].term == 1, "pre-votes without a majority never raise the term"


def test_a_minority_that_heals_does_not_unseat_the_leader() -> None:
    net = Net()
    net.run(3.0)
    [leader] = net.leaders()
    other = next(v for v in VOTERS if v != leader and v != net.nodes[leader].succession()[0])
    net.cut.add(other)
    net.run(5.0)
    net.cut.clear()
    net.run(3.0)
    assert net.leaders() == [leader] and net.nodes[leader].term == 1


def test_a_voter_holding_a_promise_refuses_other_candidates_and_keeps_its_term() -> None:
    node = GroupElection("g", "b", VOTERS, CONFIG, random.Random(1), 0.0)
    node.receive("a", Heartbeat(group="g", sender="a", term=3, seq=1), 0.0)
    [(to, vote)] = node.receive("c", RequestVote(group="g", sender="c", term=9), 0.5)
    assert to == "c" and not vote.granted and node.term == 3 and node.lease_age(0.5) == 0.5
    [(_, vote)] = node.receive("c", RequestVote(group="g", sender="c", term=9), 1.01)
    assert vote.granted and node.term == 9 and node.voted_for == "c" and node.durable


def test_one_vote_per_term() -> None:
    node = GroupElection("g", "b", VOTERS, CONFIG, random.Random(1), -10.0)
    [(_, first)] = node.receive("a", RequestVote(group="g", sender="a", term=2), 0.0)
    [(_, second)] = node.receive("c", RequestVote(group="g", sender="c", term=2), 0.0)
    [(_, again)] = node.receive("a", RequestVote(group="g", sender="a", term=2), 0.0)
    assert (first.granted, second.granted, again.granted) == (True, False, True)


def test_a_restarted_voter_resumes_its_durable_vote_and_first_refuses_everyone() -> None:
    node = GroupElection("g", "b", VOTERS, CONFIG, random.Random(1), 100.0, term=4, voted_for="a")
    [(_, early)] = node.receive("c", RequestVote(group="g", sender="c", term=5), 100.5)
    [(_, same_term)] = node.receive("c", RequestVote(group="g", sender="c", term=4), 101.5)
    assert not early.granted and not same_term.granted


def test_the_lease_needs_a_majority_of_acks_and_ends_before_the_voters_promise() -> None:
    leader = GroupElection("g", "a", VOTERS, CONFIG, random.Random(1), -10.0)
    out = leader.tick(0.0)  # stands: pre-vote
    for voter in ("b",):
        leader.receive(voter, Vote(group="g", sender=voter, term=1, granted=True, pre=True), 0.0)
        beats = leader.receive(voter, Vote(group="g", sender=voter, term=1, granted=True), 0.0)
    assert out and leader.role is Role.LEADER and not leader.is_leader(0.0)
    [(_, beat), _] = beats
    leader.receive("b", HeartbeatAck(group="g", sender="b", term=1, seq=beat.seq, ok=True), 0.01)
    assert leader.is_leader(0.01) and leader.lease_age(0.5) == pytest.approx(0.5)
    assert leader.lease_remaining(0.0) == pytest.approx(CONFIG.lease_s * (1 - 2 * CONFIG.max_drift))
    leader.tick(CONFIG.held_s + 0.001)
    assert leader.role is Role.FOLLOWER and leader.leader is None


def test_a_higher_term_in_an_ack_makes_the_leader_step_down() -> None:
    net = Net()
    net.run(3.0)
    [leader] = net.leaders()
    net.nodes[leader].receive("b", HeartbeatAck(group="g", sender="b", term=7, seq=1, ok=False), net.now)
    assert not net.nodes[leader].is_leader(net.now) and net.nodes[leader].term == 7


def test_resign_lets_another_voter_lead_at_once() -> None:
    net = Net()
    net.run(3.0)
    [old] = net.leaders()
    net.send(old, net.nodes[old].resign(net.now))
    assert net.leaders() == []
    net.run(1.0)
    [new] = net.leaders()
    assert new != old and net.nodes[new].term == 2


def test_a_stale_leaders_heartbeat_is_refused_with_the_newer_term() -> None:
    node = GroupElection("g", "b", VOTERS, CONFIG, random.Random(1), 0.0, term=5)
    [(_, ack)] = node.receive("a", Heartbeat(group="g", sender="a", term=4, seq=1), 0.0)
    assert not ack.ok and ack.term == 5 and node.leader is None
    assert node.receive("a", Resign(group="g", sender="a", term=4), 0.0) == []


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        ElectionConfig(lease_s=1.0, heartbeat_s=1.0)
    with pytest.raises(ValueError):
        ElectionConfig(max_drift=0.5)
