"""Gossip messages: the scuttlebutt three-way handshake (van Renesse et al., "Efficient Reconciliation and Flow
Control for Anti-Entropy Protocols", 2008; as in chitchat).

``Syn`` carries the sender's digest; the receiver answers ``SynAck`` with its own digest and the delta the sender
lacks; the sender finishes with ``Ack`` carrying the delta the receiver lacks. The envelope names the sender's
cluster: a node of another cluster refuses a Syn (``ClusterMismatch``) before any handler, and the gossip handlers
refuse a sender that names no cluster.

Fixed tuple shapes keep them small (arrays on the wire, checked at decode):

- digest: ``[(node_id, generation, heartbeat, max_version), ...]`` (``DigestEntry``)
- delta:  ``[(node_id, generation, heartbeat, [(key, value, version), ...]), ...]`` (``DeltaEntry``)
"""

from __future__ import annotations

from zactor.directory import GetMembers, MemberRows
from zactor.services.membership.state import DeltaEntry, DigestEntry
from zactor.transport.codec import Returns, message

__all__ = ["Syn", "SynAck", "Ack", "GetMembers", "MemberRows"]


@message("zactor.gossip.Syn")
class Syn(Returns["SynAck"]):
    """Opens a gossip round: "this is what I know"."""

    digest: list[DigestEntry]


@message("zactor.gossip.SynAck")
class SynAck:
    """Answers a Syn: "this is what I know, and here is what you lack"."""

    digest: list[DigestEntry]
    delta: list[DeltaEntry]


@message("zactor.gossip.Ack")
class Ack:
    """Closes a round: "here is what you lack"."""

    delta: list[DeltaEntry]
