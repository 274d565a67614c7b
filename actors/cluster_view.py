"""What a node knows of its cluster: members, where actors live, node selection.

These :class:`~zactor.node.Node` methods delegate to the cluster services installed as extensions (``membership``,
``selector``) by name, so ``actors/`` needs no import of ``services/``; without the service they raise
``RuntimeError`` naming it.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from zactor.errors import ActorNotFound, NodeUnavailable

__all__ = ["ClusterView"]


class ClusterView:
    """Mixin of :class:`~zactor.node.Node`: the cluster-wide queries."""

    if TYPE_CHECKING:

        @property
        def node_id(self) -> str: ...

        def extension(self, name: str) -> Any: ...

    def _service(self, name: str) -> Any:
        try:
            return self.extension(name)
        except KeyError:
            raise RuntimeError(f"no {name} service on this node") from None

    def members(self, *, include_down: bool = False) -> list[Any]:
        """Live members (this node included), sorted by node id; every known one with ``include_down``.

        Returns:
            ``zactor.services.membership.model.Member`` records (node id, address, data center, status,
            actors, phi, ...).
        """
        return self._service("membership").members(include_down=include_down)  # type: ignore[no-any-return]

    def lookup(self, actor: str) -> list[str]:
        """Ids of the live nodes that host an actor named ``actor`` (gossiped; this node included)."""
        return self._service("membership").lookup(actor)  # type: ignore[no-any-return]

    def set_meta(self, key: str, value: str) -> None:
        """Gossip a user key-value of this node; others see it in ``Member.meta``."""
        self._service("membership").set_meta(key, value)

    async def wait_for_members(self, count: int, timeout_s: float = 10.0) -> list[Any]:
        """Wait until ``count`` live members (this node included) are known; returns them.

        Raises:
            TimeoutError: fewer after ``timeout_s`` seconds.
        """
        return await self._service("membership").wait_for_members(count, timeout_s)  # type: ignore[no-any-return]

    def watch_members(self) -> AsyncIterator[Any]:
        """An async iterator of membership events (``MemberEvent``: JOINED, DEAD, LEFT) from now on."""
        return self._service("membership").watch()  # type: ignore[no-any-return]

    def address_of(self, node_id: str) -> str:
        """The endpoint of the live member ``node_id``.

        Raises:
            NodeUnavailable: no live member has that id.
        """
        for member in self.members():
            if member.node_id == node_id:
                return member.address  # type: ignore[no-any-return]
        raise NodeUnavailable(node_id, "not a live member")

    def _pick_host(self, actor: str, rng: random.Random | None = None) -> str | None:
        """A node id hosting ``actor``: this node when it does, else a random live one; ``None`` for this node."""
        hosts = self.lookup(actor)
        if not hosts:
            raise ActorNotFound(actor, "")
        if self.node_id in hosts:
            return None
        return (rng or random).choice(hosts)

    def select(self, consistency: Any, *, hosting: str | None = None) -> list[str]:
        """The other live nodes an operation at ``consistency`` goes to, chosen by the node selector; with
        ``hosting``, only among the nodes that host an actor of that name (e.g. the replication actor).

        Raises:
            NotEnoughNodes: too few live nodes for the level.
        """
        return self._service("selector").select(consistency, hosting=hosting)  # type: ignore[no-any-return]
