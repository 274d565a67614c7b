"""The ``virtual`` extension: the kinds a node hosts, the elections that give it shards, and its activations.

A message for ``(kind, key)`` that reaches a node which leads the key's shard, with more than ``guard_s`` of lease
left, activates the key (a fresh instance from the kind's factory, registered as ``zactor.virtual/<kind>/<key>``) if
it is not active, then goes to its mailbox. Any other node answers :class:`~zactor.services.virtual.model.NotOwner`
with the leader it knows, and the caller retries there. Every ``guard_s / 2`` seconds the node deactivates what it may
no longer run (its lease ends within ``guard_s``, or a newer term leads the shard) and what has been idle for
``idle_s``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from zactor.actor import Actor, Context, handler
from zactor.services.election import Election, ElectionConfig
from zactor.services.membership.model import EventKind, MemberEvent
from zactor.services.replication.fenced import StaleTerm
from zactor.services.virtual.history import ActivationRecord
from zactor.services.virtual.model import (
    META_PREFIX,
    SINGLETON_KEY,
    SINGLETON_PREFIX,
    VIRTUAL_ACTOR,
    NotOwner,
    Redirect,
    VirtualAsk,
    VirtualTell,
    first_guess,
    group_of,
    instance_name,
    may_serve,
    must_stop,
    shard_of,
)

if TYPE_CHECKING:
    from zactor.node import Node
    from zactor.ref import ActorRef
    from zactor.services.membership.service import MembershipService

__all__ = ["Activation", "KindSpec", "VirtualActor", "VirtualActors"]

log = logging.getLogger("zactor.virtual")

_HISTORY_KEPT = 10_000


class VirtualActor(Actor):
    """Base class of a virtual actor: ``kind``, ``key`` and ``term`` (the fencing term of its shard's leader when it
    was activated) are set before it is activated; ``on_activate`` and ``on_deactivate`` run as it is activated and
    deactivated (after ``idle_s``, a move, or its node stopping)."""

    kind: str = ""
    key: str = ""
    term: int = 0

    async def on_activate(self, ctx: Context) -> None:
        """Called once before the instance takes its first message."""

    async def on_deactivate(self, ctx: Context) -> None:
        """Called once after the instance took its last message of this activation."""

    async def on_start(self, ctx: Context) -> None:
        await self.on_activate(ctx)

    async def on_stop(self, ctx: Context) -> None:
        await self.on_deactivate(ctx)


@attrs.define
class KindSpec:
    """A kind this node hosts: its factory, shard count and idle timeout (seconds); a singleton's one key is active
    whenever this node may run it, messages or not."""

    factory: Callable[[], Actor]
    shards: int
    idle_s: float
    singleton: bool = False


@attrs.define
class Activation:
    """One active instance: its registry name, shard, the shard term it was activated in, when it started and when it
    last took a message (monotonic seconds)."""

    name: str
    shard: int
    term: int
    started_s: float
    last_s: float
    handled: int = 0


class VirtualActors:
    """The ``virtual`` extension of a cluster node (see the module docstring).

    Args:
        membership: the node's membership (kinds are announced in its meta).
        election: the timing of the shard elections (lease, heartbeat); default ``ElectionConfig()``.
        guard_s: an activation stops when its shard's lease has less than this left, in seconds.
        state_dir: where the shard elections keep their term and vote (``election-virtual.<kind>.<shard>.json``);
            ``None``: in memory, so a restarted node may vote twice in a term (give it for durable actors).

    Attributes:
        stats: ``activations``, ``deactivations``, ``not_owner``, ``stale_term`` counts.
        owners: ``{(kind, shard): (node id, ref to its zactor.virtual)}``: the shard leaders this node's virtual refs
            last reached (an entry goes when its node is declared dead or leaves).
        history: the ended activations, ``(kind, key, node id, term, start, end)`` (monotonic seconds), for checks
            of single activation (:func:`~zactor.services.virtual.history.overlaps`); the latest 10,000.
    """

    name = "virtual"

    def __init__(
        self,
        membership: MembershipService,
        *,
        election: ElectionConfig | None = None,
        guard_s: float = 0.3,
        state_dir: str | Path | None = None,
    ) -> None:
        self._membership = membership
        self._election_config = election or ElectionConfig()
        if not 0 < guard_s < self._election_config.lease_s:
            raise ValueError(f"guard_s must be above 0 and below the lease ({self._election_config.lease_s} s)")
        self.guard_s = guard_s
        self.state_dir = state_dir
        self._node: Node | None = None
        self._kinds: dict[str, KindSpec] = {}
        self._elections: dict[tuple[str, int], Election] = {}
        self._active: dict[tuple[str, str], Activation] = {}
        self._activating: dict[tuple[str, str], asyncio.Future[Activation]] = {}
        self._guard: asyncio.Task[None] | None = None
        self.stats: dict[str, int] = {"activations": 0, "deactivations": 0, "not_owner": 0, "stale_term": 0}
        self.history: collections.deque[ActivationRecord] = collections.deque(maxlen=_HISTORY_KEPT)
        self.owners: dict[tuple[str, int], tuple[str, ActorRef]] = {}

    async def start(self, node: Node) -> VirtualActors:
        """Host ``zactor.virtual`` on ``node`` (its router; the guard starts with the first kind). Returns the
        extension."""
        self._node = node
        await node.add_actor(VIRTUAL_ACTOR, _VirtualRouter(self))
        self._membership.listeners.append(self._on_member_event)
        return self

    async def stop(self) -> None:
        """Deactivate every instance, then leave every shard election (in that order: a leader that resigns may be
        succeeded at once)."""
        node = self._node
        if node is None:
            return
        self._membership.listeners.remove(self._on_member_event)
        if self._guard is not None:
            self._guard.cancel()
            await asyncio.gather(self._guard, return_exceptions=True)
            self._guard = None
        for kind, key in list(self._active):
            await self._deactivate(kind, key)
        for election in self._elections.values():  # only now: a resigning leader's successor may start at once
            await election.stop()
        self._elections.clear()
        if VIRTUAL_ACTOR in node.actors():
            await node.remove_actor(VIRTUAL_ACTOR)
        self._node = None

    def _on_member_event(self, event: MemberEvent) -> None:
        if event.kind is not EventKind.JOINED:
            for shard in [shard for shard, (owner, _) in self.owners.items() if owner == event.node_id]:
                del self.owners[shard]

    def _started(self) -> Node:
        if self._node is None:
            raise RuntimeError("the virtual extension is not started")
        return self._node

    def _now_s(self) -> float:
        return self._started().time_source.monotonic_s()

    # ---------------------------------------------------------------------------------------------- kinds

    async def register_kind(
        self, kind: str, factory: Callable[[], Actor], *, shards: int = 8, idle_s: float = 60.0, group_size: int = 3
    ) -> None:
        """Host ``kind`` on this node: join its shards' elections and announce it.

        Raises:
            ValueError: an empty kind, a kind with ``/``, fewer than 1 shard, a non-positive ``idle_s``, or a kind
                already registered here.
            RuntimeError: the extension is not started.
        """
        node = self._started()
        if not kind or "/" in kind:
            raise ValueError(f"a kind is a non-empty name without '/', not {kind!r}")
        if shards < 1 or idle_s <= 0:
            raise ValueError(f"shards must be 1 or more and idle_s above 0, got {shards} and {idle_s}")
        if kind in self._kinds:
            raise ValueError(f"kind {kind!r} is registered on this node already")
        self._kinds[kind] = KindSpec(factory, shards, idle_s)
        if self._guard is None:  # a node that hosts no kind has nothing to guard
            self._guard = asyncio.create_task(self._run_guard(), name=f"zactor-virtual-{node.node_id}")
        for shard in range(shards):
            group = group_of(kind, shard)
            election = Election(group, group_size=group_size, config=self._election_config, state_dir=self.state_dir)
            self._elections[(kind, shard)] = await election.start(node)  # stopped by this extension, after its keys
        self._membership.set_meta(META_PREFIX + kind, str(shards))

    async def register_singleton(self, name: str, factory: Callable[[], Actor], *, group_size: int = 3) -> str:
        """Host the singleton ``name``: the kind ``singleton.<name>`` with one shard and one key
        (:data:`~zactor.services.virtual.model.SINGLETON_KEY`), active on the shard's leader as long as it leads,
        whether messages come or not. Returns the kind.

        Raises:
            ValueError: as :meth:`register_kind`.
        """
        kind = SINGLETON_PREFIX + name
        await self.register_kind(kind, factory, shards=1, idle_s=math.inf, group_size=group_size)
        self._kinds[kind].singleton = True
        return kind

    def kinds(self) -> dict[str, int]:
        """``{kind: shard count}`` of the kinds this node hosts."""
        return {kind: spec.shards for kind, spec in self._kinds.items()}

    def summary(self) -> dict[str, tuple[int, int, int]]:
        """``{kind: (shards this node leads, keys active here, keys being activated here)}`` for each hosted kind."""
        table: dict[str, tuple[int, int, int]] = {}
        for kind, spec in self._kinds.items():
            led = sum(self._may_serve(self._elections[(kind, shard)]) for shard in range(spec.shards))
            active = sum(k == kind for k, _ in self._active)
            activating = sum(k == kind for k, _ in self._activating)
            table[kind] = (led, active, activating)
        return table

    def records(self) -> list[ActivationRecord]:
        """The recorded activations and, ending now, the ones still active: what
        :func:`~zactor.services.virtual.history.overlaps` checks."""
        node, now = self._started(), self._now_s()
        running = [(k, key, node.node_id, a.term, a.started_s, now) for (k, key), a in self._active.items()]
        return [*self.history, *running]

    def active(self) -> list[tuple[str, str]]:
        """The ``(kind, key)`` pairs active on this node."""
        return list(self._active)

    # --------------------------------------------------------------------------------------------- serving

    def _may_serve(self, election: Election) -> bool:
        return may_serve(election.is_leader, election.lease_remaining_s, self.guard_s)

    def _lost(self, election: Election, activation: Activation) -> bool:
        """Whether this node may no longer run ``activation``: its shard's lease ends within ``guard_s``, or another
        term leads the shard now."""
        return must_stop(self._may_serve(election), election.term, activation.term)

    async def deliver(self, kind: str, key: str, msg: Any, *, ask: bool) -> Any:
        """Hand ``msg`` to the activation of ``key``, activating it first if needed; returns the reply of an ask.

        Raises:
            NotOwner: this node does not host ``kind``, or may not run ``key`` now (the caller retries at the
                shard's leader).
            Exception: whatever the instance's handler or activation raised.
        """
        node = self._started()
        spec = self._kinds.get(kind)
        if spec is None:  # not a host: point at the likeliest owner, as a ref on this node would
            hosts = self._membership.hosts_with_meta(META_PREFIX + kind)
            raise NotOwner(kind, key, first_guess(kind, key, hosts) if hosts else "")
        election = self._elections[(kind, shard_of(key, spec.shards))]
        if not self._may_serve(election):
            self.stats["not_owner"] += 1
            raise NotOwner(kind, key, election.leader or "")
        activation = self._active.get((kind, key))
        if activation is None:
            activation = await self._activation(kind, key, spec, election)
        activation.last_s = self._now_s()
        ref = node.ref(activation.name)
        if ask:
            return await ref.ask(msg)
        await ref.tell(msg)
        return None

    async def _activation(self, kind: str, key: str, spec: KindSpec, election: Election) -> Activation:
        """The activation of ``key``, made once however many messages wait for it (in their arrival order)."""
        pending = self._activating.get((kind, key))
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Activation] = asyncio.get_running_loop().create_future()
        self._activating[(kind, key)] = future
        try:
            actor = spec.factory()
            name = instance_name(kind, key)
            term = election.term
            if isinstance(actor, VirtualActor):
                actor.kind, actor.key, actor.term = kind, key, term
            node = self._started()
            try:
                await node.add_actor(name, actor)
            except StaleTerm:  # a newer owner claimed the key's state: this node's leadership is over
                self.stats["stale_term"] += 1
                raise NotOwner(kind, key, "") from None
            now = self._now_s()
            activation = Activation(name, shard_of(key, spec.shards), term, now, now)
            self._active[(kind, key)] = activation
            self.stats["activations"] += 1
            log.info("activation start %s %s %s %d %.6f", kind, key, node.node_id, term, now)
            future.set_result(activation)
            return activation
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters raise it themselves
            raise
        finally:
            del self._activating[(kind, key)]

    async def _deactivate(self, kind: str, key: str, *, at_once: bool = False) -> None:
        """End an activation: its running handler may finish (``at_once``: it is cancelled, as when the shard's lease
        is ending), then ``on_deactivate`` runs; the activation's interval is recorded in ``history``."""
        activation = self._active.pop((kind, key), None)
        node = self._node
        if activation is None or node is None:
            return
        self.stats["deactivations"] += 1
        if activation.name in node.actors():
            await node.remove_actor(activation.name, timeout_s=min(self.guard_s / 4, 0.05) if at_once else None)
        record = (kind, key, node.node_id, activation.term, activation.started_s, self._now_s())
        self.history.append(record)
        log.info("activation end %s %s %s %d %.6f %.6f", *record)

    async def _run_guard(self) -> None:
        """Deactivate what this node may no longer run, and what is idle (every ``guard_s / 2`` seconds)."""
        while True:
            await asyncio.sleep(self.guard_s / 2)
            now = self._now_s()
            for (kind, key), activation in list(self._active.items()):
                election = self._elections[(kind, activation.shard)]
                mailbox = self._started().registry.get(activation.name)
                if mailbox is not None and mailbox.stats.asks + mailbox.stats.tells != activation.handled:
                    activation.handled = mailbox.stats.asks + mailbox.stats.tells  # asked directly: not idle
                    activation.last_s = now
                if self._lost(election, activation):
                    await self._deactivate(kind, key, at_once=True)
                elif now - activation.last_s > self._kinds[kind].idle_s:
                    await self._deactivate(kind, key)
            for kind, spec in list(self._kinds.items()):
                if spec.singleton:
                    await self._keep_singleton(kind, spec)

    async def _keep_singleton(self, kind: str, spec: KindSpec) -> None:
        """Activate a singleton this node may run and does not (its failure is logged; the next round tries again)."""
        slot = (kind, SINGLETON_KEY)
        election = self._elections[(kind, 0)]
        if slot in self._active or slot in self._activating or not self._may_serve(election):
            return
        try:
            await self._activation(kind, SINGLETON_KEY, spec, election)
        except Exception:
            log.exception("singleton %r failed to activate", kind)


class _VirtualRouter(Actor):
    """The ``zactor.virtual`` actor: hands each message to its activation (the wire side of :class:`VirtualActors`)."""

    max_concurrency = 256

    def __init__(self, host: VirtualActors) -> None:
        self.host = host

    @handler
    async def on_ask(self, msg: VirtualAsk, ctx: Context) -> Any:
        try:
            return await self.host.deliver(msg.kind, msg.key, msg.msg, ask=True)
        except NotOwner as exc:
            return Redirect(leader=exc.leader)

    @handler
    async def on_tell(self, msg: VirtualTell, ctx: Context) -> Redirect | None:
        try:
            await self.host.deliver(msg.kind, msg.key, msg.msg, ask=False)
        except NotOwner as exc:
            return Redirect(leader=exc.leader)
        return None
