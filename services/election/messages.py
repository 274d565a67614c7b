"""Election messages: every one names its group, so one actor per node serves all the groups it is in. None names
its sender: the envelope does (on a secure cluster, the key its connection authenticated with), and the election
actor hands the core that sender, so no node can speak for another.

All are tells (one-way): the sans-I/O core answers a message with messages of its own, and a lost message is
covered by the next heartbeat or the next election round.
"""

from __future__ import annotations

from zactor.transport.codec import Returns, message

GroupStatus = tuple[str, int, float, list[str]]
"""One group as a node sees it: ``(leader or "", term, lease age in seconds or -1, voters)``."""

__all__ = [
    "GroupStatus",
    "RequestVote",
    "Vote",
    "Heartbeat",
    "HeartbeatAck",
    "Resign",
    "GetLeaders",
    "Leaders",
    "ElectionMessage",
]


@message("zactor.election.RequestVote")
class RequestVote:
    """A candidate asks for a vote in ``term``; with ``pre`` set, it only asks whether it would get one (pre-vote:
    no term changes, so a node cut off from the group cannot disturb it when it comes back). ``config_term``,
    ``config_seq`` and ``voters`` are the candidate's voter configuration (:mod:`zactor.services.election.voters`)."""

    group: str
    term: int
    config_term: int
    config_seq: int
    voters: list[str]
    pre: bool = False


@message("zactor.election.Vote")
class Vote:
    """The answer to :class:`RequestVote`: ``term`` is the voter's term (or the pre-vote's term)."""

    group: str
    term: int
    granted: bool
    pre: bool = False


@message("zactor.election.Heartbeat")
class Heartbeat:
    """The leader of ``term`` renews its lease; ``seq`` numbers the heartbeat round. ``config_term``,
    ``config_seq`` and ``voters`` are the leader's voter configuration, which a follower adopts before it acks."""

    group: str
    term: int
    seq: int
    config_term: int
    config_seq: int
    voters: list[str]


@message("zactor.election.HeartbeatAck")
class HeartbeatAck:
    """A voter's answer to heartbeat ``seq``: ``ok`` when it follows the leader of ``term`` (its own term)."""

    group: str
    term: int
    seq: int
    ok: bool


@message("zactor.election.Resign")
class Resign:
    """The leader of ``term`` gave up leadership: its voters are free to elect another at once, ``successor`` first
    when named (a leadership transfer, as Raft's TimeoutNow)."""

    group: str
    term: int
    successor: str = ""


@message("zactor.election.GetLeaders")
class GetLeaders(Returns["Leaders"]):
    """Ask a node for what it knows of every group it is in (``zactor leaders``)."""


@message("zactor.election.Leaders")
class Leaders:
    """``groups``: ``{group: (leader or "", term, lease age in seconds (or -1), voters)}``."""

    node_id: str
    groups: dict[str, GroupStatus]


ElectionMessage = RequestVote | Vote | Heartbeat | HeartbeatAck | Resign
"""The messages the core takes and sends."""
