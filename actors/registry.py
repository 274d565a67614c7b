"""The registry of actors hosted by one node; actors are added and removed while the node runs."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from zactor.actor import Actor, Context
from zactor.deathwatch import Terminated, TerminationReason, Unwatch, Watchers
from zactor.directory import UNLISTED_PREFIX
from zactor.errors import ActorExists, ActorNotFound, ActorTerminated
from zactor.mailbox import Mailbox
from zactor.supervision import Restart, RestartPolicy
from zactor.supervisor import Supervisor

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

    Attributes:
        stop_timeout_s: as given.
        listeners: called (with no argument) after each change of the hosted names, but for the unlisted ones
            (``zactor.directory.UNLISTED_PREFIX``: virtual actors' activations).
        terminations: how many actors terminated, by :class:`~zactor.deathwatch.TerminationReason` value.
    """

    def __init__(self, node: Node, mailbox_size: int, stop_timeout_s: float) -> None:
        self._node = node
        self._mailbox_size = mailbox_size
        self.stop_timeout_s = stop_timeout_s
        self._mailboxes: dict[str, Mailbox] = {}
        self.get: Callable[[str], Mailbox | None] = self._mailboxes.get
        """``get(name)``: the mailbox of the actor named ``name``, or ``None`` (the dict's own lookup: one C call on
        the receive path)."""
        self._supervisors: dict[str, Supervisor] = {}
        self.terminations: collections.Counter[str] = collections.Counter()
        self._reserved: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.listeners: list[Callable[[], None]] = []

    def names(self) -> list[str]:
        """The names of the hosted actors, sorted."""
        return sorted(self._mailboxes)

    async def add(
        self,
        name: str,
        actor: Actor,
        *,
        factory: Callable[[], Actor] | None = None,
        policy: RestartPolicy | None = None,
    ) -> None:
        """Run ``actor.on_start`` and then register it under ``name``; with ``policy``, supervise it (restarts build
        fresh instances from ``factory``; see :mod:`zactor.supervisor`).

        Raises:
            ActorExists: ``name`` is in use (or being added).
            TypeError: ``actor`` is not an :class:`Actor`, its handlers are malformed, or a policy has no factory.
            Exception: whatever ``on_start`` raised; the actor is then not registered.
        """
        if not isinstance(actor, Actor):
            raise TypeError(f"{actor!r} is not an Actor")
        if not name or not isinstance(name, str):
            raise ValueError("an actor name must be a non-empty string")
        if policy is not None and factory is None:
            raise TypeError("a restart policy needs a factory that builds fresh instances")
        if name in self._mailboxes or name in self._reserved:
            raise ActorExists(name)
        ctx = Context(self._node, name)
        mailbox = Mailbox(name, actor, ctx, self._mailbox_size)
        self._reserved.add(name)
        try:
            await actor.on_start(ctx)
        except BaseException:
            ctx.unwatch_all()
            raise
        finally:
            self._reserved.discard(name)
        if policy is not None and factory is not None:
            node = self._node
            self._supervisors[name] = Supervisor(self, mailbox, factory, policy, node.rng, node.time_source.monotonic_s)
        mailbox.start()
        self._mailboxes[name] = mailbox
        log.info("actor %r added on node %r", name, self._node.node_id)
        self._changed(name)

    async def remove(
        self,
        name: str,
        reason: TerminationReason = TerminationReason.REMOVED,
        error: str = "",
        *,
        timeout_s: float | None = None,
    ) -> None:
        """Unregister ``name``: queued and later asks fail with ``ActorTerminated``; running handlers finish (those
        still running after ``timeout_s`` seconds, default ``stop_timeout_s``, are cancelled); then ``on_stop`` runs
        and the actor's watchers get ``Terminated(reason=reason)``.

        Raises:
            ActorNotFound: no actor is registered under ``name``.
        """
        mailbox = self._mailboxes.pop(name, None)
        if mailbox is None:
            raise ActorNotFound(name, self._node.node_id)
        supervisor = self._supervisors.pop(name, None)
        if supervisor is not None:
            supervisor.cancel()
        self._changed(name)
        mailbox.ctx.unwatch_all()
        node_id = self._node.node_id
        wait_s = self.stop_timeout_s if timeout_s is None else timeout_s
        await mailbox.close(wait_s, ActorTerminated(name, node_id, reason.value))
        if supervisor is None or supervisor.instance_live:
            await mailbox.stop_actor()
        self.terminations[reason.value] += 1
        log.info("actor %r removed from node %r (%s)", name, node_id, reason.value)
        mailbox.watchers.fire(Terminated(name=name, node_id=node_id, reason=reason, error=error))

    def supervisor(self, name: str) -> Supervisor | None:
        """The supervisor of the actor ``name`` (its ``restarts``, ``last_error`` and ``budget_left()``), or ``None``
        for an actor added without a restart policy (or not hosted)."""
        return self._supervisors.get(name)

    def stop_soon(self, name: str) -> None:
        """The actor ``name`` stops itself after the message it handles: restarted under ``Restart.ALWAYS``, else
        removed with ``Terminated(reason="stopped")``. Does nothing for an actor that is not hosted."""
        mailbox = self._mailboxes.get(name)
        if mailbox is None:
            return
        supervisor = self._supervisors.get(name)
        if supervisor is not None and supervisor.policy.mode is Restart.ALWAYS:
            supervisor.crashed(None)
            return
        mailbox.pause()
        task = asyncio.get_running_loop().create_task(self.remove_if(mailbox, TerminationReason.STOPPED))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def remove_if(self, mailbox: Mailbox, reason: TerminationReason, error: str = "") -> None:
        """:meth:`remove` the actor of ``mailbox`` if it is still the one registered under its name."""
        if self._mailboxes.get(mailbox.name) is mailbox:
            await self.remove(mailbox.name, reason, error)

    def watch(self, name: str, callback: Callable[[Terminated], None]) -> Unwatch:
        """Call ``callback(Terminated)`` once when the actor ``name`` terminates (on the next loop turn, with reason
        ``not_found``, when no such actor is hosted); returns what cancels the watch."""
        mailbox = self._mailboxes.get(name)
        if mailbox is None:
            gone = Watchers()
            gone.fire(Terminated(name=name, node_id=self._node.node_id, reason=TerminationReason.NOT_FOUND))
            return gone.add(callback)
        return mailbox.watchers.add(callback)

    async def remove_all(self) -> None:
        """Remove every actor, concurrently."""
        names = list(self._mailboxes)
        if names:
            await asyncio.gather(*(self.remove(n) for n in names), return_exceptions=True)

    def _changed(self, name: str) -> None:
        if name.startswith(UNLISTED_PREFIX):  # no one lists these: a virtual actor's activations come and go often
            return
        for listener in self.listeners:
            try:
                listener()
            except Exception:
                log.exception("registry listener failed")
