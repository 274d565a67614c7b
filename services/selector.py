"""Consistency levels and node selection: which other live nodes a replicated operation must reach.

Levels follow Cassandra's; counts follow datacake-node's ``DCAwareSelector`` and count *other* nodes (the local node
always takes part, so QUORUM over N live nodes needs ``N // 2`` others: with the local node that is a majority).

=============  ======================================================================================
level          other nodes selected
=============  ======================================================================================
NONE           none
ONE/TWO/THREE  1 / 2 / 3
QUORUM         ``N // 2`` of the ``N`` live nodes (local included)
LOCAL_QUORUM   ``L // 2`` of the ``L`` live nodes of the local data center, all from it
EACH_QUORUM    ``L // 2`` from the local data center and a majority (``n // 2 + 1``) of every other one
ALL            every other live node
=============  ======================================================================================

:class:`DCAwareSelector` never picks the local node and spreads picks over the *other* data centers first (one node
per data center in turn), so a write survives the loss of a whole data center; it is pure (no I/O), with an
injectable ``random.Random`` to vary which nodes of a data center are picked.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from actors.errors import ActorError

if TYPE_CHECKING:
    from actors import Node

__all__ = ["Consistency", "NodeSelector", "DCAwareSelector", "NotEnoughNodes", "SelectorService"]


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
    """Too few live nodes for the consistency level.

    Attributes:
        live: how many other live nodes there are (in the data center that fell short, for the per-DC levels).
        required: how many the level needs there.
    """

    def __init__(self, live: int, required: int) -> None:
        super().__init__(f"{required} other live nodes required, {live} available")
        self.live = live
        self.required = required


class NodeSelector(Protocol):
    """Chooses the other nodes an operation at a consistency level goes to."""

    def select(
        self, local_node: str, local_dc: str, others: Mapping[str, str], consistency: Consistency
    ) -> list[str]: ...


_FIXED = {Consistency.NONE: 0, Consistency.ONE: 1, Consistency.TWO: 2, Consistency.THREE: 3}


class DCAwareSelector:
    """Data-center-aware node selection (datacake-node's ``DCAwareSelector``).

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
            return _spread(by_dc, local, _require(total_others, _FIXED[consistency]))
        if consistency is Consistency.QUORUM:
            return _spread(by_dc, local, (total_others + 1) // 2)
        if consistency is Consistency.ALL:
            return _spread(by_dc, local, total_others)
        local_needed = _require(len(local), (len(local) + 1) // 2)
        if consistency is Consistency.LOCAL_QUORUM:
            return local[:local_needed]
        picked: list[str] = []
        for dc in sorted(by_dc):
            nodes = by_dc[dc]
            picked += nodes[: _require(len(nodes), len(nodes) // 2 + 1)]
        return picked + local[:local_needed]


def _require(live: int, required: int) -> int:
    if live < required:
        raise NotEnoughNodes(live, required)
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


class SelectorService:
    """The selector extension: ``node.select(consistency)`` over the node's live membership.

    Args:
        selector: the policy (default: :class:`DCAwareSelector`).
    """

    name = "selector"

    def __init__(self, selector: NodeSelector | None = None) -> None:
        self.selector = selector or DCAwareSelector()
        self._node: Node | None = None

    async def start(self, node: Node) -> SelectorService:
        """Attach to ``node`` (which must run the membership service for :meth:`select` to work)."""
        self._node = node
        return self

    async def stop(self) -> None:
        """Detach from the node."""
        self._node = None

    def select(self, consistency: Consistency, *, hosting: str | None = None) -> list[str]:
        """The other live nodes an operation at ``consistency`` goes to (only those hosting the actor ``hosting``
        when given).

        Raises:
            NotEnoughNodes: too few live nodes.
            RuntimeError: the service is not started, or the node has no membership service.
        """
        node = self._node
        if node is None:
            raise RuntimeError("selector service is not started")
        others = {
            m.node_id: m.data_center
            for m in node.members()
            if m.node_id != node.node_id and (hosting is None or hosting in m.actors)
        }
        return self.selector.select(node.node_id, node.config.data_center, others, consistency)
