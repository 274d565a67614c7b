"""Consistency levels and node selection.

:mod:`zactor.services.selector.policy` is the sans-I/O core (the levels counted as Cassandra counts them, and
datacake-node's data-center-aware picks); :mod:`zactor.services.selector.service` is the extension that runs it over a
node's live membership.
"""

from zactor.services.selector.policy import (
    AckCounter,
    Consistency,
    DCAwareSelector,
    NodeSelector,
    NotEnoughNodes,
    Requirement,
    needs_majority,
    requirement,
)
from zactor.services.selector.service import SelectorService

__all__ = [
    "Consistency",
    "NodeSelector",
    "DCAwareSelector",
    "NotEnoughNodes",
    "SelectorService",
    "Requirement",
    "requirement",
    "needs_majority",
    "AckCounter",
]
