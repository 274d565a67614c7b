"""Phi-accrual failure detection (Hayashibara et al., "The phi accrual failure detector", 2004).

Instead of a yes/no timeout, each peer gets a suspicion level ``phi``: with heartbeat inter-arrival times modelled
as exponentially distributed (the approximation Cassandra and chitchat use), the probability that a heartbeat is
still to come after ``t`` seconds of silence is ``exp(-t / mean)``, and ``phi = -log10(that) = t / (mean * ln 10)``.
A peer is suspected dead once ``phi`` exceeds the threshold: with the default threshold 8 that is after about
``18.4 x`` the mean heartbeat interval, which adapts to slow or lossy links instead of using one fixed timeout.

Pure: times are passed in as seconds (any monotonic origin).
"""

from __future__ import annotations

import collections
import math

import attrs

__all__ = ["DetectorConfig", "PhiAccrualDetector"]

_LN10 = math.log(10.0)


@attrs.frozen(kw_only=True)
class DetectorConfig:
    """Failure detector settings (chitchat's defaults are 8 / 1000 / 10 s / 5 s; these suit a local cluster).

    Attributes:
        phi_threshold: suspicion level above which a peer is considered dead.
        window: how many recent heartbeat intervals the mean is taken over.
        max_interval_s: intervals longer than this (a pause, a partition) are left out of the mean, in seconds.
        initial_interval_s: the mean assumed before any interval has been measured, in seconds.
    """

    phi_threshold: float = 8.0
    window: int = 1000
    max_interval_s: float = 10.0
    initial_interval_s: float = 0.5


class PhiAccrualDetector:
    """Heartbeat arrival history and suspicion level of one peer.

    Args:
        config: the thresholds and window.
        now_s: when the peer was first heard of, in seconds.
    """

    __slots__ = ("_config", "_intervals", "_sum", "_last_s")

    def __init__(self, config: DetectorConfig, now_s: float) -> None:
        self._config = config
        self._intervals: collections.deque[float] = collections.deque()
        self._sum = 0.0
        self._last_s = now_s

    def heartbeat(self, now_s: float) -> None:
        """Record that a new heartbeat of the peer arrived at ``now_s`` seconds."""
        interval = now_s - self._last_s
        self._last_s = now_s
        if 0 < interval <= self._config.max_interval_s:
            self._intervals.append(interval)
            self._sum += interval
            if len(self._intervals) > self._config.window:
                self._sum -= self._intervals.popleft()

    @property
    def mean_interval_s(self) -> float:
        """The mean heartbeat interval in seconds (the initial interval before any was measured)."""
        if not self._intervals:
            return self._config.initial_interval_s
        return self._sum / len(self._intervals)

    def phi(self, now_s: float) -> float:
        """The suspicion level at ``now_s`` seconds: 0 right after a heartbeat, growing with silence."""
        return max(0.0, now_s - self._last_s) / (self.mean_interval_s * _LN10)

    def is_alive(self, now_s: float) -> bool:
        """True while ``phi`` is at or below the threshold."""
        return self.phi(now_s) <= self._config.phi_threshold
