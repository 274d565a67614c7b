"""The node as supervisor of one actor: the restart loop around :class:`~zactor.supervision.RestartBudget`.

On a crash the mailbox is paused at once (messages keep queueing); the supervisor waits for running handlers to
finish, runs the old instance's ``on_stop``, sleeps the backoff (on the event loop's clock, so virtual time drives
it in tests), builds a fresh instance from the factory, runs its ``on_start`` and resumes the mailbox. A failed
``on_start`` is one more crash. Past the budget, or under ``Restart.NEVER``, the actor is removed and its watchers
get ``Terminated``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from zactor.actor import Actor
from zactor.deathwatch import TerminationReason
from zactor.mailbox import Mailbox
from zactor.supervision import Restart, RestartBudget, RestartPolicy

if TYPE_CHECKING:
    from zactor.registry import Registry

__all__ = ["Supervisor", "describe_error"]

log = logging.getLogger("zactor.supervisor")


def describe_error(exc: BaseException | None) -> str:
    """``"Type: message"`` for ``exc`` (empty for ``None``)."""
    return "" if exc is None else f"{type(exc).__name__}: {exc}"


class Supervisor:
    """Restarts the actor of ``mailbox`` from ``factory`` under ``policy``.

    Args:
        registry: the registry hosting the actor (it removes the actor when the budget is spent).
        mailbox: the actor's mailbox, kept across restarts.
        factory: builds a fresh instance (the class, or a function of no arguments).
        policy: the restart policy.
        rng: jitter for the backoff.
        now_s: the monotonic clock the budget's window is measured on, in seconds.

    Attributes:
        restarts: restarts done since the actor was added.
        last_error: the last crash, as ``"Type: message"`` (empty before any).
        instance_live: whether the current instance ran ``on_start`` and not yet ``on_stop``.
    """

    def __init__(
        self,
        registry: Registry,
        mailbox: Mailbox,
        factory: Callable[[], Actor],
        policy: RestartPolicy,
        rng: random.Random,
        now_s: Callable[[], float],
    ) -> None:
        self._registry = registry
        self._mailbox = mailbox
        self._factory = factory
        self.policy = policy
        self._budget = RestartBudget(policy, rng)
        self._now_s = now_s
        self._task: asyncio.Task[None] | None = None
        self.restarts = 0
        self.last_error = ""
        self.instance_live = True
        mailbox.crash_policy = policy
        mailbox.on_crash = self.crashed

    def budget_left(self) -> int:
        """How many more restarts the policy's window allows now."""
        return self._budget.left(self._now_s())

    def crashed(self, exc: BaseException | None) -> None:
        """The actor crashed with ``exc`` (``None``: it stopped itself under ``Restart.ALWAYS``); the mailbox is
        paused. Starts the restart loop unless one runs."""
        self._mailbox.pause()
        self.last_error = describe_error(exc) or self.last_error
        if self._task is None:
            name = f"zactor-supervise-{self._mailbox.name}"
            self._task = asyncio.get_running_loop().create_task(self._restart(exc), name=name)

    def cancel(self) -> None:
        """Stop restarting (the actor is being removed)."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _restart(self, exc: BaseException | None) -> None:
        mailbox = self._mailbox
        name = mailbox.name
        if exc is not None and self.policy.mode is Restart.NEVER:
            await self._give_up(TerminationReason.FAILED)
            return
        timeout_s = self._registry.stop_timeout_s
        if not await mailbox.quiesce(timeout_s):
            log.warning("actor %r: handlers still run after %.1f s; restarting anyway", name, timeout_s)
        await self._stop_instance()
        while True:
            delay = self._budget.on_crash(self._now_s())
            if delay is None:
                await self._give_up(TerminationReason.GAVE_UP)
                return
            log.warning("actor %r crashed (%s); restarting in %.3f s", name, self.last_error or "stopped", delay)
            await asyncio.sleep(delay)
            try:
                actor = self._factory()
                mailbox.replace(actor)
                await actor.on_start(mailbox.ctx)
            except Exception as error:
                self.last_error = describe_error(error)
                log.warning("actor %r: restart failed: %s", name, self.last_error)
                continue
            self.restarts += 1
            self.instance_live = True
            self._task = None
            mailbox.resume()
            log.info("actor %r restarted (%d restarts, %d left in the window)", name, self.restarts, self.budget_left())
            return

    async def _stop_instance(self) -> None:
        if self.instance_live:
            self.instance_live = False
            await self._mailbox.stop_actor()

    async def _give_up(self, reason: TerminationReason) -> None:
        log.error("actor %r removed (%s): %s", self._mailbox.name, reason.value, self.last_error)
        await self._stop_instance()
        self._task = None
        await self._registry.remove_if(self._mailbox, reason, self.last_error)
