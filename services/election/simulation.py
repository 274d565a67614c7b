"""A deterministic simulator of one election group under faults, and the checker of its history.

Discrete events on a true timeline; each node sees time through its own clock (``offset + t * (1 + drift)``, offset
up to ``max_offset_s`` either way, rates apart by at most ``config.max_drift``). Messages take 1 to 20 ms, a share
of them is lost, links are cut and healed (partitions), nodes are paused (their timers and messages wait, as under
SIGSTOP) and crashed (restarted later with only the durable state). Leaders write to a fenced register with their
term; a write can arrive late (a leader paused after it checked its lease).

With ``spares``, the group is hosted by more nodes than it has voters, and the voters it should have change: now and
then membership would swap a voter for a spare (``{A,B,C}`` becoming ``{A,B,D}``), and each node learns of it after
its own delay (gossip), as :meth:`~zactor.services.election.core.GroupElection.set_voters`.

:func:`check` verifies the safety properties on the recorded history: no two leases held at once, terms of
successive leaders strictly increasing, one leader per term, and no write from a term below one already accepted.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any

import attrs

from zactor.services.election.core import GroupElection
from zactor.services.election.fence import Fence, StaleTerm
from zactor.services.election.model import ElectionConfig, Role
from zactor.services.election.voters import Voters

__all__ = ["Claim", "DurableState", "History", "Simulation", "check", "run_seed"]


@attrs.define
class Claim:
    """A node held a lease from ``start`` to ``end`` (true time, seconds) as leader of ``term``."""

    node: str
    term: int
    start: float
    end: float


@attrs.frozen
class DurableState:
    """What a node keeps across a crash."""

    term: int = 0
    voted_for: str | None = None
    configuration: Voters | None = None


@attrs.define
class History:
    """What a run recorded."""

    claims: list[Claim] = attrs.field(factory=list)
    elected: list[tuple[float, str, int]] = attrs.field(factory=list)  # (true time, node, term)
    writes: list[tuple[float, str, int, bool]] = attrs.field(factory=list)  # (arrival, node, term, accepted)
    leader_after_heal_s: float | None = None


class Simulation:
    """``n`` voters of one group on a simulated network.

    Args:
        n: how many voters.
        seed: seeds every random choice, so a run is reproducible.
        config: the group's timing (``max_drift`` bounds the simulated clock rates).
        loss_rate: the share of messages lost while faults are on.
        max_offset_s: the largest clock offset, either way, in seconds.
        spares: how many more nodes host the group without being voters at first (see the module docstring).
    """

    def __init__(
        self,
        n: int,
        seed: int,
        config: ElectionConfig | None = None,
        loss_rate: float = 0.05,
        max_offset_s: float = 0.5,
        spares: int = 0,
    ) -> None:
        self.config = config or ElectionConfig()
        self.rng = random.Random(seed)
        self.ids = [f"n{i}" for i in range(n + spares)]
        self.desired = tuple(self.ids[:n])  # the voters membership would derive, as the whole cluster sees it
        self.views = {i: self.desired for i in self.ids}  # the same, as each node has heard of it so far
        self.derived = spares > 0  # voters derived from membership by each node, as a service without voters=
        self.loss_rate = loss_rate
        drift = self.config.max_drift / 2
        self.offset = {i: self.rng.uniform(-max_offset_s, max_offset_s) for i in self.ids}
        self.rate = {i: 1 + self.rng.uniform(-drift, drift) for i in self.ids}
        self.durable: dict[str, DurableState] = {i: DurableState() for i in self.ids}
        self.now = 0.0
        self.cut: set[frozenset[str]] = set()
        self.paused_until: dict[str, float] = {}
        self.down: set[str] = set()
        self.healed_at: float | None = None  # true time of the heal; until then messages are lost at loss_rate
        self.history = History()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._held: dict[str, list[tuple[str, Any]]] = {i: [] for i in self.ids}
        self.fence = Fence()
        self._open: dict[str, Claim] = {}
        self._elected: set[tuple[str, int]] = set()
        self.nodes = {i: self._make(i) for i in self.ids}
        for i in self.ids:
            self._wake(i)

    # ------------------------------------------------------------------------------------------------ clocks

    def local(self, node: str, t: float | None = None) -> float:
        """``node``'s clock at true time ``t`` (default: now)."""
        return self.offset[node] + (self.now if t is None else t) * self.rate[node]

    def true_time(self, node: str, local: float) -> float:
        """The true time at which ``node``'s clock reads ``local``."""
        return (local - self.offset[node]) / self.rate[node]

    # ------------------------------------------------------------------------------------------------ running

    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run ``action`` at true time ``t``."""
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, action))

    def run_until(self, t_end: float) -> None:
        """Process events up to true time ``t_end``."""
        while self._queue and self._queue[0][0] <= t_end:
            t, _, action = heapq.heappop(self._queue)
            self.now = t
            action()
        self.now = t_end
        for node in self.ids:
            self._record(node)

    def faults(self, until: float, partition_p: float = 0.3, pause_p: float = 0.2, crash_p: float = 0.15) -> None:
        """Schedule random partitions, pauses and crashes from now until true time ``until``, then heal all."""
        t = self.now
        while t < until:
            t += self.rng.uniform(0.5, 3.0)
            roll = self.rng.random()
            if roll < partition_p:
                side = set(self.rng.sample(self.ids, self.rng.randint(1, len(self.ids) // 2)))
                cut = {frozenset((a, b)) for a in side for b in self.ids if b not in side}
                self.at(t, lambda cut=cut: self.cut.update(cut))  # type: ignore[misc]
                self.at(t + self.rng.uniform(0.5, 4.0), lambda cut=cut: self.cut.difference_update(cut))  # type: ignore[misc]
            elif roll < partition_p + pause_p:
                node, length = self.rng.choice(self.ids), self.rng.uniform(0.2, 4.0)
                self.at(t, lambda node=node, length=length: self._pause(node, length))  # type: ignore[misc]
            elif roll < partition_p + pause_p + crash_p:
                node = self.rng.choice(self.ids)
                self.at(t, lambda node=node: self._crash(node))  # type: ignore[misc]
                self.at(t + self.rng.uniform(0.1, 3.0), lambda node=node: self._restart(node))  # type: ignore[misc]
        self.at(until, self._heal)

    def voter_changes(self, until: float) -> None:
        """Schedule swaps of one voter for a spare from now until true time ``until``; each node hears of each swap
        0 to 2 s later (a crashed node on its restart)."""
        t = self.now
        spares = len(self.ids) - len(self.desired)
        while spares and t < until:
            t += self.rng.uniform(1.0, 5.0)
            self.at(t, self._swap_voter)

    def _swap_voter(self) -> None:
        out = self.rng.choice(self.desired)
        spare = self.rng.choice([i for i in self.ids if i not in self.desired])
        self.desired = tuple(sorted({*self.desired, spare} - {out}))
        for node in self.ids:
            lag = self.rng.uniform(0.0, 2.0)
            self.at(self.now + lag, lambda node=node, view=self.desired: self._hear(node, view))  # type: ignore[misc]

    def _hear(self, node: str, view: tuple[str, ...]) -> None:
        self.views[node] = view
        if node in self.down:
            return
        if self._busy(node):
            self.at(self.paused_until[node], lambda: self._hear(node, view))
            return
        self.nodes[node].set_voters(view, self.local(node), observers=self.ids)
        self._after(node, [])
        self._wake(node)

    def _heal(self) -> None:
        self.cut.clear()
        for node in list(self.down):
            self._restart(node)
        self.healed_at = self.now

    # ------------------------------------------------------------------------------------------------ nodes

    def _make(self, node: str) -> GroupElection:
        state = self.durable[node]
        rng = random.Random(self.rng.getrandbits(64))
        election = GroupElection(
            "g",
            node,
            self.views[node],
            self.config,
            rng,
            self.local(node),
            state.term,
            state.voted_for,
            configuration=state.configuration,
            derived=self.derived,
        )
        election.set_voters(self.views[node], self.local(node), observers=self.ids)
        return election

    def _pause(self, node: str, length: float) -> None:
        if node in self.down:
            return
        self.paused_until[node] = self.now + length
        self.at(self.now + length, lambda: self._resume(node))

    def _resume(self, node: str) -> None:
        if self.paused_until.get(node, 0) > self.now or node in self.down:
            return
        self.paused_until.pop(node, None)
        held, self._held[node] = self._held[node], []
        for sender, msg in held:
            self._deliver(sender, node, msg)
        self._wake(node)

    def _crash(self, node: str) -> None:
        self._record(node)
        self._close(node, self.now)
        self.down.add(node)
        self.paused_until.pop(node, None)
        self._held[node] = []

    def _restart(self, node: str) -> None:
        if node not in self.down:
            return
        self.down.discard(node)
        self.nodes[node] = self._make(node)
        self._wake(node)

    def _busy(self, node: str) -> bool:
        return node in self.down or self.paused_until.get(node, 0) > self.now

    def _wake(self, node: str) -> None:
        election = self.nodes[node]
        when = max(self.now, self.true_time(node, election.next_wakeup()) + 1e-6)  # past float rounding
        self.at(when, lambda election=election: self._tick(node, election))  # type: ignore[misc]

    def _tick(self, node: str, election: GroupElection) -> None:
        if self.nodes[node] is not election or self._busy(node):
            return  # a stale timer of a crashed node, or one paused: it runs when resumed
        if election.next_wakeup() > self.local(node):
            return  # a newer timer is scheduled
        self._after(node, election.tick(self.local(node)))
        self._wake(node)

    def _deliver(self, sender: str, node: str, msg: Any) -> None:
        if node in self.down:
            return
        if self._busy(node):
            self._held[node].append((sender, msg))
            return
        self._after(node, self.nodes[node].receive(sender, msg, self.local(node)))
        self._wake(node)

    def _after(self, node: str, out: list[tuple[str, Any]]) -> None:
        election = self.nodes[node]
        if election.durable:
            self.durable[node] = DurableState(election.term, election.voted_for, election.configuration)
            election.durable = False
        self._record(node)
        for target, msg in out:
            if frozenset((node, target)) in self.cut or (self.healed_at is None and self.rng.random() < self.loss_rate):
                continue
            self.at(self.now + self.rng.uniform(0.001, 0.02), lambda t=target, m=msg: self._deliver(node, t, m))  # type: ignore[misc]
        if election.is_leader(self.local(node)) and self.rng.random() < 0.5:
            self._write(node, election.term)

    # ------------------------------------------------------------------------------------------------ history

    def _record(self, node: str) -> None:
        """Update ``node``'s open lease claim from its state now."""
        election = self.nodes[node]
        if node in self.down:
            return
        local = self.local(node)
        claim = self._open.get(node)
        if claim is not None and (claim.term != election.term or election.role is not Role.LEADER):
            self._close(node, self.now)
            claim = None
        if election.role is Role.LEADER:
            if (node, election.term) not in self._elected:
                self._elected.add((node, election.term))
                self.history.elected.append((self.now, node, election.term))
            if election.is_leader(local):
                end = self.now + election.lease_remaining(local) / self.rate[node]
                if claim is None:
                    self._open[node] = Claim(node, election.term, self.now, end)
                    self.history.claims.append(self._open[node])
                else:
                    claim.end = max(claim.end, end)
        if self.healed_at is not None and self.history.leader_after_heal_s is None and election.is_leader(local):
            self.history.leader_after_heal_s = self.now - self.healed_at

    def _close(self, node: str, t: float) -> None:
        claim = self._open.pop(node, None)
        if claim is not None:
            claim.end = min(claim.end, t)

    def _write(self, node: str, term: int) -> None:
        """A leader writes to the fenced register; a paused leader's write may land late."""
        delay = self.rng.uniform(0.001, 0.02) + (self.rng.uniform(0, 3) if self.rng.random() < 0.02 else 0)

        def land() -> None:
            try:
                self.fence.admit(term)
                accepted = True
            except StaleTerm:
                accepted = False
            self.history.writes.append((self.now, node, term, accepted))

        self.at(self.now + delay, land)


def check(history: History) -> None:
    """Raise ``AssertionError`` naming the first safety property ``history`` breaks."""
    claims = sorted(history.claims, key=lambda c: c.start)
    latest: Claim | None = None  # of the claims started so far, the one whose lease ends last
    for claim in claims:
        if (
            latest is not None
            and claim.start < latest.end - 1e-9
            and (latest.node, latest.term) != (claim.node, claim.term)
        ):
            raise AssertionError(f"overlapping leases: {latest} and {claim}")
        if latest is None or claim.end > latest.end:
            latest = claim
    for a, b in zip(claims, claims[1:], strict=False):
        if b.term <= a.term and (a.node, a.term) != (b.node, b.term):
            raise AssertionError(f"terms not strictly increasing across leaders: {a} then {b}")
    terms = [term for _, _, term in history.elected]
    if len(terms) != len(set(terms)):
        raise AssertionError(f"two leaders elected in one term: {sorted(history.elected, key=lambda e: e[2])}")
    leader_of = {term: node for _, node, term in history.elected}
    highest = 0
    for _, node, term, accepted in history.writes:
        if accepted and term < highest:
            raise AssertionError(f"a write of term {term} by {node} accepted after one of term {highest}")
        if accepted and leader_of.get(term) != node:
            raise AssertionError(
                f"a write of term {term} by {node} accepted, but {leader_of.get(term)} led term {term}"
            )
        if accepted:
            highest = term


def run_seed(seed: int, n: int = 3, fault_s: float = 20.0, settle_s: float = 10.0, spares: int = 0) -> History:
    """One simulated run: ``fault_s`` seconds of faults (and voter swaps, with ``spares``), then ``settle_s``
    healed. Returns the history."""
    sim = Simulation(n, seed, spares=spares)
    sim.faults(until=fault_s)
    sim.voter_changes(until=fault_s)
    sim.run_until(fault_s + settle_s)
    return sim.history
