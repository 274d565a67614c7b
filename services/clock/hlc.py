"""The hybrid logical clock (HLC) core: sans-I/O, physical time is an argument.

Algorithm: Kulkarni, Demirbas et al., "Logical Physical Clocks and Consistent Snapshots in Globally Distributed
Databases" (2014). A timestamp is ``(physical_ms, logical, node_id)``: ``physical_ms`` follows the largest physical
time seen, ``logical`` orders events within one millisecond, and ``node_id`` breaks the remaining ties, so timestamps
are totally ordered. The clock refuses a remote timestamp more than ``max_offset_ms`` ahead of local physical time
(CockroachDB's max-offset rule) instead of jumping forward with it.

:class:`zactor.services.clock.ClockService` is the shell that stamps a node's envelopes with this clock.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from zactor.errors import ClockOffsetError, DecodeError

__all__ = ["HLCTimestamp", "HybridLogicalClock", "DEFAULT_MAX_CLOCK_OFFSET_S", "MAX_LOGICAL"]

DEFAULT_MAX_CLOCK_OFFSET_S = 0.5
MAX_LOGICAL = 2**31 - 1
"""The largest logical counter (CockroachDB's int32 bound): a remote stamp above it is refused, and a local counter
that would pass it moves to the next millisecond instead, so every stamp a node issues stays within it."""


class HLCTimestamp(NamedTuple):
    """A hybrid logical clock timestamp, totally ordered by ``(physical_ms, logical, node_id)``.

    A named tuple: immutable, hashable, and compared in C (the CRDT compares timestamps on every operation).

    Attributes:
        physical_ms: milliseconds since the Unix epoch.
        logical: counter that orders events sharing ``physical_ms``.
        node_id: the node that issued the timestamp (tie-break).
    """

    physical_ms: int
    logical: int
    node_id: str

    def to_wire(self) -> tuple[int, int, str]:
        """The compact msgpack form: ``(physical_ms, logical, node_id)`` (an array on the wire)."""
        return (self.physical_ms, self.logical, self.node_id)

    @classmethod
    def from_wire(cls, value: Any) -> HLCTimestamp:
        """Parse the compact form.

        Raises:
            DecodeError: ``value`` is not ``[uint, uint, str]``.
        """
        if (
            type(value) not in (list, tuple)
            or len(value) != 3
            or type(value[0]) is not int
            or type(value[1]) is not int
            or type(value[2]) is not str
            or value[0] < 0
            or not 0 <= value[1] <= MAX_LOGICAL
        ):
            raise DecodeError(f"malformed HLC timestamp {value!r} (logical counter from 0 to {MAX_LOGICAL})")
        return cls(value[0], value[1], value[2])


class HybridLogicalClock:
    """The HLC core: no I/O and no reading of time; ``physical_ms`` is passed in.

    Args:
        node_id: this node's id, stamped on every timestamp it issues.
        max_offset_ms: a remote timestamp further ahead of local physical time than this is refused.

    Attributes:
        rejected: how many remote timestamps were refused.
    """

    __slots__ = ("node_id", "max_offset_ms", "rejected", "_physical_ms", "_logical")

    def __init__(self, node_id: str, max_offset_ms: int = int(DEFAULT_MAX_CLOCK_OFFSET_S * 1000)) -> None:
        self.node_id = node_id
        self.max_offset_ms = max_offset_ms
        self.rejected = 0
        self._physical_ms = 0
        self._logical = 0

    @property
    def last(self) -> HLCTimestamp:
        """The latest timestamp issued or merged."""
        return HLCTimestamp(self._physical_ms, self._logical, self.node_id)

    def send(self, physical_ms: int) -> HLCTimestamp:
        """A new timestamp for a local or send event, greater than every earlier one of this clock."""
        self.tick(physical_ms)
        return self.last

    def recv(self, remote: HLCTimestamp, physical_ms: int) -> HLCTimestamp:
        """Merge a received timestamp; the result is greater than both ``remote`` and every earlier local one.

        Raises:
            ClockOffsetError: ``remote`` is more than ``max_offset_ms`` ahead of ``physical_ms`` (or its logical
                counter would carry this clock that far); the clock is unchanged.
            DecodeError: ``remote.logical`` is outside 0..``MAX_LOGICAL``; the clock is unchanged.
        """
        self.merge(remote.physical_ms, remote.logical, remote.node_id, physical_ms)
        return self.last

    def stamp(self, physical_ms: int) -> list[Any]:
        """:meth:`send` in the wire form ``[physical_ms, logical, node_id]`` (an envelope header's HLC slot)."""
        self.tick(physical_ms)
        return [self._physical_ms, self._logical, self.node_id]

    def tick(self, physical_ms: int) -> None:
        """:meth:`send` without building a timestamp object (the envelope hot path)."""
        if physical_ms > self._physical_ms:
            self._physical_ms, self._logical = physical_ms, 0
        elif self._logical < MAX_LOGICAL:
            self._logical += 1
        else:
            self._physical_ms, self._logical = self._physical_ms + 1, 0

    def merge(self, remote_ms: int, remote_logical: int, remote_node: str, physical_ms: int) -> None:
        """:meth:`recv` on the parts of a timestamp (the envelope hot path).

        Raises:
            ClockOffsetError, DecodeError: as :meth:`recv`.
        """
        if not 0 <= remote_logical <= MAX_LOGICAL:
            self.rejected += 1
            raise DecodeError(f"HLC logical counter {remote_logical} from {remote_node!r} is outside 0..{MAX_LOGICAL}")
        if remote_ms - physical_ms > self.max_offset_ms:
            self.rejected += 1
            raise ClockOffsetError(remote_node, remote_ms - physical_ms, self.max_offset_ms)
        last_ms = self._physical_ms
        if physical_ms > last_ms and physical_ms > remote_ms:
            new_ms, new_logical = physical_ms, 0
        elif remote_ms > last_ms:
            new_ms, new_logical = remote_ms, remote_logical + 1
        elif remote_ms == last_ms:
            new_ms, new_logical = last_ms, max(self._logical, remote_logical) + 1
        else:
            new_ms, new_logical = last_ms, self._logical + 1
        if new_logical > MAX_LOGICAL:
            new_ms, new_logical = new_ms + 1, 0
            if new_ms - physical_ms > self.max_offset_ms:
                self.rejected += 1
                raise ClockOffsetError(remote_node, new_ms - physical_ms, self.max_offset_ms)
        self._physical_ms, self._logical = new_ms, new_logical

    def check(self, ts: HLCTimestamp, physical_ms: int) -> None:
        """Refuse a timestamp from the network (a document's) that is too far ahead; the clock is unchanged.

        Raises:
            ClockOffsetError: ``ts`` is more than ``max_offset_ms`` ahead of ``physical_ms``.
        """
        if ts.physical_ms - physical_ms > self.max_offset_ms:
            self.rejected += 1
            raise ClockOffsetError(ts.node_id, ts.physical_ms - physical_ms, self.max_offset_ms)
