"""The clock shell: stamps every envelope of a node with its HLC, merges the stamps it receives, and hosts the clock
actor (``zactor.clock``) answering :class:`GetTime`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zactor import Actor, Context, Returns, handler, message
from zactor.errors import DecodeError
from zactor.services.clock.hlc import DEFAULT_MAX_CLOCK_OFFSET_S, HLCTimestamp, HybridLogicalClock
from zactor.timesource import SystemTime

if TYPE_CHECKING:
    from zactor import Node

__all__ = ["ClockService", "GetTime", "Time", "CLOCK_ACTOR"]

CLOCK_ACTOR = "zactor.clock"


@message("zactor.clock.GetTime")
class GetTime(Returns["Time"]):
    """Ask the clock actor for its node's current HLC timestamp."""


@message("zactor.clock.Time")
class Time:
    """The clock actor's answer: ``(physical_ms, logical, node_id)``."""

    timestamp: tuple[int, int, str]


class _ClockActor(Actor):
    max_concurrency = 8

    def __init__(self, service: ClockService) -> None:
        self._service = service

    @handler
    async def get_time(self, msg: GetTime, ctx: Context) -> Time:
        return Time(timestamp=self._service.now().to_wire())


class ClockService:
    """The clock extension: HLC stamps on every envelope, merged on receipt, and the ``zactor.clock`` actor.

    Install with ``await node.add_extension(ClockService())``; a :class:`~zactor.services.cluster.ClusterNode` has
    one (``node.clock``).

    Args:
        max_offset_s: how far ahead of local physical time a remote timestamp may be, in seconds (default 0.5).
        physical_ms: the physical clock in milliseconds (default: ``node.time_source.wall_ms``); a test passes a
            skewed one to play a node whose clock is off.
    """

    name = "clock"

    def __init__(
        self, *, max_offset_s: float = DEFAULT_MAX_CLOCK_OFFSET_S, physical_ms: Callable[[], int] | None = None
    ) -> None:
        self._max_offset_ms = int(max_offset_s * 1000)
        self._given_physical_ms = physical_ms
        self._physical_ms: Callable[[], int] = physical_ms or SystemTime().wall_ms
        self._core: HybridLogicalClock | None = None
        self._node: Node | None = None

    @property
    def max_offset_ms(self) -> int:
        """How far ahead of local physical time a remote timestamp may be, in ms."""
        return self._max_offset_ms

    def _started(self) -> HybridLogicalClock:
        if self._core is None:
            raise RuntimeError("clock service is not started")
        return self._core

    def now(self) -> HLCTimestamp:
        """A fresh timestamp (a local event).

        Raises:
            RuntimeError: the service is not started.
        """
        return self._started().send(self._physical_ms())

    @property
    def rejected(self) -> int:
        """How many remote timestamps were refused for being too far ahead."""
        return self._core.rejected if self._core else 0

    def stamp(self) -> list[Any]:
        """The wire form of a fresh timestamp, for an outgoing envelope.

        Raises:
            RuntimeError: the service is not started.
        """
        return self._started().stamp(self._physical_ms())

    def merge(self, wire: Any) -> None:
        """Merge the timestamp of an incoming envelope.

        Raises:
            DecodeError: the timestamp is malformed or its logical counter is out of bounds.
            ClockOffsetError: it is too far ahead; the clock is unchanged.
        """
        if type(wire) not in (tuple, list) or len(wire) != 3:
            raise DecodeError(f"malformed HLC timestamp {wire!r}")
        remote_ms, remote_logical, remote_node = wire
        if type(remote_ms) is not int or type(remote_logical) is not int or type(remote_node) is not str:
            raise DecodeError(f"malformed HLC timestamp {wire!r}")
        self._started().merge(remote_ms, remote_logical, remote_node, self._physical_ms())

    def check(self, ts: HLCTimestamp) -> None:
        """Refuse a timestamp received as data (a replicated document's) that is too far ahead of local time.

        Raises:
            ClockOffsetError: ``ts`` is more than the max offset ahead; the clock is unchanged.
            RuntimeError: the service is not started.
        """
        self._started().check(ts, self._physical_ms())

    async def start(self, node: Node) -> ClockService:
        """Attach to ``node``: stamp and merge its envelopes, host the clock actor. Returns the service."""
        self._physical_ms = self._given_physical_ms or node.time_source.wall_ms
        self._core = HybridLogicalClock(node.node_id, self._max_offset_ms)
        self._node = node
        await node.add_actor(CLOCK_ACTOR, _ClockActor(self))
        node.set_envelope_clock(self)
        return self

    async def stop(self) -> None:
        """Detach from the node: envelopes are no longer stamped; the clock actor is removed."""
        node, self._node = self._node, None
        self._core = None
        if node is not None:
            node.set_envelope_clock(None)
            if CLOCK_ACTOR in node.actors():
                await node.remove_actor(CLOCK_ACTOR)
