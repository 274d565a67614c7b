"""Death watch: the ``Terminated`` notice, why an actor terminated, and the watches on one actor.

After Erlang's monitors and Akka's death watch: a watch fires once, when the watched actor is removed, stops, or
fails for good (its restart policy gave up); a watch on an actor that is gone fires at once. A plain node watches its
own actors; a cluster node also those of other members, and learns of their nodes' death through membership
(:mod:`zactor.services.cluster.deathwatch`). A restart is no termination: the actor keeps its name and mailbox.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
from collections.abc import Callable

from zactor.transport.codec import message

__all__ = ["Terminated", "TerminationReason", "Unwatch", "Watchers"]

log = logging.getLogger("zactor.deathwatch")
_keys = itertools.count()


class TerminationReason(enum.Enum):
    """Why an actor terminated (``Terminated.reason``, ``ActorTerminated.reason``)."""

    REMOVED = "removed"
    """``remove_actor``, ``stop_actor``, or its node stopping."""
    STOPPED = "stopped"
    """The actor stopped itself (``ctx.stop()``) and its policy does not restart it."""
    FAILED = "failed"
    """It crashed and its policy never restarts (``Restart.NEVER``)."""
    GAVE_UP = "gave_up"
    """It crashed once more than its restart budget allows."""
    NOT_FOUND = "not_found"
    """It did not exist when the watch was set."""
    NODE_DEAD = "node_dead"
    """Its node was declared dead by membership (failure detection), or no live member was at its address."""
    NODE_LEFT = "node_left"
    """Its node left the cluster (a graceful stop)."""


@message("zactor.Terminated")
class Terminated:
    """The one notice a death watch delivers: the watched actor is gone.

    Attributes:
        name: the watched actor's name.
        node_id: the id of the node it ran on.
        reason: why it terminated.
        error: the last failure, as ``"Type: message"`` (empty when it did not fail).
    """

    name: str
    node_id: str
    reason: TerminationReason
    error: str = ""


Unwatch = Callable[[], None]
"""Cancels one watch (idempotent)."""


class Watchers:
    """The watches on one actor: callbacks fired once, in the order they were set, with its ``Terminated``."""

    __slots__ = ("_callbacks", "fired")

    def __init__(self) -> None:
        self._callbacks: dict[int, Callable[[Terminated], None]] = {}
        self.fired: Terminated | None = None

    def __len__(self) -> int:
        return len(self._callbacks)

    def add(self, callback: Callable[[Terminated], None]) -> Unwatch:
        """Call ``callback(terminated)`` once when the actor terminates (on the next loop turn if it has already);
        returns the function that cancels the watch."""
        if self.fired is not None:
            asyncio.get_running_loop().call_soon(_call, callback, self.fired)
            return _nothing
        key = next(_keys)
        self._callbacks[key] = callback
        return lambda: self._callbacks.pop(key, None) and None

    def fire(self, terminated: Terminated) -> None:
        """Deliver ``terminated`` to every watch, once; later calls do nothing."""
        if self.fired is not None:
            return
        self.fired = terminated
        callbacks, self._callbacks = list(self._callbacks.values()), {}
        for callback in callbacks:
            _call(callback, terminated)


def _call(callback: Callable[[Terminated], None], terminated: Terminated) -> None:
    try:
        callback(terminated)
    except Exception:
        log.exception("a death watch callback for %r failed", terminated.name)


def _nothing() -> None:
    return None
