"""Phi-accrual failure detection (Hayashibara et al., "The phi accrual failure detector", 2004), on chitchat's scale.

Instead of a yes/no timeout, each peer gets a suspicion level ``phi`` that grows with its silence. zactor follows
chitchat: ``phi = silence / mean_interval``, the silence counted in mean heartbeat intervals, so the default
threshold 8 declares a peer dead after 8 mean intervals without a new heartbeat. The mean adapts to slow or lossy
links instead of using one fixed timeout.

Two guards keep the first seconds of a peer's life from producing false deaths (what chitchat and Akka do):

- a **prior**: the window starts with ``initial_interval_s`` as one sample (chitchat), so the first measured
  intervals are averaged with a sensible guess instead of standing alone;
- a **floor**: the mean used for phi is at least ``min_interval_s`` (Akka's minimum standard deviation plays this
  role for its normal model). Heartbeats reach a node both directly and relayed through gossip, so two of them can
  arrive milliseconds apart; without the floor, such a burst would make an ordinary gap look fatal.

Only heartbeats that advance the peer's counter are recorded (the membership core sees to that). Intervals above
``max_interval_s`` (a pause, a partition) are left out of the mean.

Pure: times are passed in as seconds (any monotonic origin).
"""

from __future__ import annotations

import collections

import attrs

__all__ = ["DetectorConfig", "PhiAccrualDetector"]


@attrs.frozen(kw_only=True)
class DetectorConfig:
    """Failure detector settings (chitchat's defaults are 8 / 1000 / 10 s / 5 s; these suit a local cluster).

    Attributes:
        phi_threshold: suspicion level above which a peer is considered dead, in mean intervals of silence.
        window: how many recent heartbeat intervals the mean is taken over (the prior counts as one).
        max_interval_s: intervals longer than this (a pause, a partition) are left out of the mean, in seconds.
        initial_interval_s: the prior: one interval assumed before any is measured, in seconds.
        min_interval_s: the smallest mean interval phi is computed with, in seconds (relayed heartbeats can arrive
            milliseconds apart).
    """

    phi_threshold: float = 8.0
    window: int = 1000
    max_interval_s: float = 10.0
    initial_interval_s: float = 0.5
    min_interval_s: float = 0.2


class PhiAccrualDetector:
    """Heartbeat arrival history and suspicion level of one peer.

    Args:
        config: the thresholds and window.
        now_s: when the peer was first heard of, in seconds.
    """

    __slots__ = ("_config", "_intervals", "_sum", "_last_s")

    def __init__(self, config: DetectorConfig, now_s: float) -> None:
        self._config = config
        self._intervals: collections.deque[float] = collections.deque([config.initial_interval_s])
        self._sum = config.initial_interval_s
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

    def shift(self, seconds: float) -> None:
        """Move the last arrival ``seconds`` later: silence that this node itself caused (it was paused) does not
        count against the peer."""
        self._last_s += seconds

    @property
    def mean_interval_s(self) -> float:
        """The mean heartbeat interval in seconds, prior included, never below ``min_interval_s``."""
        return max(self._sum / len(self._intervals), self._config.min_interval_s)

    def phi(self, now_s: float) -> float:
        """The suspicion level at ``now_s`` seconds: 0 right after a heartbeat, then the silence in mean intervals."""
        return max(0.0, now_s - self._last_s) / self.mean_interval_s

    def is_alive(self, now_s: float) -> bool:
        """True while ``phi`` is at or below the threshold."""
        return self.phi(now_s) <= self._config.phi_threshold
