"""The membership data model: what a node believes about a peer, the events it reports, and the gossip settings.

Plain values shared by the protocol core (:mod:`zactor.services.membership.gossip`), its shell and its users.
"""

from __future__ import annotations

import enum

import attrs

from zactor.services.membership.detector import DetectorConfig

__all__ = ["MemberStatus", "EventKind", "MemberEvent", "Member", "MembershipConfig"]


class MemberStatus(enum.Enum):
    """What this node believes about a peer."""

    JOINING = "joining"
    LIVE = "live"
    DEAD = "dead"
    LEFT = "left"


class EventKind(enum.Enum):
    """Membership changes reported to watchers."""

    JOINED = "joined"
    DEAD = "dead"
    LEFT = "left"


@attrs.frozen
class MemberEvent:
    """A membership change: ``kind`` of ``node_id`` (at ``address``), seen at ``at_s`` seconds."""

    kind: EventKind
    node_id: str
    address: str
    at_s: float


@attrs.frozen
class Member:
    """One member as this node sees it.

    Attributes:
        node_id: the node's id.
        generation: its incarnation (start time in ms); a restart has a higher one.
        address: its ROUTER endpoint.
        data_center: its data center.
        status: LIVE, DEAD, LEFT (or JOINING before its heartbeat was seen twice).
        actors: the names of the actors it hosts.
        heartbeat: its latest heartbeat counter seen here.
        phi: the failure detector's suspicion level (0.0 for this node itself).
        meta: its user keys (``node.set_meta``).
    """

    node_id: str
    generation: int
    address: str
    data_center: str
    status: MemberStatus
    actors: tuple[str, ...]
    heartbeat: int
    phi: float
    meta: dict[str, str]


@attrs.frozen(kw_only=True)
class MembershipConfig:
    """Gossip settings; defaults suit a local cluster (chitchat: 1 s interval, fan-out 3, 24 h grace).

    Attributes:
        gossip_interval_s: seconds between gossip rounds.
        fanout: live peers gossiped with per round.
        max_delta_bytes: the largest delta sent in one message, in bytes of msgpack.
        dead_grace_s: seconds a DEAD or LEFT node is kept before its state is forgotten.
        max_local_pause_s: a gap between two rounds longer than this, in seconds, means this node itself was paused
            (SIGSTOP, a stalled VM or event loop): the silence it caused is not held against its peers (Cassandra's
            local-pause rule).
        remembered_gc_nodes: how many forgotten ``(node_id, generation)`` keys are remembered.
        seed_refresh_s: seconds between re-resolutions of ``dns:`` and ``file:`` seed entries.
        detector: the failure detector's settings (prior and floor of the mean: two gossip intervals, so a peer
            is declared dead after at least 16 intervals of silence).
    """

    gossip_interval_s: float = 0.2
    fanout: int = 3
    max_delta_bytes: int = 60_000
    dead_grace_s: float = 60.0
    max_local_pause_s: float = 2.0
    remembered_gc_nodes: int = 500
    seed_refresh_s: float = 10.0
    detector: DetectorConfig = DetectorConfig(initial_interval_s=0.4, min_interval_s=0.4)

    @classmethod
    def for_interval(cls, gossip_interval_s: float) -> MembershipConfig:
        """The defaults scaled to a gossip interval of ``gossip_interval_s`` seconds."""
        two = 2 * gossip_interval_s
        return cls(
            gossip_interval_s=gossip_interval_s, detector=DetectorConfig(initial_interval_s=two, min_interval_s=two)
        )
