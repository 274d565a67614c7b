"""The cluster's actor directory as a client reads it: which members are live, where, and what actors they host.

Every node of a cluster runs a membership actor (``zactor.membership``) that answers :class:`GetMembers` with its
member table, as gossip has it. Clients outside the cluster (the blocking client, the command line) ask any node
for it; the messages live here, beside the runtime, so that those clients need no cluster service.
"""

from __future__ import annotations

from zactor.transport.codec import Returns, message

__all__ = ["MEMBERSHIP_ACTOR", "UNLISTED_PREFIX", "GetMembers", "MemberRow", "MemberRows", "hosts_of"]

MemberRow = tuple[str, str, str, str, float, list[str], int]
"""One member: ``(node_id, address, data_center, status, phi, actors, heartbeat)``."""

MEMBERSHIP_ACTOR = "zactor.membership"
"""The name of every node's membership actor."""

UNLISTED_PREFIX = "zactor.virtual/"
"""Actors registered under names with this prefix (virtual actors' activations) are not gossiped as hosted actors."""


@message("zactor.gossip.GetMembers")
class GetMembers(Returns["MemberRows"]):
    """Ask a node's membership actor for its member table (``include_down``: dead and left members too)."""

    include_down: bool = True


@message("zactor.gossip.MemberRows")
class MemberRows:
    """A member table (a :data:`MemberRow` per member) and the answering node's id and HLC timestamp
    ``(physical_ms, logical, node_id)`` (``None`` without a clock)."""

    node_id: str
    rows: list[MemberRow]
    hlc: tuple[int, int, str] | None


def hosts_of(table: MemberRows, actor: str) -> dict[str, str]:
    """``{node_id: address}`` of the live members of ``table`` that host ``actor``, in table order."""
    return {row[0]: row[1] for row in table.rows if row[3] == "live" and actor in row[5]}
