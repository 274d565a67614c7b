"""Restart policies for supervised actors, and the restart budget (a sans-I/O core: time comes in as an argument).

Semantics follow Erlang/OTP's child specifications (``temporary``, ``transient``, ``permanent`` restart types, and
the supervisor's *maximum restart intensity*: at most ``max_restarts`` within ``within_s`` seconds) with Akka's
``BackoffSupervisor`` delays (exponential, capped, with random jitter). The supervisor is the node itself: each
supervised actor is restarted on its own (OTP's ``one_for_one``), from the factory it was added with.

What counts as a failure (a *crash*):

- ``on_start`` of a restarted instance raising;
- a handler raising an exception whose class, or a base of it, is named in ``crash_on`` (by ``__name__`` or by
  ``module.QualName``). The default, ``("Exception",)``, makes every handler exception a crash, as in Erlang; the
  caller of the ask that crashed still gets its ``RemoteError`` first. An actor added without a policy never
  crashes: a handler's exception is only its caller's error.

The refusals a node answers for itself (``DecodeError``, ``ClusterMismatch``, ...) and a cancelled ask never count.
"""

from __future__ import annotations

import collections
import enum
import random

from zactor.transport.codec import message

__all__ = ["Restart", "RestartBudget", "RestartPolicy", "as_policy"]


class Restart(enum.Enum):
    """When a supervised actor is restarted (OTP's restart types)."""

    NEVER = "never"
    """``temporary``: a crash removes the actor (its watchers get ``Terminated(reason="failed")``)."""
    ON_FAILURE = "on_failure"
    """``transient``: a crash restarts it; the actor stopping itself (``ctx.stop()``) removes it."""
    ALWAYS = "always"
    """``permanent``: a crash or the actor stopping itself restarts it; only ``remove_actor`` removes it."""


@message("zactor.RestartPolicy")
class RestartPolicy:
    """How a node supervises one actor: ``await node.add_actor("worker", Worker, restart=RestartPolicy(...))``.

    A restart makes a fresh instance from the actor's factory; the messages queued in its mailbox stay queued and
    are handled by the new instance (Akka keeps the mailbox across a restart too); the message being handled when
    it crashed is not retried. During the backoff the actor takes messages into its mailbox but handles none.

    Attributes:
        mode: when to restart (:class:`Restart`).
        max_restarts: the most restarts within ``within_s`` seconds; one more crash in that window removes the
            actor with ``Terminated(reason="gave_up")``.
        within_s: the window of ``max_restarts``, in seconds.
        backoff_s: the delay before the first restart in a window, in seconds; doubled for each further restart
            in the window.
        max_backoff_s: the cap on that delay, in seconds.
        jitter: each delay is multiplied by a random factor in ``[1 - jitter, 1 + jitter]`` (0 to 1).
        crash_on: the exception classes (by ``__name__`` or ``module.QualName``, matched against the raised
            exception's class and its bases) that make a handler's exception a crash; empty: only ``on_start``
            failures are crashes.
    """

    mode: Restart = Restart.ON_FAILURE
    max_restarts: int = 3
    within_s: float = 5.0
    backoff_s: float = 0.1
    max_backoff_s: float = 10.0
    jitter: float = 0.2
    crash_on: tuple[str, ...] = ("Exception",)

    def validate(self) -> None:
        """Check the policy's numbers (``add_actor`` does).

        Raises:
            ValueError: a negative count, window or delay, or ``jitter`` outside 0..1.
        """
        if self.max_restarts < 0 or self.within_s < 0 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError(f"restart counts, windows and delays must be 0 or more: {self}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def crashes_on(self, exc: BaseException) -> bool:
        """Whether a handler raising ``exc`` crashes the actor under this policy."""
        names = self.crash_on
        return bool(names) and any(
            cls.__name__ in names or f"{cls.__module__}.{cls.__qualname__}" in names for cls in type(exc).__mro__
        )


def as_policy(restart: RestartPolicy | Restart | None) -> RestartPolicy | None:
    """The policy a ``restart=`` argument names (a mode alone takes the policy's defaults), checked.

    Raises:
        ValueError: as :meth:`RestartPolicy.validate`.
    """
    policy = RestartPolicy(mode=restart) if isinstance(restart, Restart) else restart
    if policy is not None:
        policy.validate()
    return policy


class RestartBudget:
    """The restart intensity of one actor: which crash may restart it, and after what delay.

    Args:
        policy: the actor's policy.
        rng: where jitter comes from.
    """

    def __init__(self, policy: RestartPolicy, rng: random.Random) -> None:
        self._policy = policy
        self._rng = rng
        self._restarts: collections.deque[float] = collections.deque()

    def _forget_before(self, now_s: float) -> None:
        restarts, horizon = self._restarts, now_s - self._policy.within_s
        while restarts and restarts[0] <= horizon:
            restarts.popleft()

    def left(self, now_s: float) -> int:
        """How many more restarts the window allows at ``now_s`` (seconds, monotonic)."""
        self._forget_before(now_s)
        return max(0, self._policy.max_restarts - len(self._restarts))

    def on_crash(self, now_s: float) -> float | None:
        """A crash at ``now_s``: the delay before the restart, in seconds, or ``None`` when the budget is spent (the
        actor is then removed). A restart granted is counted at once."""
        policy = self._policy
        if self.left(now_s) == 0:
            return None
        self._restarts.append(now_s)
        delay: float = min(policy.max_backoff_s, policy.backoff_s * 2.0 ** (len(self._restarts) - 1))
        return delay * (1.0 + policy.jitter * (2.0 * self._rng.random() - 1.0))
