"""The selector shell: node selection over the node's live membership."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zactor.services.membership.service import MembershipService
from zactor.services.selector.policy import Consistency, DCAwareSelector, NodeSelector

if TYPE_CHECKING:
    from zactor import Node

__all__ = ["SelectorService"]


class SelectorService:
    """The selector extension: :meth:`select` picks, by the node selector policy, the other live nodes an operation
    goes to. The node must run the :class:`~zactor.services.membership.service.MembershipService` first.

    Args:
        selector: the policy (default: :class:`~zactor.services.selector.policy.DCAwareSelector`).
    """

    name = "selector"

    def __init__(self, selector: NodeSelector | None = None) -> None:
        self.selector = selector or DCAwareSelector()
        self._node: Node | None = None
        self._membership: MembershipService | None = None

    async def start(self, node: Node) -> SelectorService:
        """Attach to ``node``. Returns the service.

        Raises:
            LookupError: the node runs no membership service.
        """
        self._membership = node.extension(MembershipService)
        self._node = node
        return self

    async def stop(self) -> None:
        """Detach from the node."""
        self._node = self._membership = None

    def select(self, consistency: Consistency, *, hosting: str | None = None) -> list[str]:
        """The other live nodes an operation at ``consistency`` goes to (only those hosting the actor ``hosting``
        when given).

        Raises:
            NotEnoughNodes: too few live nodes.
            RuntimeError: the service is not started.
        """
        node, membership = self._node, self._membership
        if node is None or membership is None:
            raise RuntimeError("selector service is not started")
        others = {
            m.node_id: m.data_center
            for m in membership.members()
            if m.node_id != node.node_id and (hosting is None or hosting in m.actors)
        }
        return self.selector.select(node.node_id, node.config.data_center, others, consistency)
