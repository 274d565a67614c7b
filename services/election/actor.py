"""The ``zactor.election`` actor of a node: it routes every group's messages to that group's :class:`Election`, and
answers ``zactor leaders``; and :class:`NoLeader`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zactor.actor import Actor, Context, handler
from zactor.errors import ActorError
from zactor.services.election.messages import (
    GetLeaders,
    Heartbeat,
    HeartbeatAck,
    Leaders,
    RequestVote,
    Resign,
    Vote,
)

if TYPE_CHECKING:
    from zactor.services.election.service import Election

__all__ = ["ELECTION_ACTOR", "ElectionActor", "NoLeader"]

ELECTION_ACTOR = "zactor.election"


class NoLeader(ActorError):
    """No leader is known in ``group`` within the wait: the reason says whether the group lost its majority.

    Attributes:
        group: the group.
        live: its live voters (this node's view).
        voters: its voters.
    """

    def __init__(self, group: str, timeout_s: float, live: int, voters: int) -> None:
        needed = voters // 2 + 1
        reason = (
            f"it has lost its majority: {live} of {voters} voters live, a leader needs {needed}"
            if live < needed
            else f"{live} of {voters} voters live; an election may still be under way"
        )
        super().__init__(f"no leader in group {group!r} after {timeout_s} s: {reason}")
        self.group = group
        self.live = live
        self.voters = voters


class ElectionActor(Actor):
    """Routes election messages to the groups of this node."""

    mailbox_size = 10_000

    def __init__(self) -> None:
        self.groups: dict[str, Election] = {}

    def _route(self, msg: Any, ctx: Context) -> None:
        """Hand ``msg`` to its group (a group this node is not in: dropped), from the envelope's sender (on a secure
        cluster, the key its connection authenticated with); its fields were checked at decode.

        Raises:
            ClusterMismatch: no member of this node's cluster sent it.
        """
        ctx.require_member()
        sender = ctx.sender.node_id
        election = self.groups.get(msg.group)
        if election is not None and sender is not None:
            election.receive(sender, msg)

    @handler
    async def on_request_vote(self, msg: RequestVote, ctx: Context) -> None:
        self._route(msg, ctx)

    @handler
    async def on_vote(self, msg: Vote, ctx: Context) -> None:
        self._route(msg, ctx)

    @handler
    async def on_heartbeat(self, msg: Heartbeat, ctx: Context) -> None:
        self._route(msg, ctx)

    @handler
    async def on_ack(self, msg: HeartbeatAck, ctx: Context) -> None:
        self._route(msg, ctx)

    @handler
    async def on_resign(self, msg: Resign, ctx: Context) -> None:
        self._route(msg, ctx)

    @handler
    async def on_get_leaders(self, msg: GetLeaders, ctx: Context) -> Leaders:
        return Leaders(node_id=ctx.node_id, groups={g: e.status() for g, e in self.groups.items()})
