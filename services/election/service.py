"""The election extension: one group's :class:`~zactor.services.election.core.GroupElection` on a node.

``election = await node.add_extension(Election(group="db-0", group_size=3))`` joins the group; a node may join
several. One ``zactor.election`` actor per node carries every group's messages (tells, each naming its group; the
envelope names the sender). Voters are given, or derived from membership: the members that host the group
(membership meta ``election.<group>``) ranked by rendezvous hash, the first ``group_size`` of them; a member that is
down still counts, so a group that lost its majority elects no one. The term and vote are written to ``state_dir`` (when
given) before any message that depends on them leaves the node.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import math
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zactor.errors import ActorError
from zactor.services.election.actor import ELECTION_ACTOR, ElectionActor, NoLeader
from zactor.services.election.core import GroupElection, Outgoing
from zactor.services.election.messages import GroupStatus
from zactor.services.election.model import ElectionConfig, LeaderChange, rank
from zactor.services.election.voters import Voters
from zactor.services.membership.model import MemberStatus
from zactor.services.membership.service import MembershipService
from zactor.watch import Watch

if TYPE_CHECKING:
    from zactor.node import Node

__all__ = ["ELECTION_ACTOR", "Election", "NoLeader", "META_PREFIX"]

_State = tuple[int, "str | None", "Voters | None"]
"""``(term, voted_for, configuration)``: what is kept in ``state_dir``."""

log = logging.getLogger("zactor.election")

META_PREFIX = "election."
"""Membership meta key prefix: a member with ``election.<group>`` hosts that group."""

_routers: weakref.WeakKeyDictionary[Node, ElectionActor] = weakref.WeakKeyDictionary()


class Election:
    """Membership of one election group; an extension (``name`` is ``election:<group>``).

    Args:
        group: the group's name.
        voters: the voters' node ids; default: derived from membership (see the module docstring).
        group_size: how many voters to derive (ignored with ``voters``).
        config: timing (lease, heartbeat, drift bound); see :class:`ElectionConfig`.
        state_dir: where to keep the durable term and vote (``election-<group>.json``); default: in memory, so a
            restarted node votes in no election for ``config.lease_s`` seconds but may vote twice in one term.

    Raises:
        ValueError: an empty group name or a ``group_size`` below 1.

    Its properties and methods raise ``RuntimeError`` before :meth:`start` and after :meth:`stop`.
    """

    def __init__(
        self,
        group: str,
        *,
        voters: Sequence[str] | None = None,
        group_size: int = 3,
        config: ElectionConfig | None = None,
        state_dir: str | Path | None = None,
    ) -> None:
        if not group:
            raise ValueError("a group needs a name")
        if group_size < 1:
            raise ValueError(f"group_size must be 1 or more, got {group_size}")
        self.group = group
        self._given_voters = tuple(voters) if voters is not None else None
        self.group_size = group_size
        self.config = config or ElectionConfig()
        self._state_path = Path(state_dir) / f"election-{group}.json" if state_dir is not None else None
        self._node: Node | None = None
        self._membership: MembershipService | None = None
        self._core: GroupElection | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._watchers: list[asyncio.Queue[LeaderChange]] = []
        self._changed = asyncio.Event()
        self._sends: set[asyncio.Task[None]] = set()
        self._held: collections.deque[tuple[_State | None, list[Outgoing]]] = collections.deque()
        self._storing: asyncio.Future[None] | None = None

    @property
    def name(self) -> str:
        return f"election:{self.group}"

    # ------------------------------------------------------------------------------------------------ lifecycle

    async def start(self, node: Node) -> Election:
        """Join the group on ``node`` (which must run membership). Returns this election.

        Raises:
            LookupError: the node runs no membership service.
            ValueError: the stored term and vote in ``state_dir`` are unreadable.
        """
        membership = node.extension(MembershipService)
        router = _routers.get(node)
        if router is None:
            router = _routers[node] = ElectionActor()
            await node.add_actor(ELECTION_ACTOR, router)
        self._node, self._membership = node, membership
        term, voted_for, configuration = self._load()
        now = node.time_source.monotonic_s()
        self._core = GroupElection(
            self.group,
            node.node_id,
            self._given_voters or (),
            self.config,
            node.rng,
            now,
            term=term,
            voted_for=voted_for,
            configuration=configuration,
            derived=self._given_voters is None,
        )
        membership.set_meta(META_PREFIX + self.group, "1")
        self._refresh_voters(now)
        router.groups[self.group] = self
        self._task = asyncio.create_task(self._run(), name=f"zactor-election-{self.group}")
        return self

    async def stop(self) -> None:
        """Resign if leading, then leave the group on this node."""
        node = self._node
        if node is None:
            return
        if self.is_leader:
            await self.resign()
        for task in (self._task, self._storing):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._held.clear()
        if self._sends:
            await asyncio.wait(self._sends, timeout=self.config.heartbeat_s)
        router = _routers.get(node)
        if router is not None:
            router.groups.pop(self.group, None)
            if not router.groups:
                del _routers[node]
                if ELECTION_ACTOR in node.actors():
                    await node.remove_actor(ELECTION_ACTOR)
        self._node = None

    # ------------------------------------------------------------------------------------------------ API

    @property
    def leader(self) -> str | None:
        """The node id of the leader this node knows, or ``None``."""
        return self._parts()[0].leader

    @property
    def term(self) -> int:
        """The current term: the leader's fencing token (strictly larger at every leadership change)."""
        return self._parts()[0].term

    @property
    def is_leader(self) -> bool:
        """Whether this node leads now with a valid lease."""
        core, now = self._parts()
        return core.is_leader(now)

    @property
    def lease_remaining_s(self) -> float:
        """Seconds of lease left when leading, else 0."""
        core, now = self._parts()
        return core.lease_remaining(now)

    @property
    def voters(self) -> tuple[str, ...]:
        """The group's voters."""
        return self._parts()[0].voters

    @property
    def backup(self) -> str | None:
        """The backup leader: the voter next in line (it stands first when the leader fails)."""
        order = self._parts()[0].succession()
        return order[0] if order else None

    @property
    def is_active(self) -> bool:
        """Whether the group has a leader (cluster-mode's Active state; Inactive until enough voters are found)."""
        return self.leader is not None

    def primaries(self) -> set[str]:
        """The leader, as a set (empty while none is known)."""
        leader = self.leader
        return {leader} if leader is not None else set()

    def secondaries(self) -> set[str]:
        """The group's voters other than the leader."""
        return set(self.voters) - self.primaries()

    async def wait_for_leader(self, timeout_s: float = 10.0) -> str:
        """Wait until a leader is known (when it is this node: until it holds its lease); returns its node id.

        Raises:
            NoLeader: none within ``timeout_s`` seconds; the message says whether the group lost its majority.
        """
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    leader = self.leader
                    if leader is not None and (leader != self._parts()[0].node_id or self.is_leader):
                        return leader
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise NoLeader(self.group, timeout_s, self._live_voters(), len(self.voters)) from None

    def watch(self) -> Watch[LeaderChange]:
        """Leader changes from now on (from this call, not from the first iteration), as this node learns them;
        ``leader`` is ``None`` while none is known. ``close()`` the watch when done."""
        return Watch(self._watchers)

    def follows(self, node_id: str) -> bool:
        """As leader: whether the voter ``node_id`` acked this term's heartbeats within the last two heartbeat
        intervals (see :meth:`GroupElection.follows`)."""
        core, now = self._parts()
        return core.follows(node_id, now)

    async def resign(self, successor: str | None = None) -> None:
        """Give up leadership now (no-op unless leading); another voter may be elected at once, the voter
        ``successor`` standing first when given."""
        core, now = self._parts()
        self._send(core.resign(now, successor))
        self._after()

    def status(self) -> GroupStatus:
        """``(leader or "", term, lease age in seconds (-1: none), voters)``; see :meth:`GroupElection.lease_age`."""
        core, now = self._parts()
        age = core.lease_age(now)
        return (core.leader or "", core.term, -1.0 if age is None else round(age, 3), list(core.voters))

    # ------------------------------------------------------------------------------------------------ shell

    def receive(self, sender: str, msg: Any) -> None:
        """Take one message from the member ``sender`` (called by the node's election actor, with the envelope's
        sender)."""
        core, now = self._parts()
        if self._given_voters is None and sender not in core.voters:
            self._refresh_voters(now)
        self._send(core.receive(sender, msg, now))
        self._after()
        self._wake.set()

    async def _run(self) -> None:
        core = self._parts()[0]
        refreshed_at = -math.inf
        while True:
            now = self._parts()[1]
            if now - refreshed_at >= self.config.heartbeat_s:  # a member's meta has no event: look now and again
                self._refresh_voters(now)
                refreshed_at = now
            self._send(core.tick(now))
            self._after()
            delay = max(0.001, min(core.next_wakeup() - self._parts()[1], self.config.heartbeat_s))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _parts(self) -> tuple[GroupElection, float]:
        if self._core is None or self._node is None:
            raise RuntimeError(f"election group {self.group!r} is not started")
        return self._core, self._node.time_source.monotonic_s()

    def _refresh_voters(self, now: float) -> None:
        core = self._parts()[0]
        membership = self._membership
        if membership is None:
            return
        hosts = [
            m.node_id
            for m in membership.members(include_down=True)
            if m.status is not MemberStatus.LEFT and META_PREFIX + self.group in m.meta
        ]
        if self._given_voters is not None:
            voters = list(self._given_voters)
        else:
            voters = sorted(hosts, key=lambda n: rank(self.group, n), reverse=True)[: self.group_size]
        if tuple(sorted(voters)) != core.desired or set(hosts) - set(voters) != set(core.observers):
            core.set_voters(voters, now, observers=hosts)

    def _live_voters(self) -> int:
        membership = self._membership
        live = {m.node_id for m in membership.members()} if membership is not None else set()
        return sum(1 for v in self.voters if v in live)

    def _send(self, out: list[Outgoing]) -> None:
        """Send what the core produced, once the term and vote it depends on are durable: a changed state is
        written off the event loop, and this output, like any output after it, waits in order until it is."""
        core = self._parts()[0]
        state = None
        if core.durable:
            core.durable = False
            if self._state_path is not None:
                state = (core.term, core.voted_for, core.configuration)
        if state is None and not self._held:
            self._tell_all(out)
            return
        self._held.append((state, out))
        if self._storing is None or self._storing.done():
            self._storing = asyncio.ensure_future(self._store_held())

    async def _store_held(self) -> None:
        """Write the newest held state (it supersedes the older ones: terms only grow, and a vote is cast once per
        term), then release the outputs held up to it, in order; repeat while more is held."""
        held = self._held
        loop = asyncio.get_running_loop()
        while held:
            release = len(held)
            for i in range(len(held) - 1, -1, -1):
                state = held[i][0]
                if state is not None and self._state_path is not None:
                    await loop.run_in_executor(None, _write_state, self._state_path, *state)
                    release = i + 1
                    break
            for _ in range(release):
                self._tell_all(held.popleft()[1])

    def _tell_all(self, out: list[Outgoing]) -> None:
        node, membership = self._node, self._membership
        if node is None or membership is None:
            return
        for target, msg in out:
            try:
                address = membership.address_of(target)
            except ActorError:
                continue  # not live: the message would be lost anyway
            task = asyncio.ensure_future(self._tell(node, address, msg))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    @staticmethod
    async def _tell(node: Node, address: str, msg: Any) -> None:
        try:
            await node.ref(ELECTION_ACTOR, address=address).tell(msg)
        except ActorError as exc:
            log.debug("election message to %s not sent: %s", address, exc)

    def _after(self) -> None:
        changes = self._parts()[0].take_changes()
        for change in changes:
            log.info("group %r: leader %s in term %d", change.group, change.leader, change.term)
            for queue in self._watchers:
                queue.put_nowait(change)
        if changes or self.is_leader:  # a new leader, or a new leader's lease
            self._changed.set()

    def _load(self) -> _State:
        """The durable term, vote and voter configuration (a file from before configurations: none)."""
        path = self._state_path
        if path is None or not path.exists():
            return 0, None, None
        try:
            data = json.loads(path.read_text())
            term, voted_for = data["term"], data["voted_for"]
            configuration = Voters.from_wire(data["voters"]) if "voters" in data else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable election state {path}: {exc}") from None
        if type(term) is not int or (voted_for is not None and type(voted_for) is not str):
            raise ValueError(f"unreadable election state {path}: bad term or vote")
        return term, voted_for, configuration


def _write_state(path: Path, term: int, voted_for: str | None, configuration: Voters | None) -> None:
    """Make ``{"term": term, "voted_for": voted_for, "voters": [term, seq, [voter, ...]]}`` the content of
    ``path``, durably: written to a scratch file, fsynced, renamed over ``path``, and the directory fsynced so that
    the rename itself survives a power loss."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state: dict[str, Any] = {"term": term, "voted_for": voted_for}
    if configuration is not None:
        state["voters"] = configuration.to_wire()
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
