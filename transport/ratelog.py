"""A logger that a peer cannot flood: at most a few records per second, then a count of what was held back.

A node logs what peers send it that it refuses (undecodable envelopes, unknown actors, failing tells). A hostile or
broken peer can send thousands of those a second; logging each would fill the disk and slow the node down. Every
refusal is still counted in the node's stats; the log shows the first few of each second and then one line saying how
many more were suppressed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["RateLimitedLogger"]


class RateLimitedLogger:
    """Passes at most ``per_second`` records a second to ``logger``.

    Args:
        logger: where records go.
        per_second: records let through in each one-second window.
        clock: monotonic time in seconds (injectable for tests).

    Attributes:
        suppressed: how many records were held back in all.
    """

    def __init__(
        self, logger: logging.Logger, per_second: int = 5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._logger = logger
        self._per_second = per_second
        self._clock = clock
        self._window_s = 0.0
        self._in_window = 0
        self._held = 0
        self.suppressed = 0

    def log(self, level: int, msg: str, *args: Any, exc_info: bool = False) -> None:
        """Log like ``logger.log`` unless this second's budget is spent (then count it)."""
        if not self._logger.isEnabledFor(level):
            return
        now = self._clock()
        if now - self._window_s >= 1.0:
            if self._held:
                self._logger.log(level, "%d similar messages suppressed in the last second", self._held)
            self._window_s, self._in_window, self._held = now, 0, 0
        if self._in_window < self._per_second:
            self._in_window += 1
            self._logger.log(level, msg, *args, exc_info=exc_info)
        else:
            self._held += 1
            self.suppressed += 1

    def warning(self, msg: str, *args: Any) -> None:
        """``log(logging.WARNING, ...)``."""
        self.log(logging.WARNING, msg, *args)
