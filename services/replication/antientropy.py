"""Pull anti-entropy (datacake's design, made incremental): every interval, ask each live peer how far each keyspace's
change log has got, and for each one that moved since the last sync with that peer, fetch the ORSWOT state of the keys
changed since then (all of it after the peer restarted: a new epoch), diff it against the local one, fetch the
missing documents in bounded chunks and apply the missing deletes. Then purge the tombstones every node has seen
past. A node that was down, or joins late, catches up this way without any write being replayed by hand.

Change numbers are per replica and per start (epoch), not timestamps: a document applied late with an old HLC
timestamp still counts as a change, so nothing slips between two syncs.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import TYPE_CHECKING, Any

from actors.errors import ActorError
from services.clock import HLCTimestamp
from services.replication.crdt import ORSWOT
from services.replication.handlers import REPLICATION_ACTOR, wire_docs, wire_key
from services.replication.messages import Docs, FetchDocs, GetKeyspaceVersions, GetState, KeyspaceVersions, State
from services.replication.replica import REMOTE, Replica
from services.replication.storage import Document

if TYPE_CHECKING:
    from actors import ActorRef, Node

__all__ = ["AntiEntropy"]

log = logging.getLogger("zactor.replication")

SYNC_KEYSPACE = "zactor.sync-positions"  # where sync positions are stored; never replicated
_NO_TS = HLCTimestamp(0, 0, "")
_FETCHERS = 3  # chunk requests in flight at once, so reading on the peer overlaps writing here


class AntiEntropy:
    """The pull loop of one node.

    Args:
        node: the node (its membership gives the peers).
        replica: the local replica.
        fetch_chunk: documents per FetchDocs request.
        timeout_s: deadline of each request, in seconds.

    Attributes:
        stats: ``docs_fetched``, ``deletes_applied``, ``tombstones_purged``, ``sync_failures``, ``rounds``.
    """

    def __init__(self, node: Node, replica: Replica, fetch_chunk: int, timeout_s: float) -> None:
        self._node = node
        self._replica = replica
        self._fetch_chunk = fetch_chunk
        self._timeout_s = timeout_s
        # (peer node id, keyspace) -> (the peer's epoch, the change its state was complete up to)
        self._synced: dict[tuple[str, str], tuple[int, int]] = {}
        self.stats: collections.Counter[str] = collections.Counter()

    async def run(self, interval_s: float) -> None:
        """Load the persisted sync positions, then run rounds every ``interval_s`` seconds until cancelled."""
        await self._load_positions()
        while True:
            await asyncio.sleep(interval_s)
            await self.round()

    async def round(self) -> None:
        """Sync once with every live peer, then purge tombstones."""
        node = self._node
        for member in node.members():
            if member.node_id == node.node_id or REPLICATION_ACTOR not in member.actors:
                continue
            try:
                await self.sync_with(member.address, member.node_id)
            except ActorError as exc:
                self.stats["sync_failures"] += 1
                log.info("anti-entropy with %s failed: %s", member.node_id, exc)
        for keyspace in self._replica.keyspaces():
            self.stats["tombstones_purged"] += await self._replica.purge(keyspace)
        self.stats["rounds"] += 1

    async def sync_with(self, address: str, node_id: str) -> int:
        """Pull what the node ``node_id`` at ``address`` has and this one lacks; returns how many documents were
        fetched. Where each sync got to is stored with the documents, so a restart resumes from there.

        Raises:
            ActorError: a request failed (what was applied before stays applied).
        """
        ref = self._node.ref(REPLICATION_ACTOR, address=address)
        cluster_id = self._node.config.cluster_id
        reply = await ref.ask(GetKeyspaceVersions(cluster_id=cluster_id), timeout_s=self._timeout_s)
        assert isinstance(reply, KeyspaceVersions)
        fetched = 0
        for keyspace, remote_seq in reply.keyspaces.items():
            epoch, since = self._synced.get((node_id, keyspace), (0, 0))
            if epoch == reply.epoch and remote_seq <= since:
                continue
            if epoch != reply.epoch:
                since = 0
            ask = GetState(cluster_id=cluster_id, keyspace=keyspace, epoch=reply.epoch, since=since)
            state = await ref.ask(ask, timeout_s=self._timeout_s)
            assert isinstance(state, State)
            remote = ORSWOT()
            remote.entries = {wire_key(k): HLCTimestamp.from_wire(ts) for k, ts in state.entries}
            remote.dead = {wire_key(k): HLCTimestamp.from_wire(ts) for k, ts in state.dead}
            modified, removed = self._replica.crdt(keyspace).diff(remote)
            fetched += await self._fetch(ref, keyspace, modified)
            if removed:
                items = [(k, remote.dead[k]) for k in removed]
                self.stats["deletes_applied"] += await self._replica.delete(keyspace, items, REMOTE)  # type: ignore[arg-type]
            self._synced[(node_id, keyspace)] = (reply.epoch, state.seq)
            position = Document(f"{node_id}\x1f{keyspace}", _NO_TS, f"{reply.epoch}:{state.seq}".encode())
            await self._replica.storage.put(SYNC_KEYSPACE, position)
        self.stats["docs_fetched"] += fetched
        return fetched

    async def _load_positions(self) -> None:
        storage = self._replica.storage
        keys = [key for key, _, is_tombstone in await storage.iter_metadata(SYNC_KEYSPACE) if not is_tombstone]
        for doc in await storage.get_many(SYNC_KEYSPACE, keys):
            node_id, _, keyspace = str(doc.key).partition("\x1f")
            epoch, _, seq = bytes(doc.value).decode().partition(":")
            self._synced[(node_id, keyspace)] = (int(epoch), int(seq))

    async def _fetch(self, ref: ActorRef, keyspace: str, keys: list[Any]) -> int:
        """Fetch and apply ``keys`` in chunks, ``_FETCHERS`` requests in flight; returns how many were applied."""
        chunks = iter(range(0, len(keys), self._fetch_chunk))
        cluster_id = self._node.config.cluster_id

        async def fetcher() -> int:
            applied = 0
            for start in chunks:  # shared: each chunk is taken by one fetcher
                ask = FetchDocs(cluster_id=cluster_id, keyspace=keyspace, keys=keys[start : start + self._fetch_chunk])
                docs = await ref.ask(ask, timeout_s=self._timeout_s)
                assert isinstance(docs, Docs)
                applied += await self._replica.put(keyspace, wire_docs(docs.docs), REMOTE)
            return applied

        return sum(await asyncio.gather(*(fetcher() for _ in range(_FETCHERS))))
