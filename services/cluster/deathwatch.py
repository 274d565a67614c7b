"""Death watch across nodes: a watch on another member's actor, told when the actor terminates or its node dies.

After Erlang's monitors of remote processes and Akka's remote death watch. Each cluster node hosts the system actor
``zactor.deathwatch``; a watch on a remote actor is one subscription per (watching node, actor), however many local
watches share it:

- the watching node asks the hosting node's ``zactor.deathwatch`` to ``Subscribe(actor)``; the host answers
  ``Subscribed(alive)`` (``alive=False``: the actor is gone already, and the watches fire ``not_found`` at once) and
  keeps a local watch on the actor;
- when the actor terminates, the host tells the watching node's ``zactor.deathwatch`` the ``Terminated``;
- when the last local watch is cancelled, the watching node tells the host ``Unsubscribe(actor)``;
- when membership declares a node dead or gone (DEAD, LEFT), the watches on its actors fire ``node_dead`` or
  ``node_left`` on the watching side, and its subscriptions are dropped on the hosting side.

Every message is behind :meth:`~zactor.actor.Context.require_member`, and a ``Terminated`` is taken only from the node
it names.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from zactor.actor import Actor, Context, handler
from zactor.deathwatch import Terminated, TerminationReason, Unwatch, Watchers
from zactor.errors import ActorError
from zactor.ref import ActorRef
from zactor.services.membership.model import EventKind, MemberEvent
from zactor.transport.codec import Returns, message

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from zactor.node import Node
    from zactor.services.membership.service import MembershipService

__all__ = ["DEATHWATCH_ACTOR", "RemoteDeathWatch", "Subscribe", "Subscribed", "Unsubscribe"]

log = logging.getLogger("zactor.deathwatch")

DEATHWATCH_ACTOR = "zactor.deathwatch"

#: Seconds between tries of a subscription whose ask failed while its node is still a live member.
_RETRY_S = 0.5

_GONE = {EventKind.DEAD: TerminationReason.NODE_DEAD, EventKind.LEFT: TerminationReason.NODE_LEFT}


@message("zactor.deathwatch.Subscribe")
class Subscribe(Returns["Subscribed"]):
    """Tell the sender when the actor ``actor`` of this node terminates."""

    actor: str


@message("zactor.deathwatch.Subscribed")
class Subscribed:
    """``alive``: the actor is hosted and the subscription holds; ``False``: it is gone already."""

    alive: bool


@message("zactor.deathwatch.Unsubscribe")
class Unsubscribe:
    """The sender no longer watches ``actor``."""

    actor: str


class RemoteDeathWatch:
    """The cluster extension ``deathwatch``: watches on actors of other members (see the module docstring).

    ``ClusterNode.watch``/``watch_with`` and ``ctx.watch`` use it for a ref to another node's actor.


    Args:
        membership: the node's membership service (its members, and its DEAD/LEFT events).
    """

    name = "deathwatch"

    def __init__(self, membership: MembershipService) -> None:
        self._membership = membership
        self._node: Node | None = None
        # watching side: (host node id, actor) -> the local watches sharing one subscription
        self._watching: dict[tuple[str, str], Watchers] = {}
        # hosting side: (watching node id, actor) -> the local watch that tells it
        self._subscribers: dict[tuple[str, str], Unwatch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, node: Node) -> RemoteDeathWatch:
        """Host ``zactor.deathwatch`` on ``node`` and follow its membership events. Returns the extension."""
        self._node = node
        await node.add_actor(DEATHWATCH_ACTOR, _DeathWatchActor(self))
        self._membership.listeners.append(self._on_member_event)
        return self

    async def stop(self) -> None:
        """Drop every subscription, both ways, without firing a watch."""
        node, self._node = self._node, None
        if node is None:
            return
        self._membership.listeners.remove(self._on_member_event)
        for task in self._tasks:
            task.cancel()
        for unwatch in self._subscribers.values():
            unwatch()
        self._subscribers.clear()
        self._watching.clear()
        if DEATHWATCH_ACTOR in node.actors():
            await node.remove_actor(DEATHWATCH_ACTOR)

    def _started(self) -> Node:
        if self._node is None:
            raise RuntimeError("the deathwatch extension is not started")
        return self._node

    # -------------------------------------------------------------------------------------------- watching

    def watch(self, ref: ActorRef, callback: Callable[[Terminated], None]) -> Unwatch:
        """Call ``callback(terminated)`` once when the remote actor of ``ref`` terminates, or its node is declared
        dead or leaves; at once (``node_dead``) when no live member is bound at ``ref.address``. Returns what cancels
        the watch.

        Raises:
            RuntimeError: the extension is not started.
        """
        self._started()
        host = self._membership.node_at(ref.address or "")
        if host is None:
            gone = Watchers()
            gone.fire(Terminated(name=ref.name, node_id=ref.address or "", reason=TerminationReason.NODE_DEAD))
            return gone.add(callback)
        key = (host, ref.name)
        watchers = self._watching.get(key)
        if watchers is None:
            watchers = self._watching[key] = Watchers()
            self._spawn(self._subscribe(key, watchers))
        cancel = watchers.add(callback)

        def unwatch() -> None:
            cancel()
            if not watchers and self._watching.get(key) is watchers:
                del self._watching[key]
                self._spawn(self._tell(host, Unsubscribe(actor=key[1])))

        return unwatch

    async def _subscribe(self, key: tuple[str, str], watchers: Watchers) -> None:
        """Ask the host to subscribe; retried while the host is a live member (its death fires the watches)."""
        node = self._started()
        host, actor = key
        while self._watching.get(key) is watchers:
            try:
                ref = node.ref(DEATHWATCH_ACTOR, address=self._membership.address_of(host))
                reply = await ref.ask(Subscribe(actor=actor))
            except ActorError as exc:
                log.debug("subscribing to %r on %s failed: %s", actor, host, exc)
                await asyncio.sleep(_RETRY_S)
                continue
            if not reply.alive:
                self._fire(key, Terminated(name=actor, node_id=host, reason=TerminationReason.NOT_FOUND))
            return

    def _fire(self, key: tuple[str, str], terminated: Terminated) -> None:
        watchers = self._watching.pop(key, None)
        if watchers is not None:
            watchers.fire(terminated)

    def on_terminated(self, sender: str | None, terminated: Terminated) -> None:
        """A host's notice that an actor this node watches terminated; taken only from the node it names."""
        if sender != terminated.node_id:
            log.warning("a Terminated for %r of %r sent by %r dropped", terminated.name, terminated.node_id, sender)
            return
        self._fire((terminated.node_id, terminated.name), terminated)

    # --------------------------------------------------------------------------------------------- hosting

    def subscribe(self, watcher: str, actor: str) -> bool:
        """Tell ``watcher`` (a node id) when ``actor`` terminates; ``False`` when no such actor is hosted."""
        node = self._started()
        if node.registry.get(actor) is None:
            return False
        key = (watcher, actor)
        if key not in self._subscribers:

            def tell(terminated: Terminated) -> None:
                if self._subscribers.pop(key, None) is not None:
                    self._spawn(self._tell(watcher, terminated))

            self._subscribers[key] = node.registry.watch(actor, tell)
        return True

    def unsubscribe(self, watcher: str, actor: str) -> None:
        """Drop ``watcher``'s subscription to ``actor`` (nothing happens when there is none)."""
        unwatch = self._subscribers.pop((watcher, actor), None)
        if unwatch is not None:
            unwatch()

    async def _tell(self, node_id: str, msg: object) -> None:
        node = self._started()
        try:
            await node.ref(DEATHWATCH_ACTOR, address=self._membership.address_of(node_id)).tell(msg)
        except ActorError as exc:
            log.debug("%s to %s not sent: %s", type(msg).__name__, node_id, exc)

    # ------------------------------------------------------------------------------------------ membership

    def _on_member_event(self, event: MemberEvent) -> None:
        reason = _GONE.get(event.kind)
        if reason is None:
            return
        for key in [k for k in self._watching if k[0] == event.node_id]:
            self._fire(key, Terminated(name=key[1], node_id=event.node_id, reason=reason))
        for watcher, actor in [k for k in self._subscribers if k[0] == event.node_id]:
            self.unsubscribe(watcher, actor)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _DeathWatchActor(Actor):
    """The ``zactor.deathwatch`` system actor: the wire side of :class:`RemoteDeathWatch`."""

    def __init__(self, service: RemoteDeathWatch) -> None:
        self.service = service

    @handler
    async def on_subscribe(self, msg: Subscribe, ctx: Context) -> Subscribed:
        ctx.require_member()
        watcher = ctx.sender.node_id
        if watcher is None:
            return Subscribed(alive=False)
        return Subscribed(alive=self.service.subscribe(watcher, msg.actor))

    @handler
    async def on_unsubscribe(self, msg: Unsubscribe, ctx: Context) -> None:
        ctx.require_member()
        if ctx.sender.node_id is not None:
            self.service.unsubscribe(ctx.sender.node_id, msg.actor)

    @handler
    async def on_terminated(self, msg: Terminated, ctx: Context) -> None:
        ctx.require_member()
        self.service.on_terminated(ctx.sender.node_id, msg)
