"""The election core, message by message: pre-vote, votes, leases, fencing terms, stickiness, resignation."""

from __future__ import annotations

import random
from typing import Any

import attrs
import pytest

from zactor.services.election.core import GroupElection
from zactor.services.election.messages import Heartbeat, HeartbeatAck, RequestVote, Resign, Vote
from zactor.services.election.model import ElectionConfig, Role
from zactor.services.election.voters import Voters

CONFIG = ElectionConfig(lease_s=1.0, heartbeat_s=0.2, rank_step_s=0.1, round_s=0.3, max_drift=0.01)
VOTERS = ("a", "b", "c")
BOOTSTRAP = Voters.of(VOTERS)


def beat(sender: str, term: int, configuration: Voters = BOOTSTRAP) -> Heartbeat:
    """Heartbeat round 1 of ``sender`` as leader of ``term``, carrying ``configuration``."""
    members = list(configuration.members)
    return Heartbeat(group="g", term=term, seq=1, config_term=configuration.term, config_seq=0, voters=members)


def ask(sender: str, term: int, configuration: Voters = BOOTSTRAP) -> RequestVote:
    """A vote request of ``sender`` for ``term``, holding ``configuration``."""
    members = list(configuration.members)
    return RequestVote(
        group="g",
        term=term,
        config_term=configuration.term,
        config_seq=configuration.seq,
        voters=members,
    )


class Net:
    """Cores wired directly: messages are delivered at once unless a link is cut. ``hosts`` beyond the voters
    follow the leader as observers."""

    def __init__(self, voters: tuple[str, ...] = VOTERS, hosts: tuple[str, ...] = ()) -> None:
        self.now = 0.0
        self.cut: set[str] = set()
        names = (*voters, *hosts)
        self.nodes = {v: GroupElection("g", v, voters, CONFIG, random.Random(v), self.now) for v in names}
        for node in self.nodes.values():
            node.set_voters(voters, self.now, observers=names)

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
    node.receive("a", beat("a", 3), 0.0)
    [(to, vote)] = node.receive("c", ask("c", 9), 0.5)
    assert to == "c" and not vote.granted and node.term == 3 and node.lease_age(0.5) == 0.5
    [(_, vote)] = node.receive("c", ask("c", 9), 1.01)
    assert vote.granted and node.term == 9 and node.voted_for == "c" and node.durable


def test_one_vote_per_term() -> None:
    node = GroupElection("g", "b", VOTERS, CONFIG, random.Random(1), -10.0)
    [(_, first)] = node.receive("a", ask("a", 2), 0.0)
    [(_, second)] = node.receive("c", ask("c", 2), 0.0)
    [(_, again)] = node.receive("a", ask("a", 2), 0.0)
    assert (first.granted, second.granted, again.granted) == (True, False, True)


def test_a_restarted_voter_resumes_its_durable_vote_and_first_refuses_everyone() -> None:
    node = GroupElection("g", "b", VOTERS, CONFIG, random.Random(1), 100.0, term=4, voted_for="a")
    [(_, early)] = node.receive("c", ask("c", 5), 100.5)
    [(_, same_term)] = node.receive("c", ask("c", 4), 101.5)
    assert not early.granted and not same_term.granted


def test_the_lease_needs_a_majority_of_acks_and_ends_before_the_voters_promise() -> None:
    leader = GroupElection("g", "a", VOTERS, CONFIG, random.Random(1), -10.0)
    out = leader.tick(0.0)  # stands: pre-vote
    for voter in ("b",):
        leader.receive(voter, Vote(group="g", term=1, granted=True, pre=True), 0.0)
        beats = leader.receive(voter, Vote(group="g", term=1, granted=True), 0.0)
    assert out and leader.role is Role.LEADER and not leader.is_leader(0.0)
    [(_, beat), _] = beats
    leader.receive("b", HeartbeatAck(group="g", term=1, seq=beat.seq, ok=True), 0.01)
    assert leader.is_leader(0.01) and leader.lease_age(0.5) == pytest.approx(0.5)
    assert leader.lease_remaining(0.0) == pytest.approx(CONFIG.lease_s * (1 - 2 * CONFIG.max_drift))
    leader.tick(CONFIG.held_s + 0.001)
    assert leader.role is Role.FOLLOWER and leader.leader is None


def test_a_higher_term_in_an_ack_makes_the_leader_step_down() -> None:
    net = Net()
    net.run(3.0)
    [leader] = net.leaders()
    net.nodes[leader].receive("b", HeartbeatAck(group="g", term=7, seq=1, ok=False), net.now)
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


def test_the_leader_knows_which_voters_follow_it_now() -> None:
    net = Net()
    net.run(3.0)
    [leader] = net.leaders()
    followers = [n for n in net.nodes if n != leader]
    assert all(net.nodes[leader].follows(n, net.now) for n in followers)
    net.cut.add(followers[0])
    net.run(3 * CONFIG.heartbeat_s)
    assert not net.nodes[leader].follows(followers[0], net.now) and net.nodes[leader].follows(followers[1], net.now)
    assert not net.nodes[followers[1]].follows(leader, net.now)  # only a leader knows


def test_resign_to_a_named_successor_elects_that_voter() -> None:
    net = Net()
    net.run(3.0)
    [old] = net.leaders()
    for successor in [*(n for n in net.nodes if n != old), old]:
        net.send(old, net.nodes[old].resign(net.now, successor))
        net.run(1.0)
        assert net.leaders() == [successor]
        old = successor


def test_a_stale_leaders_heartbeat_is_refused_with_the_newer_term() -> None:
    node = GroupElection("g", "b", VOTERS, CONFIG, random.Random(1), 0.0, term=5)
    [(_, ack)] = node.receive("a", beat("a", 4), 0.0)
    assert not ack.ok and ack.term == 5 and node.leader is None
    assert node.receive("a", Resign(group="g", term=4), 0.0) == []


def test_the_leader_changes_voters_one_at_a_time_each_committed_before_the_next() -> None:
    """Membership swaps voter c for d ({a,b,c} becoming {a,b,d}): the leader first adds d, and only once a majority
    of {a,b,c,d} holds that does it remove c; every node ends holding {a,b,d}, and the leader never changed."""
    net = Net(hosts=("d",))
    net.run(3.0)
    [leader] = net.leaders()
    seen = [net.nodes[leader].configuration.members]
    for node in net.nodes.values():
        node.set_voters(("a", "b", "d"), net.now, observers=("a", "b", "c", "d"))
    for _ in range(100):
        net.run(0.01)
        if net.nodes[leader].configuration.members != seen[-1]:
            seen.append(net.nodes[leader].configuration.members)
    assert seen == [("a", "b", "c"), ("a", "b", "c", "d"), ("a", "b", "d")]
    assert {node.configuration.members for node in net.nodes.values()} == {("a", "b", "d")}
    assert net.leaders() == [leader]


def test_a_voter_refuses_a_candidate_whose_configuration_is_older() -> None:
    """A voter holding configuration (term 2, seq 1) refuses pre-votes and votes to a candidate still at the
    bootstrap configuration, and its term does not move; a candidate holding the same configuration gets the vote."""
    newer = Voters.of(("a", "b", "d"), term=2, seq=1)
    node = GroupElection("g", "b", VOTERS, CONFIG, random.Random(1), -10.0, term=2, configuration=newer)
    [(_, pre)] = node.receive("c", attrs.evolve(ask("c", 3), pre=True), 0.0)
    assert not pre.granted
    [(_, pre)] = node.receive("c", ask("c", 3), 0.0)
    assert not pre.granted and node.term == 2
    [(_, vote)] = node.receive("d", ask("d", 3, newer), 0.0)
    assert vote.granted and node.voted_for == "d"


def test_a_derived_bootstrap_configuration_elects_only_with_every_voter() -> None:
    """Voters derived by each node on its own: with one of three cut off, no one is elected in the bootstrap
    configuration; given voters elect with two of three."""
    for derived, expected in ((True, 0), (False, 1)):
        net = Net()
        for name in VOTERS:
            net.nodes[name] = GroupElection("g", name, VOTERS, CONFIG, random.Random(name), 0.0, derived=derived)
        net.cut.add("c")
        net.run(3.0)
        assert len(net.leaders()) == expected


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        ElectionConfig(lease_s=1.0, heartbeat_s=1.0)
    with pytest.raises(ValueError):
        ElectionConfig(max_drift=0.5)
