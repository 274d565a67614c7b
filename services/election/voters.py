"""A group's voters as a configuration that only its leaders change, one voter at a time.

Raft changes its voters through entries of its log (Ongaro's thesis, section 4.1): a configuration takes effect on a
server as soon as it holds it, a leader changes one voter per step and only once the previous step is committed, and
it first commits an entry of its own term (the fix of the single-server change bug, thesis 4.1 and the raft-dev post
of 2015). Any two configurations one step apart share a voter in every pair of their majorities, so while they
coexist no two candidates win one term and no two leases overlap.

An election without a log keeps only the newest entry: a :class:`Voters` names the term of the leader that made it
and a sequence number within that term, ``entry = (term, seq)``, ordered as Raft orders the last entries of logs.
Heartbeats carry the leader's configuration, a follower adopts a newer one (durably, before it acks), and a voter
grants a vote (or a pre-vote) only to a candidate whose configuration is at least as new as its own. A new leader
restamps its configuration with its own term (Raft's no-op entry) and changes nothing before a majority holds it.

Term 0 is the bootstrap configuration, which no leader made: the voters given to every node, or derived by each node
from membership on its own. Views derived from gossip may disagree, so a derived bootstrap configuration elects a
candidate only with the votes of every one of its voters, each holding the same bootstrap view; explicit voters
need a majority as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from zactor.services.election.model import rank

__all__ = ["Voters", "next_step"]


@attrs.frozen
class Voters:
    """One configuration of a group's voters.

    Attributes:
        term: the term of the leader that made it; 0 for the bootstrap configuration.
        seq: its number among the configurations of that term.
        members: the voters' node ids, sorted.
    """

    term: int = 0
    seq: int = 0
    members: tuple[str, ...] = ()

    @classmethod
    def of(cls, members: Iterable[str], term: int = 0, seq: int = 0) -> Voters:
        """A configuration of ``members`` (any order, repeats ignored)."""
        return cls(term, seq, tuple(sorted(set(members))))

    @property
    def entry(self) -> tuple[int, int]:
        """``(term, seq)``: a larger entry is a newer configuration."""
        return self.term, self.seq

    @property
    def majority(self) -> int:
        """Votes or acks needed: more than half of the voters."""
        return len(self.members) // 2 + 1

    def fields(self) -> dict[str, Any]:
        """The fields that carry this configuration in a ``Heartbeat`` or a ``RequestVote``."""
        return {"config_term": self.term, "config_seq": self.seq, "voters": list(self.members)}

    def admits(self, term: int, seq: int, members: Sequence[str]) -> bool:
        """Whether a candidate holding configuration ``(term, seq, members)`` may get a vote from a node holding
        this one: it is at least as new (Raft's vote restriction, on the one entry kept), and two bootstrap
        configurations must also agree."""
        if (term, seq) == (0, 0) and self.entry == (0, 0):
            return tuple(sorted(members)) == self.members
        return (term, seq) >= self.entry

    def to_wire(self) -> list[object]:
        """``[term, seq, [voter, ...]]``, for the durable state file."""
        return [self.term, self.seq, list(self.members)]

    @classmethod
    def from_wire(cls, value: object) -> Voters:
        """The inverse of :meth:`to_wire`.

        Raises:
            ValueError: ``value`` is not ``[int, int, [str, ...]]``.
        """
        if (
            not isinstance(value, list)
            or len(value) != 3
            or type(value[0]) is not int
            or type(value[1]) is not int
            or not isinstance(value[2], list)
            or not all(type(v) is str for v in value[2])
        ):
            raise ValueError(f"a voter configuration must be [term, seq, [voter, ...]], got {value!r}")
        return cls.of(value[2], value[0], value[1])


def next_step(group: str, current: tuple[str, ...], desired: tuple[str, ...], keep: str) -> tuple[str, ...] | None:
    """The next voters on the way from ``current`` to ``desired``, one voter added or removed (adding first, the
    best-ranked missing voter; then removing the worst-ranked extra one, never ``keep``: a leader does not remove
    itself, it resigns); ``None`` when nothing is left to do."""
    missing = [v for v in desired if v not in current]
    if missing:
        return tuple(sorted((*current, max(missing, key=lambda v: rank(group, v)))))
    extra = [v for v in current if v not in desired and v != keep]
    if extra and len(current) > 1:
        worst = min(extra, key=lambda v: rank(group, v))
        return tuple(v for v in current if v != worst)
    return None
