"""The replica set of a replicated store: every member that hosts it, live or dead, until it leaves or is removed.

Consistency levels are counted over this set (Cassandra's rule, see :mod:`zactor.services.selector`), so a node that
loses sight of its peers, or restarts before it hears from them, still counts them: a minority cannot acknowledge a
QUORUM write. The set grows whenever a member is seen hosting the replication actor; it shrinks when a member leaves
gracefully (LEFT), when a live member stops hosting the store, or when an operator removes a dead one
(:meth:`ReplicaSet.remove`). It is kept in the node's own storage under the reserved keyspace ``zactor.replica-set``
(never replicated), so a restarted node knows its peers before gossip has found them.
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
            if member.status is MemberStatus.LIVE and self._hosting in member.actors:
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
            hosts = self._hosting in member.actors
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
