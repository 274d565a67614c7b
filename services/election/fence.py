"""Fencing with terms: a resource that refuses writes from leaders older than the newest it has seen.

A leader can lose its lease without knowing it in time (a long pause between checking the lease and writing): the
write then carries a term below the new leader's, and :class:`Fence` refuses it (Kleppmann, "How to do distributed
locking", 2016; Chubby's sequencers, Burrows 2006).
"""

from __future__ import annotations

from zactor.errors import StaleTerm

__all__ = ["Fence", "StaleTerm"]


class Fence:
    """The newest term a resource accepted writes from (starts at ``term``).

    Attributes:
        term: the newest term accepted.
    """

    def __init__(self, term: int = 0) -> None:
        self.term = term

    def admit(self, term: int) -> None:
        """Accept a write of ``term`` (and remember it when newer).

        Raises:
            StaleTerm: ``term`` is below :attr:`term`.
            TypeError: ``term`` is not an int.
        """
        if type(term) is not int:
            raise TypeError(f"a term must be an int, not {type(term).__name__}")
        if term < self.term:
            raise StaleTerm(term, self.term)
        self.term = term
