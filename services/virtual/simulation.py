"""A deterministic simulation of one shard's key: the election simulator's group, with each node running the virtual
actors' guard (:func:`~zactor.services.virtual.model.may_serve`, :func:`~zactor.services.virtual.model.must_stop`)
on its own clock every ``guard_s / 2``, activating the key when it may serve and stopping it when it must; an active
node writes with its activation's term to the fenced register now and then.

The recorded activations are checked with :func:`~zactor.services.virtual.history.overlaps`, the election's
history (leases, terms, fenced writes) with :func:`zactor.services.election.simulation.check`. A paused node's
activation lasts through its pause (it cannot stop on time), so single activation is checked on runs without pauses,
and the fenced writes on every run.
"""

from __future__ import annotations

from zactor.services.election.simulation import History, Simulation
from zactor.services.virtual.history import ActivationRecord
from zactor.services.virtual.model import may_serve, must_stop

__all__ = ["ShardSimulation", "run_shard_seed"]

_KIND, _KEY = "sim", "key"


class ShardSimulation(Simulation):
    """``n`` nodes hosting one shard, each with the guard (see the module docstring).

    Args:
        n, seed: as :class:`~zactor.services.election.simulation.Simulation`.
        guard_s: the guard interval, in seconds.
        lease_stop: run :func:`must_stop` (``False``: a core whose activations never stop on a lost lease).
        spares: nodes beyond the ``n`` voters, swapped in for voters now and then (see :meth:`voter_changes`).

    Attributes:
        activations: the ended activations, ``(kind, key, node, term, start, end)`` in true time.
    """

    def __init__(self, n: int, seed: int, *, guard_s: float = 0.3, lease_stop: bool = True, spares: int = 0) -> None:
        super().__init__(n, seed, spares=spares)
        self.guard_s = guard_s
        self.lease_stop = lease_stop
        self.activations: list[ActivationRecord] = []
        self._active: dict[str, tuple[int, float]] = {}  # node -> (term, start)
        for node in self.ids:
            self.at(self.rng.uniform(0, guard_s / 2), lambda node=node: self._guard(node))  # type: ignore[misc]

    def _guard(self, node: str) -> None:
        if node not in self.down and not self._busy(node):
            election, local = self.nodes[node], self.local(node)
            serving = may_serve(election.is_leader(local), election.lease_remaining(local), self.guard_s)
            active = self._active.get(node)
            if active is not None and self.lease_stop and must_stop(serving, election.term, active[0]):
                self._end(node)
            elif active is None and serving:
                self._active[node] = (election.term, self.now)
            elif active is not None and self.rng.random() < 0.3:
                self._write(node, active[0])
        self.at(self.now + self.guard_s / 2 / self.rate[node], lambda: self._guard(node))

    def _end(self, node: str) -> None:
        term, start = self._active.pop(node)
        self.activations.append((_KIND, _KEY, node, term, start, self.now))

    def _crash(self, node: str) -> None:
        if node in self._active:
            self._end(node)  # the activation dies with its process
        super()._crash(node)

    def finish(self) -> None:
        """End the activations still open (at the end of the run)."""
        for node in list(self._active):
            self._end(node)


def run_shard_seed(
    seed: int, n: int = 3, *, pauses: bool, lease_stop: bool = True, fault_s: float = 20.0, settle_s: float = 5.0
) -> tuple[list[ActivationRecord], History]:
    """One run: ``fault_s`` seconds of partitions, message loss, crashes (and pauses, with ``pauses``), then
    ``settle_s`` healed. Returns the activations and the election history."""
    sim = ShardSimulation(n, seed, lease_stop=lease_stop)
    sim.faults(until=fault_s, pause_p=0.2 if pauses else 0.0)
    sim.run_until(fault_s + settle_s)
    sim.finish()
    return sim.activations, sim.history
