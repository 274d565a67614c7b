"""``ClusterNode``: a :class:`~zactor.node.Node` composed with the default cluster services, as typed handles."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Self

from zactor.actor import Actor
from zactor.config import NodeConfig
from zactor.deathwatch import Terminated, Unwatch
from zactor.extensions import Extension
from zactor.node import Node
from zactor.ref import ActorRef
from zactor.services.clock.service import ClockService
from zactor.services.cluster.admin import ADMIN_ACTOR, AddActor, RemoveActor
from zactor.services.cluster.deathwatch import RemoteDeathWatch
from zactor.services.cluster.observer import OBSERVER_ACTOR, ObserverActor
from zactor.services.cluster.spawn import Placement, admin_request, choose_host
from zactor.services.membership.service import MembershipService
from zactor.services.selector.service import SelectorService
from zactor.services.virtual import VirtualActors, VirtualRef
from zactor.services.virtual.model import SINGLETON_KEY, SINGLETON_PREFIX
from zactor.supervision import Restart, RestartPolicy, as_policy
from zactor.timesource import TimeSource
from zactor.transport.base import Transport

__all__ = ["ClusterNode"]


class ClusterNode(Node):
    """A node that runs the cluster services: ``clock`` (HLC stamps on every envelope), ``membership`` (gossip and
    failure detection), ``selector`` (consistency levels), ``deathwatch`` (watches on other members' actors) and
    ``virtual`` (virtual actors and singletons), started in that order before ``extensions``.

    Use as ``async with ClusterNode(NodeConfig(...)) as node:``.

    Args:
        config: the node's configuration (seeds, cluster id, data center, gossip interval, ...).
        transport: as for :class:`~zactor.node.Node`.
        clock: the clock service (default: ``ClockService()``).
        membership: the membership service (default: ``MembershipService()``, timed from ``config``).
        selector: the selector service (default: ``SelectorService()``).
        virtual_actors: the virtual actors' extension (default: ``VirtualActors(membership)``).
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
        virtual_actors: the :class:`~zactor.services.virtual.VirtualActors` behind ``register_kind``.
    """

    def __init__(
        self,
        config: NodeConfig | None = None,
        *,
        transport: Transport | None = None,
        clock: ClockService | None = None,
        membership: MembershipService | None = None,
        selector: SelectorService | None = None,
        virtual_actors: VirtualActors | None = None,
        extensions: Sequence[Extension[Any]] = (),
        time_source: TimeSource | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock or ClockService()
        self.membership = membership or MembershipService()
        self.selector = selector or SelectorService()
        self.deathwatch = RemoteDeathWatch(self.membership)
        self.virtual_actors = virtual_actors or VirtualActors(self.membership)
        services: list[Extension[Any]] = [
            self.clock,
            self.membership,
            self.selector,
            self.deathwatch,
            self.virtual_actors,
        ]
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

    async def spawn(
        self,
        name: str,
        spec: str,
        *,
        on: Placement = "any",
        restart: RestartPolicy | Restart | None = None,
        timeout_s: float | None = None,
    ) -> ActorRef:
        """Add an actor on a cluster member, through that member's admin actor (``zactor node --admin``), and return
        a reference to it.

        Args:
            name: the name to register it under.
            spec: ``"package.module:Class"``, importable on the target node, built with no arguments there.
            on: a node id, ``"any"`` (a random live member with an admin actor), or a function given those members
                (``list[Member]``) returning one's id.
            restart: its supervision on the target node (as :meth:`zactor.node.Node.add_actor`); the class is the
                factory of every restart.
            timeout_s: the deadline of the request in seconds (default: the node's ``default_timeout_s``).

        Raises:
            SpawnRefused: no such member, no admin actor there, a module outside its ``--admin-allow`` prefixes, a
                ``zactor.`` name, a spec that does not load or build, or ``name`` in use there.
            ValueError: an invalid restart policy.
            RequestTimeout, ActorTerminated: the node did not answer in time, or died meanwhile.
        """
        policy = as_policy(restart)
        hosts = [m for m in self.membership.members() if ADMIN_ACTOR in m.actors]
        target = choose_host(name, on, hosts, self.rng)
        msg = AddActor(name=name, spec=spec, restart=policy)
        await admin_request(self, target.node_id, target.address, name, msg, timeout_s)
        return self.ref(name, address=target.address)

    async def stop_actor(self, ref: ActorRef, *, timeout_s: float | None = None) -> None:
        """Remove the actor of ``ref``: from its node through that node's admin actor, or from this node directly.
        Its watchers get ``Terminated(reason="removed")``.

        Raises:
            SpawnRefused: the node has no admin actor, or refuses (a ``zactor.`` name).
            ActorNotFound: the node hosts no actor of that name.
            RequestTimeout, ActorTerminated: the node did not answer in time, or died meanwhile.
        """
        if ref.address is None:
            await self.remove_actor(ref.name)
            return
        host = self.membership.node_at(ref.address) or ref.address
        await admin_request(self, host, ref.address, ref.name, RemoveActor(name=ref.name), timeout_s)

    async def register_kind(
        self, kind: str, factory: Callable[[], Actor], *, shards: int = 8, idle_s: float = 60.0, group_size: int = 3
    ) -> None:
        """Host virtual actors of ``kind`` on this node: each key's instance is built by ``factory`` on the node that
        leads the key's shard (an election group of ``group_size`` of the kind's hosts), when its first message
        arrives, and deactivated after ``idle_s`` seconds without one. Every host of a kind must give it the same
        ``shards``.

        Raises:
            ValueError: a malformed kind, ``shards`` below 1, ``idle_s`` not above 0, or a kind registered already.
        """
        await self.virtual_actors.register_kind(kind, factory, shards=shards, idle_s=idle_s, group_size=group_size)

    async def singleton(self, name: str, factory: Callable[[], Actor], *, group_size: int = 3) -> VirtualRef:
        """Host the cluster singleton ``name`` on this node (every node that may run it calls this): one instance,
        active on the leader of its election group while it leads (with the same at-most-one guarantee as virtual
        actors), moved to the next leader when it changes. Returns a reference to it; other nodes use
        :meth:`singleton_ref`.

        Raises:
            ValueError: a malformed name, or a singleton of that name hosted here already.
        """
        kind = await self.virtual_actors.register_singleton(name, factory, group_size=group_size)
        return VirtualRef(self, kind, SINGLETON_KEY)

    def singleton_ref(self, name: str) -> VirtualRef:
        """A reference to the cluster singleton ``name``, wherever it runs."""
        return VirtualRef(self, SINGLETON_PREFIX + name, SINGLETON_KEY)

    def virtual(self, kind: str, key: str) -> VirtualRef:
        """A reference to the instance ``key`` of ``kind``, wherever it is (or will be) active: ``await
        node.virtual("counter", "user-42").ask(Incr(by=1))``."""
        return VirtualRef(self, kind, key)

    def ref_any(self, name: str) -> ActorRef:
        """A reference to an actor named ``name`` anywhere in the cluster: here if hosted here, else on a random
        live member that hosts it (from gossip).

        Raises:
            ActorNotFound: no live member hosts it.
        """
        return self.ref(name, node_id=self.membership.pick_host(name))
