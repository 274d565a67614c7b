"""The cluster clock: a hybrid logical clock (HLC) stamped on every envelope.

:mod:`zactor.services.clock.hlc` is the sans-I/O core (Kulkarni et al. 2014, with CockroachDB's max-offset rule);
:mod:`zactor.services.clock.service` is the extension that runs it on a node.
"""

from zactor.services.clock.hlc import DEFAULT_MAX_CLOCK_OFFSET_S, MAX_LOGICAL, HLCTimestamp, HybridLogicalClock
from zactor.services.clock.service import CLOCK_ACTOR, ClockService, GetTime, Time

__all__ = [
    "HLCTimestamp",
    "HybridLogicalClock",
    "ClockService",
    "GetTime",
    "Time",
    "CLOCK_ACTOR",
    "DEFAULT_MAX_CLOCK_OFFSET_S",
    "MAX_LOGICAL",
]
