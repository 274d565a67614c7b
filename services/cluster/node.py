"""``ClusterNode``: a :class:`~zactor.node.Node` composed with the default cluster services, as typed handles."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Self

from zactor.config import NodeConfig
from zactor.deathwatch import Terminated, Unwatch
from zactor.extensions import Extension
from zactor.node import Node
from zactor.ref import ActorRef
from zactor.services.clock.service import ClockService
from zactor.services.cluster.deathwatch import RemoteDeathWatch
from zactor.services.cluster.observer import OBSERVER_ACTOR, ObserverActor
from zactor.services.membership.service import MembershipService
from zactor.services.selector.service import SelectorService
from zactor.timesource import TimeSource
from zactor.transport.base import Transport

__all__ = ["ClusterNode"]


class ClusterNode(Node):
    """A node that runs the cluster services: ``clock`` (HLC stamps on every envelope), ``membership`` (gossip and
    failure detection), ``selector`` (consistency levels) and ``deathwatch`` (watches on other members' actors),
    started in that order before ``extensions``.

    Use as ``async with ClusterNode(NodeConfig(...)) as node:``.

    Args:
        config: the node's configuration (seeds, cluster id, data center, gossip interval, ...).
        transport: as for :class:`~zactor.node.Node`.
        clock: the clock service (default: ``ClockService()``).
        membership: the membership service (default: ``MembershipService()``, timed from ``config``).
        selector: the selector service (default: ``SelectorService()``).
        extensions: more extensions to start after the services, in order (e.g. a ``ReplicatedStore``).
        time_source: as for :class:`~zactor.node.Node`.
        rng: as for :class:`~zactor.node.Node`.

    Attributes:
        clock: the :class:`~zactor.services.clock.service.ClockService`: ``node.clock.now()``.
        membership: the :class:`~zactor.services.membership.service.MembershipService`:
            ``node.membership.members()``, ``lookup``, ``wait_for_members``, ``watch``.
        selector: the :class:`~zactor.services.selector.service.SelectorService`: ``node.selector.select(level)``.
        deathwatch: the :class:`~zactor.services.cluster.deathwatch.RemoteDeathWatch` behind ``watch`` of a remote
            ref.
    """

    def __init__(
        self,
        config: NodeConfig | None = None,
        *,
        transport: Transport | None = None,
        clock: ClockService | None = None,
        membership: MembershipService | None = None,
        selector: SelectorService | None = None,
        extensions: Sequence[Extension[Any]] = (),
        time_source: TimeSource | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock or ClockService()
        self.membership = membership or MembershipService()
        self.selector = selector or SelectorService()
        self.deathwatch = RemoteDeathWatch(self.membership)
        services: list[Extension[Any]] = [self.clock, self.membership, self.selector, self.deathwatch]
        super().__init__(
            config, transport=transport, extensions=[*services, *extensions], time_source=time_source, rng=rng
        )

    async def start(self) -> Self:
        """Start the node and its services, and host the ``zactor.observer`` actor (its load, for ``zactor top``).

        Raises:
            as :meth:`zactor.node.Node.start`, and whatever a service's start raised.
        """
        await super().start()
        await self.add_actor(OBSERVER_ACTOR, ObserverActor())
        return self

    def watch_remote(self, ref: ActorRef, callback: Callable[[Terminated], None]) -> Unwatch:
        """Watch an actor of another member: ``callback`` gets one ``Terminated`` when it terminates, or when its node
        is declared dead (``node_dead``) or leaves (``node_left``); see :mod:`zactor.services.cluster.deathwatch`."""
        return self.deathwatch.watch(ref, callback)

    @property
    def envelope_cluster_id(self) -> str | None:
        return self.config.cluster_id

    def ref(self, name: str, *, address: str | None = None, node_id: str | None = None) -> ActorRef:
        """A reference to the actor ``name``: on this node by default, at ``address``, or on the live member
        ``node_id`` (this node's own address or id gives a local reference).

        Raises:
            NodeUnavailable: ``node_id`` is not a live member.
        """
        if node_id is not None and node_id != self.node_id:
            address = self.membership.address_of(node_id)
        return super().ref(name, address=address)

    def ref_any(self, name: str) -> ActorRef:
        """A reference to an actor named ``name`` anywhere in the cluster: here if hosted here, else on a random
        live member that hosts it (from gossip).

        Raises:
            ActorNotFound: no live member hosts it.
        """
        return self.ref(name, node_id=self.membership.pick_host(name))
