"""Gossip messages: the scuttlebutt three-way handshake (van Renesse et al., "Efficient Reconciliation and Flow
Control for Anti-Entropy Protocols", 2008; as in chitchat).

``Syn`` carries the sender's cluster id and digest; the receiver answers ``SynAck`` with its own digest and the delta
the sender lacks; the sender finishes with ``Ack`` carrying the delta the receiver lacks. Every one of the three
carries the cluster id, and each is refused (``ClusterMismatch``) by a node of another cluster.

Compact list forms keep them small:

- digest: ``[[node_id, generation, heartbeat, max_version], ...]``
- delta:  ``[[node_id, generation, heartbeat, [[key, value, version], ...]], ...]``
"""

from __future__ import annotations

from typing import Any

from zactor.directory import GetMembers, MemberRows
from zactor.transport.codec import Returns, message

__all__ = ["Syn", "SynAck", "Ack", "GetMembers", "MemberRows"]


@message("zactor.gossip.Syn")
class Syn(Returns["SynAck"]):
    """Opens a gossip round: "this is what I know"."""

    cluster_id: str
    digest: list[Any]


@message("zactor.gossip.SynAck")
class SynAck:
    """Answers a Syn: "this is what I know, and here is what you lack"."""

    cluster_id: str
    digest: list[Any]
    delta: list[Any]


@message("zactor.gossip.Ack")
class Ack:
    """Closes a round: "here is what you lack"."""

    cluster_id: str
    delta: list[Any]
