"""Leader election with leases for one group: Raft's election without the log, sans-I/O.

Algorithm: Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm" (Raft, 2014) for terms, one
vote per term and majorities; Ongaro's thesis (2014) section 9.6 for pre-vote and section 4.2.3 for ignoring vote
requests while a leader is heard; leader leases as in Chubby (Burrows, 2006) and etcd's lease-based reads.

- A follower that hears no heartbeat for ``lease_s`` seconds plus a delay set by its rank asks the voters for a
  pre-vote; with a majority it becomes a candidate of the next term, votes for itself and asks for votes; with a
  majority of votes it leads. A voter grants one vote per term.
- A voter that acked a heartbeat of the leader promises, for ``lease_s`` seconds from receiving it, to vote for no
  one else (and ignores other candidates' terms). The leader holds its lease from the sending time of a heartbeat
  round acked by a majority, for ``lease_s`` minus the drift margin ``2 * max_drift * lease_s``. Only local
  durations are compared (each node's own monotonic clock), so clock offsets between nodes never enter; rates
  that differ by up to ``max_drift`` are covered by the margin. Every majority of votes meets every majority of
  acks in a voter whose promise had expired, so a new leader is elected only after the old lease ended everywhere.
- The **term is the fencing token**: every leadership change has a strictly larger term; a resource that refuses
  writes from terms below the largest it has seen refuses a stale leader (one paused past its lease).

- The voters change one at a time, by the leader only, each change committed before the next
  (:mod:`zactor.services.election.voters`): membership only says which voters the group should have
  (:meth:`GroupElection.set_voters`).

``(term, voted_for, voters)`` must be durable before a vote, a term change or an adopted configuration leaves the
node (:attr:`GroupElection.durable` says when it changed), or a restarted voter could vote twice in one term.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zactor.services.election.messages import Heartbeat, HeartbeatAck, RequestVote, Resign, Vote
from zactor.services.election.model import ElectionConfig, LeaderChange, Role, rank
from zactor.services.election.voters import Voters, next_step

if TYPE_CHECKING:
    import random

__all__ = ["GroupElection", "Outgoing"]

Outgoing = tuple[str, Any]
"""``(node_id, message)``: a message the shell must send."""


class GroupElection:
    """One node's view of one group.

    Args:
        group: the group's name.
        node_id: this node.
        voters: the group's voters (this node among them or not: a non-voter only follows), as the bootstrap
            configuration unless ``configuration`` is given.
        config: timing.
        rng: randomness of this node (election jitter).
        now_s: the current time on this node's monotonic clock, in seconds.
        term: the durable term to resume from.
        voted_for: the durable vote of ``term``.
        configuration: the durable voter configuration to resume from (default: ``voters`` as the bootstrap one).
        derived: whether the bootstrap voters are derived by each node on its own (then a bootstrap election needs
            every voter), rather than given alike to all.

    Attributes:
        term: the current term (the fencing token of its leader).
        voted_for: whom this node voted for in ``term``.
        role: see :class:`Role`.
        leader: the leader of ``term`` when known.
        configuration: the voter configuration this node holds (see :mod:`~zactor.services.election.voters`).
        durable: set whenever ``term``, ``voted_for`` or ``configuration`` changed; the shell stores them, then
            clears it.
    """

    def __init__(
        self,
        group: str,
        node_id: str,
        voters: Sequence[str],
        config: ElectionConfig,
        rng: random.Random,
        now_s: float,
        term: int = 0,
        voted_for: str | None = None,
        configuration: Voters | None = None,
        derived: bool = False,
    ) -> None:
        self.group = group
        self.node_id = node_id
        self.config = config
        self._rng = rng
        self.term = term
        self.voted_for = voted_for
        self.role = Role.FOLLOWER
        self.leader: str | None = None
        self.durable = False
        self.observers: tuple[str, ...] = ()
        self.configuration = configuration or Voters.of(voters)
        self._desired = self.configuration.members  # what membership says the voters should be
        self._derived = derived
        self._committed = False  # as leader: a majority holds this leader's newest configuration
        self._ranked: list[str] = []  # the voters, next in line first
        # a voter that acked a heartbeat votes for no one else until _promise_until; a (re)started node first
        # honours any promise it may have made before (to no one known: it refuses every candidate meanwhile)
        self._promise_until = now_s + config.lease_s
        self._promised_to: str | None = None
        self._last_heard = -1.0
        self._election_at = 0.0
        self._round_until = 0.0
        self._ballots: set[str] = set()
        self._lease_until = 0.0
        self._elected_at = 0.0
        self._next_heartbeat = 0.0
        self._seq = 0
        self._rounds: dict[int, tuple[float, Voters, set[str]]] = {}
        self._acked_at: dict[str, float] = {}  # as leader: when each voter last acked a heartbeat of this term
        self._changes: list[LeaderChange] = []
        self._configure(self.configuration, now_s)
        self._schedule_election(now_s)

    # ------------------------------------------------------------------------------------------------ queries

    @property
    def voters(self) -> tuple[str, ...]:
        """The voters of the configuration this node holds, sorted."""
        return self.configuration.members

    @property
    def desired(self) -> tuple[str, ...]:
        """The voters membership says the group should have (see :meth:`set_voters`), sorted."""
        return self._desired

    @property
    def majority(self) -> int:
        """Votes or acks needed: more than half of the voters (all of them for a derived bootstrap configuration)."""
        if self._derived and self.configuration.term == 0:
            return len(self.voters)
        return self.configuration.majority

    def is_leader(self, now_s: float) -> bool:
        """Whether this node leads with a lease valid at ``now_s``."""
        return self.role is Role.LEADER and now_s < self._lease_until

    def lease_remaining(self, now_s: float) -> float:
        """Seconds of lease left (0 when this node does not lead)."""
        return max(0.0, self._lease_until - now_s) if self.role is Role.LEADER else 0.0

    def lease_age(self, now_s: float) -> float | None:
        """Seconds since the lease was last renewed: on the leader, since the sending of the newest round a majority
        acked; on a follower, since it last heard the leader. ``None`` when there is no lease to speak of."""
        if self.is_leader(now_s):
            return now_s - (self._lease_until - self.config.held_s)
        return None if self.leader is None or self._last_heard < 0 else now_s - self._last_heard

    def follows(self, node_id: str, now_s: float) -> bool:
        """As leader: whether ``node_id`` acked a heartbeat of this term within the last two heartbeat intervals (it
        is live and knows this leader: a successor a resignation can name)."""
        acked = self._acked_at.get(node_id)
        return self.role is Role.LEADER and acked is not None and now_s - acked <= 2 * self.config.heartbeat_s

    def succession(self) -> list[str]:
        """The voters other than the leader, next in line first (the first one is the backup leader)."""
        return [v for v in self._ranked if v != self.leader]

    def next_wakeup(self) -> float:
        """When :meth:`tick` has work next, on this node's clock."""
        if self.role is Role.LEADER:
            return min(self._next_heartbeat, self._lease_deadline())
        if self.role in (Role.PRE_CANDIDATE, Role.CANDIDATE):
            return self._round_until
        times = [self._election_at] if self.node_id in self.voters else []
        if self.leader is not None:
            times.append(self._promise_until)
        return min(times, default=math.inf)

    def take_changes(self) -> list[LeaderChange]:
        """The leader changes since the last call, oldest first."""
        changes, self._changes = self._changes, []
        return changes

    # ------------------------------------------------------------------------------------------------ inputs

    def set_voters(self, voters: Sequence[str], now_s: float, observers: Sequence[str] = ()) -> None:
        """Say which voters the group should have (from membership), and which other nodes follow the leader's
        heartbeats. Before any leader made a configuration, this is the bootstrap view; after, only a leader acts
        on it, one voter at a time."""
        self._desired = tuple(sorted(set(voters)))
        self.observers = tuple(sorted(set(observers) - set(self._desired) - {self.node_id}))
        if self.configuration.term == 0 and self._desired != self.voters:
            self._configure(Voters.of(self._desired), now_s)
        elif self.role is Role.LEADER:
            self._step_voters(now_s)

    def _configure(self, configuration: Voters, now_s: float) -> None:
        """Hold ``configuration`` from now on (it takes effect at once, as in Raft)."""
        if configuration != self.configuration:
            self.configuration = configuration
            self.durable = True
        self._ranked = sorted(self.voters, key=lambda v: rank(self.group, v), reverse=True)
        if self.role is not Role.FOLLOWER and self.node_id not in self.voters:
            self._follow(now_s, None)

    def _step_voters(self, now_s: float) -> None:
        """As leader with its configuration committed: take one step toward the desired voters."""
        if not self._committed:
            return
        step = next_step(self.group, self.voters, self._desired, self.node_id)
        if step is not None:
            self._configure(Voters(self.term, self.configuration.seq + 1, step), now_s)
            self._committed = False

    def tick(self, now_s: float) -> list[Outgoing]:
        """Act on timers: heartbeats and lease expiry (leader), round timeouts, elections."""
        if self.role is Role.LEADER:
            if now_s >= self._lease_deadline():
                self._follow(now_s, None)  # cannot renew: step down before the lease ends anywhere else
                return []
            if self._committed and self.node_id not in self._desired and self._desired:
                if next_step(self.group, self.voters, self._desired, self.node_id) is None:
                    return self.resign(now_s)  # the last step removes this node: the next leader takes it
            if now_s >= self._next_heartbeat:
                return self._heartbeat(now_s)
            return []
        if self.role in (Role.PRE_CANDIDATE, Role.CANDIDATE):
            if now_s >= self._round_until:
                self.role = Role.FOLLOWER
                self._schedule_election(now_s, self._rng.uniform(0, self.config.rank_step_s))
            return []
        if self.leader is not None and now_s >= self._promise_until:
            self._set_leader(None)  # silent for a whole lease: its lease has ended
        if now_s >= self._election_at and self.node_id in self.voters and now_s >= self._promise_until:
            return self._stand(now_s)
        return []

    def receive(self, sender: str, msg: Any, now_s: float) -> list[Outgoing]:
        """Take one message from ``sender``; returns the answers to send."""
        if type(msg) is Heartbeat:
            return self._on_heartbeat(sender, msg, now_s)
        if type(msg) is HeartbeatAck:
            return self._on_ack(sender, msg, now_s)
        if type(msg) is RequestVote:
            return self._on_request_vote(sender, msg, now_s)
        if type(msg) is Vote:
            return self._on_vote(sender, msg, now_s)
        if type(msg) is Resign:
            if msg.term == self.term and sender == self.leader:
                self._promise_until = now_s
                step = self.config.rank_step_s
                if msg.successor == self.node_id:
                    delay_s = 0.0
                else:  # the named successor stands first; without one, any voter may
                    delay_s = self._rng.uniform(0, step) + (step if msg.successor else 0.0)
                self._follow(now_s, None, delay_s=delay_s)
            return []
        return []

    def resign(self, now_s: float, successor: str | None = None) -> list[Outgoing]:
        """Give up leadership at once (no-op unless leading); the voters may elect another without waiting, the
        voter ``successor`` standing first when given."""
        if self.role is not Role.LEADER:
            return []
        self._follow(now_s, None, delay_s=self.config.lease_s + len(self.voters) * self.config.rank_step_s)
        resign = Resign(group=self.group, term=self.term, successor=successor or "")
        return [(v, resign) for v in self._others()]

    # ------------------------------------------------------------------------------------------------ handlers

    def _on_heartbeat(self, sender: str, msg: Heartbeat, now_s: float) -> list[Outgoing]:
        if msg.term < self.term:
            return [(sender, self._ack(msg.seq, ok=False))]
        self._advance(msg.term)
        if (msg.config_term, msg.config_seq) > self.configuration.entry:
            self._configure(Voters.of(msg.voters, msg.config_term, msg.config_seq), now_s)
        self._last_heard = now_s
        self._promise_until = now_s + self.config.lease_s
        self._promised_to = sender
        self._follow(now_s, sender)
        return [(sender, self._ack(msg.seq, ok=True))]

    def _on_ack(self, sender: str, msg: HeartbeatAck, now_s: float) -> list[Outgoing]:
        if msg.term > self.term:
            self._advance(msg.term)
            self._follow(now_s, None)
            return []
        if self.role is not Role.LEADER or msg.term != self.term or not msg.ok or sender not in self.voters:
            return []
        self._acked_at[sender] = now_s
        found = self._rounds.get(msg.seq)
        if found is None:
            return []
        sent_at, configuration, acks = found
        if sender not in configuration.members:
            return []
        acks.add(sender)
        if len(acks) >= configuration.majority:
            self._lease_until = max(self._lease_until, sent_at + self.config.held_s)
            for seq in [s for s in self._rounds if s <= msg.seq]:
                del self._rounds[seq]
            if configuration == self.configuration and not self._committed:
                self._committed = True
                self._step_voters(now_s)
        return []

    def _on_request_vote(self, sender: str, msg: RequestVote, now_s: float) -> list[Outgoing]:
        # whether either is a voter of this node's configuration does not matter (Raft thesis 4.1): a voter may not
        # have heard of the configuration that made it one; the candidate counts only its own configuration's votes
        if not self.configuration.admits(msg.config_term, msg.config_seq, msg.voters):  # no vote, no term change
            return [(sender, self._vote(self.term, granted=False, pre=msg.pre))]
        if self._bound(sender, now_s):  # a leader is heard: neither the vote nor the term moves
            return [(sender, self._vote(self.term, granted=False, pre=msg.pre))]
        if msg.pre:
            return [(sender, self._vote(msg.term, granted=msg.term > self.term, pre=True))]
        if msg.term > self.term:
            self._advance(msg.term)
            self._follow(now_s, None)
        granted = msg.term == self.term and self.voted_for in (None, sender)
        if granted and self.voted_for is None:
            self.voted_for = sender
            self.durable = True
            self._schedule_election(now_s)
        return [(sender, self._vote(self.term, granted=granted, pre=False))]

    def _on_vote(self, sender: str, msg: Vote, now_s: float) -> list[Outgoing]:
        if not msg.pre and msg.term > self.term:
            self._advance(msg.term)
            self._follow(now_s, None)
            return []
        expected = (Role.PRE_CANDIDATE, self.term + 1) if msg.pre else (Role.CANDIDATE, self.term)
        if not msg.granted or sender not in self.voters or (self.role, msg.term) != expected:
            return []
        self._ballots.add(sender)
        if len(self._ballots) < self.majority:
            return []
        return self._campaign(now_s) if msg.pre else self._lead(now_s)

    # ------------------------------------------------------------------------------------------------ steps

    def _stand(self, now_s: float) -> list[Outgoing]:
        """Start a pre-vote for the next term."""
        if self._open_round(Role.PRE_CANDIDATE, now_s):
            return self._campaign(now_s)
        return [(v, self._request_vote(self.term + 1, pre=True)) for v in self._others()]

    def _campaign(self, now_s: float) -> list[Outgoing]:
        """Become a candidate of the next term and ask for votes."""
        self.term += 1
        self.voted_for = self.node_id
        self.durable = True
        self._set_leader(None)
        if self._open_round(Role.CANDIDATE, now_s):
            return self._lead(now_s)
        return [(v, self._request_vote(self.term, pre=False)) for v in self._others()]

    def _open_round(self, role: Role, now_s: float) -> bool:
        """Start a pre-vote or vote round with this node's own ballot; returns whether that is a majority already."""
        self.role = role
        self._ballots = {self.node_id}
        self._round_until = now_s + self.config.round_s
        return len(self._ballots) >= self.majority

    def _lead(self, now_s: float) -> list[Outgoing]:
        self.role = Role.LEADER
        self._elected_at = now_s
        self._lease_until = 0.0
        self._rounds.clear()
        self._acked_at.clear()
        self._set_leader(self.node_id)
        self._configure(Voters(self.term, 0, self.voters), now_s)  # restamped in this term: Raft's no-op entry
        self._committed = False
        return self._heartbeat(now_s)

    def _heartbeat(self, now_s: float) -> list[Outgoing]:
        self._seq += 1
        configuration = self.configuration
        self._rounds[self._seq] = (now_s, configuration, {self.node_id})
        if len(self._rounds) > 64:
            del self._rounds[min(self._rounds)]
        if configuration.majority <= 1:
            self._lease_until = now_s + self.config.held_s
            self._committed = True
        self._next_heartbeat = now_s + self.config.heartbeat_s
        beat = Heartbeat(group=self.group, term=self.term, seq=self._seq, **configuration.fields())
        return [(n, beat) for n in (*self._others(), *self.observers)]

    def _lease_deadline(self) -> float:
        """When a leader without a renewed lease steps down: its lease's end, or ``lease_s`` after election."""
        return max(self._lease_until, self._elected_at + self.config.held_s)

    def _follow(self, now_s: float, leader: str | None, delay_s: float | None = None) -> None:
        if self.role is Role.LEADER:
            self._lease_until = 0.0
        self.role = Role.FOLLOWER
        self._set_leader(leader)
        self._schedule_election(now_s, delay_s)

    def _advance(self, term: int) -> None:
        if term > self.term:
            self.term = term
            self.voted_for = None
            self.durable = True
            if self.role is Role.LEADER:
                self._lease_until = 0.0

    def _bound(self, candidate: str, now_s: float) -> bool:
        """Whether a live leader holds this node: as leader with its lease, or by a promise to another node."""
        if self.role is Role.LEADER:
            return self.is_leader(now_s) or now_s < self._elected_at + self.config.lease_s
        return now_s < self._promise_until and candidate != self._promised_to

    def _schedule_election(self, now_s: float, delay_s: float | None = None) -> None:
        if delay_s is None:
            order = self.succession()
            position = order.index(self.node_id) if self.node_id in order else len(order)
            delay_s = self.config.lease_s + (position + self._rng.random()) * self.config.rank_step_s
        self._election_at = max(now_s + delay_s, self._promise_until)

    def _set_leader(self, leader: str | None) -> None:
        if leader != self.leader:
            self.leader = leader
            self._changes.append(LeaderChange(self.group, leader, self.term))

    def _request_vote(self, term: int, pre: bool) -> RequestVote:
        fields = self.configuration.fields()
        return RequestVote(group=self.group, term=term, pre=pre, **fields)

    def _ack(self, seq: int, ok: bool) -> HeartbeatAck:
        return HeartbeatAck(group=self.group, term=self.term, seq=seq, ok=ok)

    def _vote(self, term: int, granted: bool, pre: bool) -> Vote:
        return Vote(group=self.group, term=term, granted=granted, pre=pre)

    def _others(self) -> list[str]:
        return [v for v in self.voters if v != self.node_id]
