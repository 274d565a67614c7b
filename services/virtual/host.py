"""The ``virtual`` extension: the kinds a node hosts, the elections that give it shards, and its activations.

A message for ``(kind, key)`` that reaches a node which leads the key's shard, with more than ``guard_s`` of lease
left, activates the key (a fresh instance from the kind's factory, registered as ``zactor.virtual/<kind>/<key>``) if
it is not active, then goes to its mailbox. Any other node answers :class:`~zactor.services.virtual.model.NotOwner`
with the leader it knows, and the caller retries there. Every ``guard_s / 2`` seconds the node deactivates what it may
no longer run (its lease ends within ``guard_s``, or a newer term leads the shard) and what has been idle for
``idle_s``.

Shards spread over a kind's hosts by rendezvous rank: a node that leads a shard whose preferred leader
(:func:`~zactor.services.virtual.model.preferred_leader`) is another live voter, a member for ``balance_after_s``
that acks its heartbeats, hands the shard off to it, one shard at a time: it stops taking messages for the shard
(callers are pointed at the successor), lets the shard's activations finish their running handlers and deactivate,
and only then resigns its leadership, naming the successor, which activates the keys as their messages come (as
Akka's rebalance hands a shard off after its entities stopped).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zactor.actor import Actor
from zactor.services.election import Election, ElectionConfig
from zactor.services.membership.model import EventKind, MemberEvent
from zactor.services.replication.fenced import StaleTerm
from zactor.services.virtual.history import ActivationRecord
from zactor.services.virtual.instance import Activation, KindSpec, VirtualActor
from zactor.services.virtual.model import (
    META_PREFIX,
    SINGLETON_KEY,
    SINGLETON_PREFIX,
    VIRTUAL_ACTOR,
    NotOwner,
    first_guess,
    group_of,
    instance_name,
    may_serve,
    must_stop,
    preferred_leader,
    shard_of,
)
from zactor.services.virtual.router import VirtualRouter

if TYPE_CHECKING:
    from zactor.node import Node
    from zactor.ref import ActorRef
    from zactor.services.membership.service import MembershipService

__all__ = ["Activation", "KindSpec", "VirtualActor", "VirtualActors"]

log = logging.getLogger("zactor.virtual")

_HISTORY_KEPT = 10_000


class VirtualActors:
    """The ``virtual`` extension of a cluster node (see the module docstring).

    Args:
        membership: the node's membership (kinds are announced in its meta).
        election: the timing of the shard elections (lease, heartbeat); default ``ElectionConfig()``.
        guard_s: an activation stops when its shard's lease has less than this left, in seconds.
        balance_after_s: a shard moves to its preferred leader once that node has been a live member this long, in
            seconds (``None``: shards stay where they are led).
        state_dir: where the shard elections keep their term and vote (``election-virtual.<kind>.<shard>.json``);
            ``None``: in memory, so a restarted node may vote twice in a term (give it for durable actors).

    Attributes:
        stats: ``activations``, ``deactivations``, ``not_owner``, ``stale_term``, ``handoffs`` counts.
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
        balance_after_s: float | None = 5.0,
        state_dir: str | Path | None = None,
    ) -> None:
        self._membership = membership
        self._election_config = election or ElectionConfig()
        if not 0 < guard_s < self._election_config.lease_s:
            raise ValueError(f"guard_s must be above 0 and below the lease ({self._election_config.lease_s} s)")
        self.guard_s = guard_s
        self.state_dir = state_dir
        self.balance_after_s = balance_after_s
        self._live_since: dict[str, float] = {}
        self._handing_off: dict[tuple[str, int], str] = {}
        self._handoff: asyncio.Task[None] | None = None
        self._node: Node | None = None
        self._kinds: dict[str, KindSpec] = {}
        self._elections: dict[tuple[str, int], Election] = {}
        self._active: dict[tuple[str, str], Activation] = {}
        self._activating: dict[tuple[str, str], asyncio.Future[Activation]] = {}
        self._guard: asyncio.Task[None] | None = None
        self.stats = dict.fromkeys(("activations", "deactivations", "not_owner", "stale_term", "handoffs"), 0)
        self.history: collections.deque[ActivationRecord] = collections.deque(maxlen=_HISTORY_KEPT)
        self.owners: dict[tuple[str, int], tuple[str, ActorRef]] = {}

    async def start(self, node: Node) -> VirtualActors:
        """Host ``zactor.virtual`` on ``node`` (its router; the guard starts with the first kind). Returns the
        extension."""
        self._node = node
        await node.add_actor(VIRTUAL_ACTOR, VirtualRouter(self))
        now = self._now_s()
        self._live_since = {member.node_id: now for member in self._membership.members()}
        self._membership.listeners.append(self._on_member_event)
        return self

    async def stop(self) -> None:
        """Deactivate every instance, then leave every shard election (in that order: a leader that resigns may be
        succeeded at once)."""
        node = self._node
        if node is None:
            return
        self._membership.listeners.remove(self._on_member_event)
        for task in (self._guard, self._handoff):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._guard = self._handoff = None
        for kind, key in list(self._active):
            await self._deactivate(kind, key)
        for election in self._elections.values():  # only now: a resigning leader's successor may start at once
            await election.stop()
        self._elections.clear()
        if VIRTUAL_ACTOR in node.actors():
            await node.remove_actor(VIRTUAL_ACTOR)
        self._node = None

    def _on_member_event(self, event: MemberEvent) -> None:
        if event.kind is EventKind.JOINED:
            self._live_since[event.node_id] = self._now_s()
        else:
            self._live_since.pop(event.node_id, None)
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

    def leaders(self, kind: str) -> list[str | None]:
        """The leader of each shard of ``kind`` as this node knows it (``None``: none known), by shard.

        Raises:
            KeyError: this node does not host ``kind``.
        """
        return [self._elections[(kind, shard)].leader for shard in range(self._kinds[kind].shards)]

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
        shard = shard_of(key, spec.shards)
        election = self._elections[(kind, shard)]
        successor = self._handing_off.get((kind, shard))
        if successor is not None or not self._may_serve(election):
            self.stats["not_owner"] += 1
            raise NotOwner(kind, key, successor or election.leader or "")
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
            if self.balance_after_s is not None and self._handoff is None:
                self._start_handoff(now, self.balance_after_s)

    def _start_handoff(self, now: float, settle_s: float) -> None:
        """Start handing off the first shard this node leads whose preferred leader is another node, a live member
        for ``settle_s`` seconds that follows this leader's heartbeats (one shard at a time)."""
        node_id = self._started().node_id
        for (kind, shard), election in self._elections.items():
            if not self._may_serve(election):
                continue
            live = [v for v in election.voters if v == node_id or v in self._live_since]
            target = preferred_leader(group_of(kind, shard), live)
            if (
                target is not None
                and target != node_id
                and now - self._live_since[target] >= settle_s
                and election.follows(target)
            ):
                self._handoff = asyncio.create_task(self._hand_off(kind, shard, target))
                return

    async def _hand_off(self, kind: str, shard: int, successor: str) -> None:
        """Stop taking messages for the shard, let its activations finish and deactivate, then resign the shard's
        leadership to ``successor``."""
        slot = (kind, shard)
        self._handing_off[slot] = successor
        try:
            pending = [f for (k, key), f in self._activating.items() if k == kind and self._shard(k, key) == shard]
            await asyncio.gather(*(asyncio.shield(f) for f in pending), return_exceptions=True)
            for (k, key), activation in list(self._active.items()):
                if k == kind and activation.shard == shard:
                    await self._deactivate(k, key)
            election = self._elections[slot]
            if election.is_leader:
                self.stats["handoffs"] += 1
                log.info("shard %s of %r handed off to %s in term %d", shard, kind, successor, election.term)
                await election.resign(successor)
        finally:
            del self._handing_off[slot]
            self._handoff = None

    def _shard(self, kind: str, key: str) -> int:
        return shard_of(key, self._kinds[kind].shards)

    async def _keep_singleton(self, kind: str, spec: KindSpec) -> None:
        """Activate a singleton this node may run and does not (its failure is logged; the next round tries again)."""
        slot = (kind, SINGLETON_KEY)
        election = self._elections[(kind, 0)]
        if slot in self._active or slot in self._activating or (kind, 0) in self._handing_off:
            return
        if not self._may_serve(election):
            return
        try:
            await self._activation(kind, SINGLETON_KEY, spec, election)
        except Exception:
            log.exception("singleton %r failed to activate", kind)
