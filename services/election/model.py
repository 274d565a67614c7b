"""The election model: roles, timing, leader changes, and the rendezvous rank that orders a group's members."""

from __future__ import annotations

import enum
import hashlib

import attrs

__all__ = ["ElectionConfig", "LeaderChange", "Role", "rank"]


class Role(enum.Enum):
    """Where a node stands in its group."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@attrs.frozen
class ElectionConfig:
    """Timing of one group, in seconds.

    Attributes:
        lease_s: how long a heartbeat round acked by a majority keeps the leader's lease, and how long a voter that
            acked it votes for no one else.
        heartbeat_s: the leader's heartbeat interval (several per lease, so one lost round does not end it).
        rank_step_s: extra wait per rank before a follower stands for election (the backup, rank 0, goes first).
        round_s: how long a pre-vote or vote round waits for answers before giving up.
        max_drift: the largest relative difference in clock rate between two nodes (0.01 = 1%).
    """

    lease_s: float = 1.5
    heartbeat_s: float = 0.25
    rank_step_s: float = 0.3
    round_s: float = 0.5
    max_drift: float = 0.01

    def __attrs_post_init__(self) -> None:
        if not 0 < self.heartbeat_s < self.lease_s:
            raise ValueError(f"heartbeat_s must be above 0 and below lease_s, got {self.heartbeat_s}")
        if not 0 <= self.max_drift < 0.25:
            raise ValueError(f"max_drift must be from 0 to 0.25, got {self.max_drift}")
        if self.rank_step_s <= 0 or self.round_s <= 0:
            raise ValueError("rank_step_s and round_s must be above 0")

    @property
    def held_s(self) -> float:
        """How long a leader's lease lasts from the sending of an acked round, on its own clock."""
        return self.lease_s * (1 - 2 * self.max_drift)


@attrs.frozen
class LeaderChange:
    """The leader this node knows changed: ``leader`` is ``None`` when none is known."""

    group: str
    leader: str | None
    term: int


def rank(group: str, node_id: str) -> bytes:
    """The rendezvous-hash weight of ``node_id`` in ``group`` (Thaler and Ravishankar, 1996): sorting by it,
    largest first, gives a group's stable order of succession and its members out of a larger set."""
    return hashlib.blake2b(f"{group}\x00{node_id}".encode(), digest_size=8).digest()
