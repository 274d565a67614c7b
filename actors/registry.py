"""The registry of actors hosted by one node; actors are added and removed while the node runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from zactor.actor import Actor, Context
from zactor.errors import ActorExists, ActorNotFound
from zactor.mailbox import Mailbox

if TYPE_CHECKING:
    from zactor.node import Node

__all__ = ["Registry"]

log = logging.getLogger("zactor.registry")


class Registry:
    """Name -> mailbox for one node. Not global: every :class:`~zactor.node.Node` owns one.

    Args:
        node: the owning node (handed to actors in their :class:`Context`).
        mailbox_size: the default mailbox bound, in messages.
        stop_timeout_s: how long removal waits for running handlers, in seconds.
    """

    def __init__(self, node: Node, mailbox_size: int, stop_timeout_s: float) -> None:
        self._node = node
        self._mailbox_size = mailbox_size
        self._stop_timeout_s = stop_timeout_s
        self._mailboxes: dict[str, Mailbox] = {}
        self._reserved: set[str] = set()
        self.listeners: list[Callable[[], None]] = []

    def get(self, name: str) -> Mailbox | None:
        """The mailbox of the actor named ``name``, or ``None`` when there is none."""
        return self._mailboxes.get(name)

    def names(self) -> list[str]:
        """The names of the hosted actors, sorted."""
        return sorted(self._mailboxes)

    async def add(self, name: str, actor: Actor) -> None:
        """Run ``actor.on_start`` and then register it under ``name``.

        Raises:
            ActorExists: ``name`` is in use (or being added).
            TypeError: ``actor`` is not an :class:`Actor` or its handlers are malformed.
            Exception: whatever ``on_start`` raised; the actor is then not registered.
        """
        if not isinstance(actor, Actor):
            raise TypeError(f"{actor!r} is not an Actor")
        if not name or not isinstance(name, str):
            raise ValueError("an actor name must be a non-empty string")
        if name in self._mailboxes or name in self._reserved:
            raise ActorExists(name)
        ctx = Context(self._node, name)
        mailbox = Mailbox(name, actor, ctx, self._mailbox_size)
        self._reserved.add(name)
        try:
            await actor.on_start(ctx)
        finally:
            self._reserved.discard(name)
        mailbox.start()
        self._mailboxes[name] = mailbox
        log.info("actor %r added on node %r", name, self._node.node_id)
        self._changed()

    async def remove(self, name: str) -> None:
        """Unregister ``name``: later and queued asks fail with ``ActorNotFound``; running handlers finish; then
        ``on_stop`` runs.

        Raises:
            ActorNotFound: no actor is registered under ``name``.
        """
        mailbox = self._mailboxes.pop(name, None)
        if mailbox is None:
            raise ActorNotFound(name, self._node.node_id)
        self._changed()
        await mailbox.close(self._stop_timeout_s)
        try:
            await mailbox.actor.on_stop(mailbox.ctx)
        except Exception:
            log.exception("actor %r: on_stop failed", name)
        log.info("actor %r removed from node %r", name, self._node.node_id)

    async def remove_all(self) -> None:
        """Remove every actor, concurrently."""
        names = list(self._mailboxes)
        if names:
            await asyncio.gather(*(self.remove(n) for n in names), return_exceptions=True)

    def _changed(self) -> None:
        for listener in self.listeners:
            try:
                listener()
            except Exception:
                log.exception("registry listener failed")
