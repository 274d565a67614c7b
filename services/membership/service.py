"""The membership extension: runs the gossip core on a node over the node's own envelopes.

Every ``gossip_interval_s`` the core picks peers; for each, the shell asks the peer's ``zactor.membership`` actor
with the ``Syn``, merges the ``SynAck`` and tells the ``Ack`` back. A peer in another cluster answers with an ERROR
(``ClusterMismatch``). When the core declares a node DEAD or LEFT, the node's pending asks to it fail at once with
``ActorTerminated`` (reason ``node_dead`` or ``node_left``), its DEALER is closed, and the ``listeners`` are called
(remote death watch is one). The registry's actor names are gossiped so :meth:`lookup` works
cluster-wide. Stopping the service announces a graceful leave first.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from zactor import Actor, Context, handler
from zactor.deathwatch import TerminationReason
from zactor.directory import MEMBERSHIP_ACTOR, UNLISTED_PREFIX
from zactor.errors import (
    ActorError,
    ActorNotFound,
    ActorTerminated,
    ClusterMismatch,
    DuplicateNodeId,
    HandshakeFailed,
    NodeUnavailable,
)
from zactor.services.membership.discovery import SeedResolver
from zactor.services.membership.gossip import (
    KEY_ACTORS,
    META_PREFIX,
    EventKind,
    Member,
    MemberEvent,
    Membership,
    MembershipConfig,
)
from zactor.services.membership.messages import Ack, GetMembers, MemberRows, Syn, SynAck
from zactor.timesource import SystemTime, TimeSource
from zactor.transport.ratelog import RateLimitedLogger
from zactor.watch import Watch

if TYPE_CHECKING:
    from zactor import Node

__all__ = ["MembershipService", "MemberWatch", "MEMBERSHIP_ACTOR"]

_SEED_WARNING_ROUNDS = 10  # a node whose seeds never answered says so after this many gossip rounds

log = logging.getLogger("zactor.membership")

_MEMBERS_TTL_S = 0.05


MemberWatch = Watch[MemberEvent]
"""An async iterator of :class:`MemberEvent`; events are queued from its creation until ``close()``."""


class _GossipActor(Actor):
    mailbox_size = 1000

    def __init__(self, service: MembershipService) -> None:
        self._service = service

    @handler
    async def on_syn(self, msg: Syn, ctx: Context) -> SynAck:
        ctx.require_member()
        return self._service.core.handle_syn(msg, self._service.now_s())

    @handler
    async def on_get_members(self, msg: GetMembers, ctx: Context) -> MemberRows:
        rows = [
            (m.node_id, m.address, m.data_center, m.status.value, round(m.phi, 2), list(m.actors), m.heartbeat)
            for m in self._service.members(include_down=msg.include_down)
        ]
        return MemberRows(node_id=ctx.node_id, rows=rows, hlc=ctx.node.envelope_stamp())

    @handler
    async def on_ack(self, msg: Ack, ctx: Context) -> None:
        ctx.require_member()
        self._service.core.handle_ack(msg, self._service.now_s())
        self._service.dispatch_events()


class MembershipService:
    """Gossip membership for one node (see the module docstring).

    Args:
        config: gossip settings (interval, fan-out, detector thresholds); default:
            ``MembershipConfig.for_interval(node.config.gossip_interval_s)``.
        rng: randomness for peer choice and gossip jitter (default: seeded from ``node.rng`` at start).

    Time comes from ``node.time_source``: its monotonic clock feeds the failure detector, its wall clock the node's
    generation.

    Attributes:
        stats: counters (``gossip_failures``, ``cluster_mismatch``, ...); the core's are in ``core.stats``.
        listeners: functions called with each ``MemberEvent`` as it is dispatched, on the loop (they must not block).
    """

    name = "membership"

    def __init__(
        self,
        config: MembershipConfig | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self.config = config or MembershipConfig()
        self._given_rng = rng
        self._rng = rng or random.Random()
        self._time: TimeSource = SystemTime()
        self._node: Node | None = None
        self._core: Membership | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._seed_task: asyncio.Task[None] | None = None
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._watchers: list[asyncio.Queue[MemberEvent]] = []
        self.listeners: list[Callable[[MemberEvent], None]] = []
        self._changed = asyncio.Event()
        self._live_cache: tuple[float, list[Member]] | None = None
        self._is_synced = False
        self.stats: collections.Counter[str] = collections.Counter()
        self._refusal_log = RateLimitedLogger(log, per_second=1)

    @property
    def core(self) -> Membership:
        """The sans-I/O membership state.

        Raises:
            RuntimeError: the service is not started.
        """
        if self._core is None:
            raise RuntimeError("membership service is not started")
        return self._core

    async def start(self, node: Node) -> MembershipService:
        """Join the cluster through ``node.config.seeds`` and start gossiping. Returns the service.

        Raises:
            ValueError: a malformed seed entry (see :mod:`zactor.services.membership.discovery`).
            ClusterMismatch: a seed belongs to another cluster.
            HandshakeFailed: a seed refused this node's key, or one of them encrypts and the other does not.
            DuplicateNodeId: a seed knows a live member with this node's id at another address, and a process
                answers there with that id (a crashed earlier incarnation that no longer answers is replaced).
        """
        config = node.config
        self.config = self._config or MembershipConfig.for_interval(config.gossip_interval_s)
        resolver = SeedResolver(config.seeds)
        self._node = node
        self._rng = self._given_rng or random.Random(node.rng.getrandbits(64))
        self._time = node.time_source
        self._core = Membership(
            node.node_id,
            node.time_source.wall_ms(),
            node.address,
            config.data_center,
            await resolver.resolve(),
            self.config,
            rng=self._rng,
        )
        self._is_synced = not self._core.seeds
        await self._check_seeds(node)
        await node.add_actor(MEMBERSHIP_ACTOR, _GossipActor(self))
        node.registry.listeners.append(self._publish_actors)
        self._publish_actors()
        self._loop_task = asyncio.create_task(self._gossip_loop(), name=f"zactor-gossip-{node.node_id}")
        if resolver.is_dynamic:
            self._seed_task = asyncio.create_task(self._refresh_seeds(resolver), name=f"zactor-seeds-{node.node_id}")
        return self

    async def stop(self) -> None:
        """Announce a graceful leave (bounded by one gossip timeout), then stop gossiping."""
        node, core = self._node, self._core
        if node is None or core is None:
            return
        for task in (self._loop_task, self._seed_task):
            if task is not None:
                task.cancel()
        farewells = [asyncio.create_task(self._exchange(address, syn)) for address, syn in core.leave()]
        if farewells:
            await asyncio.wait(farewells, timeout=self._ask_timeout_s())
        for task in [*farewells, *self._in_flight.values()]:
            task.cancel()
        node.registry.listeners.remove(self._publish_actors)
        if MEMBERSHIP_ACTOR in node.actors():
            await node.remove_actor(MEMBERSHIP_ACTOR)
        self._node = None

    async def _check_seeds(self, node: Node) -> None:
        """Stop at the first seed that answers: refuse to start when it is of another cluster or refuses this
        node's key; ask it who holds this node's id and probe any other address it names."""
        timeout_s = self._ask_timeout_s()
        for seed in self.core.seeds:
            ref = node.ref(MEMBERSHIP_ACTOR, address=seed)
            try:
                await ref.ask(Syn(digest=[]), timeout_s=timeout_s)  # another cluster refuses the envelope
                table = await ref.ask(GetMembers(include_down=False), timeout_s=timeout_s)
            except ClusterMismatch:
                raise ClusterMismatch(node.config.cluster_id, "", peer=f"seed {seed}") from None
            except HandshakeFailed:
                raise
            except (ActorError, OSError) as exc:
                log.debug("seed %s did not answer the start checks: %s", seed, exc)
                continue
            for row in table.rows:  # its shape was checked at decode
                if row[0] == node.node_id and row[1] != node.address:
                    await self._probe_holder(node, row[1], timeout_s)
            return

    @staticmethod
    async def _probe_holder(node: Node, address: str, timeout_s: float) -> None:
        try:
            answer = await node.ref(MEMBERSHIP_ACTOR, address=address).ask(
                GetMembers(include_down=False), timeout_s=timeout_s
            )
        except (ActorError, OSError):
            node.forget(address)
            return  # an earlier incarnation that is gone: this start replaces it
        if answer.node_id == node.node_id:
            raise DuplicateNodeId(node.node_id, address)

    # --------------------------------------------------------------------------------------------- queries

    def now_s(self) -> float:
        """The node's monotonic time in seconds (``node.time_source``), as the failure detector sees it."""
        return self._time.monotonic_s()

    def members(self, *, include_down: bool = False) -> list[Member]:
        """This node and its live peers (every known peer with ``include_down``), sorted by node id.

        The live list is cached for up to ``_MEMBERS_TTL_S`` seconds (node selection asks for it on every replicated
        write); a membership event or a change of this node's own keys drops the cache at once.
        """
        if include_down:
            return self.core.members(self.now_s(), include_down=True)
        now = self.now_s()
        if self._live_cache is None or now - self._live_cache[0] > _MEMBERS_TTL_S:
            self._live_cache = (now, self.core.members(now))
        return list(self._live_cache[1])

    @property
    def is_synced(self) -> bool:
        """True once a gossip round with a seed has completed (at once for a node started without seeds): until
        then this node may know only itself, and must not take itself for the whole cluster."""
        return self._is_synced

    def lookup(self, actor: str) -> list[str]:
        """Ids of the live nodes hosting an actor named ``actor`` (from gossip; this node included)."""
        return [m.node_id for m in self.members() if actor in m.actors]

    def address_of(self, node_id: str) -> str:
        """The endpoint of the live member ``node_id``.

        Raises:
            NodeUnavailable: no live member has that id.
        """
        for member in self.members():
            if member.node_id == node_id:
                return member.address
        raise NodeUnavailable(node_id, "not a live member")

    def hosts_with_meta(self, key: str) -> dict[str, str]:
        """``{node_id: value}`` of the live members (this node included) that gossip the meta ``key``."""
        return {m.node_id: m.meta[key] for m in self.members() if key in m.meta}

    def node_at(self, address: str) -> str | None:
        """The id of the live member bound at ``address``, or ``None``."""
        for member in self.members():
            if member.address == address:
                return member.node_id
        return None

    def pick_host(self, actor: str) -> str:
        """The id of a live node hosting ``actor``: this node when it does, else a random one (from gossip).

        Raises:
            ActorNotFound: no live member hosts it.
            RuntimeError: the service is not started.
        """
        hosts = self.lookup(actor)
        if not hosts:
            raise ActorNotFound(actor, "")
        if self.core.node_id in hosts:
            return self.core.node_id
        return self._rng.choice(hosts)

    def set_meta(self, key: str, value: str) -> None:
        """Gossip a user key-value of this node (``Member.meta``)."""
        self.core.set(META_PREFIX + key, value)
        self._live_cache = None

    async def wait_for_members(self, count: int, timeout_s: float = 10.0) -> list[Member]:
        """Wait until at least ``count`` live members (this node included) are known.

        Raises:
            TimeoutError: fewer than ``count`` after ``timeout_s`` seconds.
        """
        async with asyncio.timeout(timeout_s):
            while len(members := self.members()) < count:
                self._changed.clear()
                await self._changed.wait()
        return members

    def watch(self) -> MemberWatch:
        """Membership events (JOINED, DEAD, LEFT) from now on, as an async iterator; ``close()`` it when done."""
        return Watch(self._watchers)

    # ------------------------------------------------------------------------------------------- gossiping

    def _ask_timeout_s(self) -> float:
        return 2 * self.config.gossip_interval_s + 0.5

    def _publish_actors(self) -> None:
        if self._node is not None and self._core is not None:
            self._core.set(KEY_ACTORS, [a for a in self._node.actors() if not a.startswith(UNLISTED_PREFIX)])
            self._live_cache = None

    async def _refresh_seeds(self, resolver: SeedResolver) -> None:
        """Re-resolve the ``dns:`` and ``file:`` seed entries every ``seed_refresh_s`` seconds."""
        while True:
            await asyncio.sleep(self.config.seed_refresh_s)
            before = self.core.seeds
            self.core.set_seeds(await resolver.resolve())
            if self.core.seeds != before:
                log.info("seeds now %s", list(self.core.seeds))

    async def _gossip_loop(self) -> None:
        interval = self.config.gossip_interval_s
        for round_number in itertools.count(1):
            await asyncio.sleep(interval * (0.9 + 0.2 * self._rng.random()))
            if round_number == _SEED_WARNING_ROUNDS and not self._is_synced:
                log.warning(
                    "no seed has answered after %d gossip rounds: %s (running? reachable? the same cluster id and"
                    " keyring?)",
                    round_number,
                    ", ".join(self.core.seeds),
                )
            for address, syn in self.core.tick(self.now_s()):
                if address not in self._in_flight:
                    task = asyncio.create_task(self._exchange(address, syn))
                    self._in_flight[address] = task
                    task.add_done_callback(functools.partial(self._exchange_done, address))
            self.dispatch_events()

    def _exchange_done(self, address: str, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(address, None)

    async def _exchange(self, address: str, syn: Syn) -> None:
        node = self._node
        if node is None:
            return
        ref = node.ref(MEMBERSHIP_ACTOR, address=address)
        try:
            synack = await ref.ask(syn, timeout_s=self._ask_timeout_s())
            ack = self.core.handle_synack(synack, self.now_s())
            await ref.tell(ack)
            if address in self.core.seeds and not self._is_synced:
                self._is_synced = True
                log.info("membership synced with seed %s", address)
        except ClusterMismatch as exc:
            self.stats["cluster_mismatch"] += 1
            self._refusal_log.warning("gossip with %s refused: %s", address, exc)
        except (ActorError, OSError) as exc:
            self.stats["gossip_failures"] += 1
            log.debug("gossip with %s failed: %s", address, exc)
        self.dispatch_events()

    def dispatch_events(self) -> None:
        """Act on the core's membership events: fail asks to dead nodes, wake watchers and waiters."""
        events = self.core.take_events()
        if not events:
            return
        self._live_cache = None
        for event in events:
            if event.kind is not EventKind.JOINED and self._node is not None and event.address:
                self._node.forget(event.address, functools.partial(_terminated, event))
            for listener in list(self.listeners):
                try:
                    listener(event)
                except Exception:
                    log.exception("membership listener failed on %s", event)
            for queue in self._watchers:
                queue.put_nowait(event)
        self._changed.set()


def _terminated(event: MemberEvent, actor: str) -> ActorTerminated:
    """What an ask to ``actor`` on the node of ``event`` (DEAD or LEFT) fails with."""
    reason = TerminationReason.NODE_LEFT if event.kind is EventKind.LEFT else TerminationReason.NODE_DEAD
    return ActorTerminated(actor, event.node_id, reason.value)
