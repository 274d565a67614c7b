"""Consistency levels: how many replicas must acknowledge an operation, and which other nodes to pick.

zactor counts as Cassandra counts, with the coordinator's own durable write included. The **replica set** of a
replicated store is every member that hosts it, live or dead, until it leaves gracefully or an operator removes it;
``N`` is its size (at least the store's ``replication_factor`` when one is set), ``L`` the number of its members in
the local data center and ``N_dc`` in data center ``dc``:

=============  ================================================================================================
level          acknowledgements required (the coordinator's own included)
=============  ================================================================================================
NONE           1: the local write only
ONE/TWO/THREE  1 / 2 / 3
QUORUM         ``N // 2 + 1``
LOCAL_QUORUM   ``L // 2 + 1``, all from the local data center
EACH_QUORUM    ``N_dc // 2 + 1`` in every data center
ALL            ``N``
=============  ================================================================================================

:func:`requirement` computes this, :meth:`Requirement.check_live` refuses at once (``NotEnoughNodes``) an operation
that too few live replicas could satisfy, and :class:`AckCounter` counts acknowledgements as they arrive.

This is a deliberate break from datacake-node, whose ``DCAwareSelector`` counts only the *other* nodes and computes
QUORUM over the *live* ones: there a node cut off from its peers, or a fresh node that knows no peer yet, acknowledges
QUORUM writes alone. :class:`DCAwareSelector` keeps datacake's spread of picks over data centers, with the counts
above (minus the local node).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import attrs

from zactor.errors import ActorError

if TYPE_CHECKING:
    import random

__all__ = [
    "Consistency",
    "NodeSelector",
    "DCAwareSelector",
    "NotEnoughNodes",
    "Requirement",
    "requirement",
    "needs_majority",
    "AckCounter",
]


class Consistency(enum.Enum):
    """How many nodes an operation must reach (see the module docstring)."""

    NONE = "none"
    ONE = "one"
    TWO = "two"
    THREE = "three"
    QUORUM = "quorum"
    LOCAL_QUORUM = "local_quorum"
    EACH_QUORUM = "each_quorum"
    ALL = "all"


class NotEnoughNodes(ActorError):
    """Too few live replicas for the consistency level; the operation was not attempted.

    Attributes:
        live: how many live replicas there are, this node included (in the data center that fell short, for the
            per-data-center levels).
        required: how many the level needs there.
        reason: why, when it is not simply the count (e.g. membership has not synced with a seed yet).
    """

    def __init__(self, live: int, required: int, reason: str = "") -> None:
        text = f"{required} live replicas required, {live} available"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.live = live
        self.required = required
        self.reason = reason


class NodeSelector(Protocol):
    """Chooses the other nodes an operation at a consistency level goes to."""

    def select(
        self, local_node: str, local_dc: str, others: Mapping[str, str], consistency: Consistency
    ) -> list[str]: ...


_FIXED = {Consistency.NONE: 1, Consistency.ONE: 1, Consistency.TWO: 2, Consistency.THREE: 3}
_MAJORITY_LEVELS = frozenset({Consistency.QUORUM, Consistency.LOCAL_QUORUM, Consistency.EACH_QUORUM, Consistency.ALL})


@attrs.frozen
class Requirement:
    """How many acknowledgements an operation needs (the coordinator's own included).

    Attributes:
        total: acknowledgements needed from any replicas.
        per_dc: ``{data_center: count}`` needed within given data centers (LOCAL_QUORUM, EACH_QUORUM).
    """

    total: int
    per_dc: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def needed(self) -> int:
        """The number of acknowledgements that satisfies it at the least."""
        return max(self.total, sum(self.per_dc.values()))

    def check_live(self, live: Mapping[str, str]) -> None:
        """Refuse at once when the live replicas (``{node_id: data_center}``, this node included) cannot satisfy it.

        Raises:
            NotEnoughNodes: fewer live replicas than required, overall or in one data center.
        """
        if len(live) < self.total:
            raise NotEnoughNodes(len(live), self.total)
        for dc, count in sorted(self.per_dc.items()):
            in_dc = sum(1 for d in live.values() if d == dc)
            if in_dc < count:
                raise NotEnoughNodes(in_dc, count, f"in data center {dc!r}")


def requirement(
    consistency: Consistency, replicas: Mapping[str, str], local_dc: str, replication_factor: int = 0
) -> Requirement:
    """The acknowledgements ``consistency`` requires over a replica set (see the module docstring).

    Args:
        consistency: the level.
        replicas: the replica set, live and dead, ``{node_id: data_center}``, this node included.
        local_dc: this node's data center.
        replication_factor: the smallest ``N`` to assume (0: the replica set's size).

    Returns:
        The :class:`Requirement`.
    """
    n = max(len(replicas), replication_factor)
    if consistency in _FIXED:
        return Requirement(_FIXED[consistency])
    if consistency is Consistency.QUORUM:
        return Requirement(n // 2 + 1)
    if consistency is Consistency.ALL:
        return Requirement(n)
    by_dc: dict[str, int] = {}
    for dc in replicas.values():
        by_dc[dc] = by_dc.get(dc, 0) + 1
    if consistency is Consistency.LOCAL_QUORUM:
        return Requirement(0, {local_dc: by_dc.get(local_dc, 0) // 2 + 1})
    return Requirement(0, {dc: count // 2 + 1 for dc, count in by_dc.items()})


def needs_majority(consistency: Consistency) -> bool:
    """True for the levels computed over the replica set's size (QUORUM, LOCAL_QUORUM, EACH_QUORUM, ALL)."""
    return consistency in _MAJORITY_LEVELS


class AckCounter:
    """Counts acknowledgements against a :class:`Requirement`.

    Args:
        required: what must be reached.
        data_centers: ``{node_id: data_center}`` of the replicas that may acknowledge.
    """

    __slots__ = ("required", "_dcs", "_acked", "_per_dc")

    def __init__(self, required: Requirement, data_centers: Mapping[str, str]) -> None:
        self.required = required
        self._dcs = data_centers
        self._acked: set[str] = set()
        self._per_dc: dict[str, int] = {}

    @property
    def acked(self) -> int:
        """How many distinct replicas acknowledged."""
        return len(self._acked)

    def add(self, node_id: str) -> bool:
        """Record ``node_id``'s acknowledgement (a repeat counts once); returns :attr:`is_satisfied`."""
        if node_id not in self._acked:
            self._acked.add(node_id)
            dc = self._dcs.get(node_id)
            if dc is not None:
                self._per_dc[dc] = self._per_dc.get(dc, 0) + 1
        return self.is_satisfied

    @property
    def is_satisfied(self) -> bool:
        """True once the total and every per-data-center count are reached."""
        if len(self._acked) < self.required.total:
            return False
        return all(self._per_dc.get(dc, 0) >= count for dc, count in self.required.per_dc.items())


class DCAwareSelector:
    """Data-center-aware node selection (datacake-node's ``DCAwareSelector``): which *other* live nodes to pick for
    a level, the local node counting as one (so ONE picks none, QUORUM over ``N`` live nodes picks ``N // 2``),
    other data centers first.

    Args:
        rng: shuffles the nodes within each data center; ``None`` keeps them sorted (deterministic).
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng

    def select(self, local_node: str, local_dc: str, others: Mapping[str, str], consistency: Consistency) -> list[str]:
        """Pick the other nodes for ``consistency``.

        Args:
            local_node: this node's id (never picked).
            local_dc: this node's data center.
            others: the other live nodes, ``{node_id: data_center}``.
            consistency: the level.

        Returns:
            The picked node ids, other data centers first.

        Raises:
            NotEnoughNodes: fewer live nodes than the level needs.
        """
        by_dc: dict[str, list[str]] = {}
        for node_id, dc in sorted(others.items()):
            if node_id != local_node:
                by_dc.setdefault(dc, []).append(node_id)
        if self._rng is not None:
            for nodes in by_dc.values():
                self._rng.shuffle(nodes)
        local = by_dc.pop(local_dc, [])
        total_others = len(local) + sum(len(nodes) for nodes in by_dc.values())
        if consistency in _FIXED:
            return _spread(by_dc, local, _require(total_others, _FIXED[consistency] - 1, counts_local=True))
        if consistency is Consistency.QUORUM:
            return _spread(by_dc, local, (total_others + 1) // 2)
        if consistency is Consistency.ALL:
            return _spread(by_dc, local, total_others)
        local_needed = _require(len(local), (len(local) + 1) // 2, counts_local=True)
        if consistency is Consistency.LOCAL_QUORUM:
            return local[:local_needed]
        picked: list[str] = []
        for dc in sorted(by_dc):
            nodes = by_dc[dc]
            picked += nodes[: _require(len(nodes), len(nodes) // 2 + 1)]
        return picked + local[:local_needed]


def _require(live: int, required: int, *, counts_local: bool = False) -> int:
    """``required`` other nodes, when ``live`` others are there (the error counts the local node when it takes part)."""
    if live < required:
        raise NotEnoughNodes(live + counts_local, required + counts_local)
    return required


def _spread(by_dc: dict[str, list[str]], local: list[str], count: int) -> list[str]:
    """Take ``count`` nodes round-robin over the other data centers, then from the local one."""
    picked: list[str] = []
    queues = [list(by_dc[dc]) for dc in sorted(by_dc)]
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    picked += local[: count - len(picked)]
    return picked
