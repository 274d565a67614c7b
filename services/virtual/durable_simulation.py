"""A deterministic simulation of one durable key: :class:`~zactor.services.virtual.simulation.ShardSimulation`'s
activations, each keeping a counter in fenced rows replicated on every node
(:mod:`~zactor.services.replication.fenced`), as :class:`~zactor.services.virtual.DurableActor` does.

An activation claims the key on a majority of replicas (the newest row is its counter), writes that value back under
its term, then increments one write at a time; an increment is acknowledged when a majority of replicas took it. Every
message between nodes takes 1-20 ms, or up to 3 s more now and then (a late write from a paused node), is lost to a
cut or at the loss rate while faults run, and waits while its receiver is paused. Rows survive crashes. The recorded
increments are checked with :func:`~zactor.services.virtual.history.increments_out_of_order`: with pauses, two
activations may overlap, and only the fencing keeps the counter linearizable.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from zactor.services.replication.fenced import FencedRow, StaleTerm, claim_row, newest, write_row
from zactor.services.virtual.history import Increment
from zactor.services.virtual.simulation import ShardSimulation

__all__ = ["DurableShardSimulation", "run_durable_seed"]

_TIMEOUT_S = 1.0
_KEY = "key"


@attrs.define
class _Round:
    """One claim or write in flight: the rows of the replicas that took it so far, and whether it ended."""

    rows: list[FencedRow] = attrs.field(factory=list)
    over: bool = False


class DurableShardSimulation(ShardSimulation):
    """``n`` nodes hosting one durable key (see the module docstring).

    Args:
        n, seed, guard_s, lease_stop, spares: as :class:`~zactor.services.virtual.simulation.ShardSimulation` (every
            node, spares included, holds a replica).
        fencing: the replicas refuse a claim or write below their fence (``False``: the mechanism removed; rows are
            still ordered by ``(term, seq)``).

    Attributes:
        increments: the acknowledged increments, ``(key, invoked, acknowledged, value)`` in true time.
        refused: how many replica answers were ``StaleTerm``.
    """

    def __init__(self, n: int, seed: int, *, fencing: bool = True, **kwargs: float | bool) -> None:
        super().__init__(n, seed, **kwargs)  # type: ignore[arg-type]
        self.fencing = fencing
        self.rows = {node: FencedRow() for node in self.ids}
        self.increments: list[Increment] = []
        self.refused = 0
        self._serial = 0
        self._seq = 0
        self._activation: dict[str, tuple[int, int]] = {}  # node -> (activation serial, term) of its open activation
        self._value: dict[str, tuple[int, int] | None] = {}  # node -> (seq, counter) once loaded; None: in a round

    def _write(self, node: str, term: int) -> None:
        super()._write(node, term)
        active = self._active.get(node)
        if active is None or active[0] != term:
            return
        if node not in self._activation:
            self._serial += 1
            self._activation[node] = (self._serial, term)
            self._value[node] = None
            self._send(node, lambda row: self._claim(row, term), lambda rows: self._loaded(node, term, rows), None)
            return
        loaded = self._value[node]
        if loaded is not None:
            self._value[node] = None
            self._increment(node, term, *loaded)

    def _resume(self, node: str) -> None:
        """A resumed process may run a message that waited in its activation's mailbox before its guard runs."""
        active = self._active.get(node)
        if active is not None and not self._busy(node) and node not in self.down and self.rng.random() < 0.5:
            self._write(node, active[0])
        super()._resume(node)

    def _end(self, node: str) -> None:
        self._activation.pop(node, None)
        self._value.pop(node, None)
        super()._end(node)

    def _loaded(self, node: str, term: int, rows: list[FencedRow]) -> None:
        value = newest(rows).value
        counter = 0 if value is None else int(value)
        self._seq += 1
        seq = self._seq
        self._send(
            node, lambda row: self._put(row, term, seq, counter), lambda _: self._ready(node, seq, counter), None
        )

    def _increment(self, node: str, term: int, seq: int, counter: int) -> None:
        self._seq += 1
        new_seq, invoked = self._seq, self.now

        def acked(_: list[FencedRow]) -> None:
            self.increments.append((_KEY, invoked, self.now, counter + 1))
            self._ready(node, new_seq, counter + 1)

        self._send(node, lambda row: self._put(row, term, new_seq, counter + 1), acked, (seq, counter))

    def _ready(self, node: str, seq: int, counter: int) -> None:
        self._value[node] = (seq, counter)

    def _claim(self, row: FencedRow, term: int) -> FencedRow:
        return claim_row(row, term) if self.fencing else row

    def _put(self, row: FencedRow, term: int, seq: int, counter: int) -> FencedRow:
        if self.fencing:
            return write_row(row, term, seq, str(counter).encode())
        return FencedRow(row.fence, term, seq, str(counter).encode()) if (term, seq) > row.version() else row

    # ------------------------------------------------------------------------------------------------ rounds

    def _send(
        self,
        node: str,
        change: Callable[[FencedRow], FencedRow],
        on_done: Callable[[list[FencedRow]], None],
        keep: tuple[int, int] | None,
    ) -> None:
        """Apply ``change`` to every replica's row (the local one at once); ``on_done`` runs with the rows of a
        majority. A refusal, or no majority within the timeout, ends the round: an increment's activation keeps
        ``keep`` (its value as last saved), one still loading ends (the next message activates again)."""
        serial = self._activation[node][0]
        round_ = _Round()

        def current() -> bool:
            return not round_.over and self._activation.get(node, (0, 0))[0] == serial

        def answer(row: FencedRow | None) -> None:
            if not current():
                return
            if row is None:
                fail()
                return
            round_.rows.append(row)
            if len(round_.rows) > len(self.ids) // 2:
                round_.over = True
                on_done(round_.rows)

        def fail() -> None:
            if not current():
                return
            round_.over = True
            if keep is not None:
                self._ready(node, *keep)
            else:
                del self._activation[node], self._value[node]

        def arrive_at(replica: str) -> None:
            row = self._apply(replica, change)
            self._hop(replica, node, lambda: answer(row))

        for replica in self.ids:
            if replica == node:
                answer(self._apply(replica, change))
            else:
                self._hop(node, replica, lambda r=replica: arrive_at(r))  # type: ignore[misc]
        self.at(self.now + _TIMEOUT_S, fail)

    def _hop(self, sender: str, receiver: str, action: Callable[[], None]) -> None:
        """Carry a message: lost to a cut or at the loss rate, late now and then, held while the receiver pauses."""
        if frozenset((sender, receiver)) in self.cut or (self.healed_at is None and self.rng.random() < self.loss_rate):
            return
        delay = self.rng.uniform(0.001, 0.02) + (self.rng.uniform(0, 3) if self.rng.random() < 0.02 else 0)

        def arrive() -> None:
            if receiver in self.down:
                return
            if self._busy(receiver):
                self.at(self.paused_until[receiver] + 1e-6, arrive)
                return
            action()

        self.at(self.now + delay, arrive)

    def _apply(self, replica: str, change: Callable[[FencedRow], FencedRow]) -> FencedRow | None:
        """Apply ``change`` to ``replica``'s row; returns the row, or ``None`` when refused as stale."""
        try:
            row = self.rows[replica] = change(self.rows[replica])
        except StaleTerm:
            self.refused += 1
            return None
        return row


def run_durable_seed(
    seed: int, n: int = 3, *, fencing: bool = True, spares: int = 0, fault_s: float = 20.0, settle_s: float = 5.0
) -> DurableShardSimulation:
    """One run with partitions, loss, crashes and pauses (and, with ``spares``, voters swapped for spares: nodes
    joining and leaving the shard's group) for ``fault_s`` seconds, then ``settle_s`` healed; returns the simulation
    (its ``increments`` to check)."""
    sim = DurableShardSimulation(n, seed, fencing=fencing, spares=spares)
    sim.faults(until=fault_s, pause_p=0.2)
    sim.voter_changes(until=fault_s)
    sim.run_until(fault_s + settle_s)
    sim.finish()
    return sim
