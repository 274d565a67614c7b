"""The replica set of a replicated store: every member that hosts it, live or dead, until it leaves or is removed.

Consistency levels are counted over this set (Cassandra's rule, see :mod:`zactor.services.selector`), so a node that
loses sight of its peers, or restarts before it hears from them, still counts them: a minority cannot acknowledge a
QUORUM write. The set grows whenever a member is seen hosting the replication actor; it shrinks when a member leaves
gracefully (LEFT), when a live member stops hosting the store, or when an operator removes a dead one
(:meth:`ReplicaSet.remove`). It is kept in the node's own storage under the reserved keyspace ``zactor.replica-set``
(never replicated), so a restarted node knows its peers before gossip has found them.

Gossip shows a member's store a round or two after the store starts. So that no level is met by fewer replicas than
the live members hosting the store in that window (datacake's ``test_consistency_all``: stores added on connected
nodes, then at once a write at ALL), a write first asks every live member that gossip does not show hosting the
store (:meth:`ReplicaSet.unknown`): one that answers joins the set (:meth:`ReplicaSet.confirm`, trusted for its
incarnation until gossip shows its store), one that hosts no replication actor is not asked again for
``not_hosting_s`` seconds (:meth:`ReplicaSet.not_hosting`).
"""

from __future__ import annotations

from collections.abc import Iterable

from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.membership.model import Member, MemberStatus
from zactor.services.replication.storage import Document, Storage

__all__ = ["ReplicaSet", "REPLICA_SET_KEYSPACE"]

REPLICA_SET_KEYSPACE = "zactor.replica-set"
_NO_TS = HLCTimestamp(0, 0, "")


class ReplicaSet:
    """The replica set of this node's store, persisted in its storage.

    Args:
        storage: where the set is kept (the store's own storage).
        node_id: this node's id (always a member).
        data_center: this node's data center.
        hosting: the actor name that marks a member as hosting the store.

    Attributes:
        members: ``{node_id: data_center}`` of the replica set, this node included.
    """

    def __init__(self, storage: Storage, node_id: str, data_center: str, hosting: str) -> None:
        self._storage = storage
        self._node_id = node_id
        self._hosting = hosting
        self.members: dict[str, str] = {node_id: data_center}
        self._removed: set[str] = set()
        self._confirmed: dict[str, int] = {}  # node id -> the incarnation that answered a probe as a host
        self._not_hosting: dict[str, tuple[int, float]] = {}  # node id -> (incarnation, until when in s)

    def hosts(self, member: Member) -> bool:
        """Whether ``member`` hosts the store: gossip shows it, or this incarnation answered a probe as a host."""
        if self._hosting in member.actors:
            self._confirmed.pop(member.node_id, None)  # gossip speaks for it from now on
            return True
        return self._confirmed.get(member.node_id) == member.generation

    def unknown(self, members: Iterable[Member], now_s: float) -> list[Member]:
        """The live members (not this node) that may host the store though gossip does not show it yet: neither
        confirmed nor found without a store in the last ``not_hosting_s`` seconds (``now_s``: a monotonic clock)."""
        unknown = []
        for member in members:
            if member.status is not MemberStatus.LIVE or member.node_id == self._node_id or self.hosts(member):
                continue
            known = self._not_hosting.get(member.node_id)
            if known is None or known[0] != member.generation or known[1] <= now_s:
                unknown.append(member)
        return unknown

    async def confirm(self, member: Member) -> None:
        """``member`` answered a probe as a host: it joins the set (see :meth:`hosts`).

        Raises:
            StorageError: the change cannot be stored.
        """
        self._confirmed[member.node_id] = member.generation
        self._not_hosting.pop(member.node_id, None)
        if self.members.get(member.node_id) != member.data_center:
            await self.add(member.node_id, member.data_center)

    def not_hosting(self, member: Member, until_s: float) -> None:
        """``member`` has no replication actor: not asked again before ``until_s`` (monotonic, in s)."""
        self._not_hosting[member.node_id] = (member.generation, until_s)

    async def load(self) -> None:
        """Read the persisted set (members remembered from earlier runs).

        Raises:
            StorageError: the storage cannot be read.
        """
        metadata = await self._storage.iter_metadata(REPLICA_SET_KEYSPACE)
        keys = [key for key, _, is_tombstone in metadata if not is_tombstone]
        self._removed = {str(key) for key, _, is_tombstone in metadata if is_tombstone}
        for doc in await self._storage.get_many(REPLICA_SET_KEYSPACE, keys):
            self.members.setdefault(str(doc.key), bytes(doc.value).decode())

    def live(self, members: Iterable[Member]) -> dict[str, str]:
        """``{node_id: data_center}`` of the live members hosting the store (this node included), from a member
        list; it does not change the set (see :meth:`observe`)."""
        live = {self._node_id: self.members[self._node_id]}
        for member in members:
            if member.status is MemberStatus.LIVE and self.hosts(member):
                live[member.node_id] = member.data_center
        return live

    async def observe(self, members: Iterable[Member]) -> None:
        """Follow membership (live and down members): add those hosting the store (a removed node only once it is
        live again), drop those that left or stopped hosting it while live. Changes are persisted.

        Raises:
            StorageError: the change cannot be stored.
        """
        for member in members:
            if member.node_id == self._node_id:
                continue
            hosts = self.hosts(member)
            if member.status is MemberStatus.LEFT or (member.status is MemberStatus.LIVE and not hosts):
                if member.node_id in self.members:
                    await self.remove(member.node_id)
            elif hosts and self.members.get(member.node_id) != member.data_center:
                if member.status is MemberStatus.LIVE or member.node_id not in self._removed:
                    await self.add(member.node_id, member.data_center)

    async def add(self, node_id: str, data_center: str) -> None:
        """Add (or update) a member.

        Raises:
            StorageError: the change cannot be stored.
        """
        self.members[node_id] = data_center
        self._removed.discard(node_id)
        await self._storage.put(REPLICA_SET_KEYSPACE, Document(node_id, _NO_TS, data_center.encode()))

    async def remove(self, node_id: str) -> bool:
        """Remove a member (not this node), remembered across restarts even when it was not one yet; returns
        whether it was a member.

        Raises:
            ValueError: ``node_id`` is this node.
            StorageError: the change cannot be stored.
        """
        if node_id == self._node_id:
            raise ValueError("a node cannot remove itself from its replica set; stop its store instead")
        self._removed.add(node_id)
        await self._storage.mark_tombstone(REPLICA_SET_KEYSPACE, node_id, _NO_TS)
        return self.members.pop(node_id, None) is not None
