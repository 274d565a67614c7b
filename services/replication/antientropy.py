"""Pull anti-entropy (datacake's design, made incremental): every interval, ask each live peer how far each keyspace's
change log has got, and for each one that moved since the last sync with that peer, fetch the ORSWOT state of the keys
changed since then, diff it against the local one, fetch the missing documents in bounded chunks and apply the
missing deletes. After the peer restarted (a new epoch) the change log says nothing about what it holds: the nodes
first compare per-range digests (:mod:`zactor.services.replication.digest`, 1 KiB per keyspace) and exchange the state
of the differing ranges only, nothing when all agree. Then purge the tombstones every node has seen
past. A node that was down, or joins late, catches up this way without any write being replayed by hand.

Change numbers are per replica and per start (epoch), not timestamps: a document applied late with an old HLC
timestamp still counts as a change, so nothing slips between two syncs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from zactor.errors import ActorError, DecodeError, HandlerNotFound
from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.membership.model import EventKind
from zactor.services.replication.crdt import ORSWOT
from zactor.services.replication.digest import differing_ranges, unpack_digests
from zactor.services.replication.handlers import REPLICATION_ACTOR, TimestampCheck, wire_docs, wire_stamped
from zactor.services.replication.messages import FetchDocs, GetDigests, GetKeyspaceVersions, GetState
from zactor.services.replication.replica import REMOTE, Replica
from zactor.services.replication.replica_set import ReplicaSet
from zactor.services.replication.storage import Document

if TYPE_CHECKING:
    from zactor import ActorRef, Node
    from zactor.services.membership.service import MembershipService, MemberWatch

__all__ = ["AntiEntropy"]

log = logging.getLogger("zactor.replication")

SYNC_KEYSPACE = "zactor.sync-positions"  # where sync positions are stored; never replicated
_NO_TS = HLCTimestamp(0, 0, "")
_FETCHERS = 3  # chunk requests in flight at once, so reading on the peer overlaps writing here


class AntiEntropy:
    """The pull loop of one node.

    Args:
        node: the node.
        membership: the node's membership (it gives the peers).
        replica: the local replica.
        fetch_chunk: documents per FetchDocs request.
        timeout_s: deadline of each request, in seconds.
        check_ts: refuses timestamps too far ahead of local time (a peer's forged or broken clock).
        replica_set: the store's replica set, brought up to date with membership (dead and left members) each round.
        own_since_ms: peers leave out of their state the versions this node stamped at or after this HLC physical
            time (in ms): those of this process, which applied them before sending them (0: no such saving). Give the
            time this process started plus the clock's largest offset, so that no version a previous process stamped
            (and may have lost with a power cut) is left out.

    Attributes:
        stats: ``docs_fetched``, ``deletes_applied``, ``tombstones_purged``, ``sync_failures``, ``rounds``,
            ``state_keys_received`` (keys in the states pulled), ``digest_ranges_compared`` and
            ``digest_ranges_differing`` (after a peer's restart).
    """

    def __init__(
        self,
        node: Node,
        membership: MembershipService,
        replica: Replica,
        fetch_chunk: int,
        timeout_s: float,
        check_ts: TimestampCheck,
        replica_set: ReplicaSet,
        own_since_ms: int = 0,
    ) -> None:
        self._node = node
        self._own_since_ms = own_since_ms
        self._membership = membership
        self._replica_set = replica_set
        self._check_ts = check_ts
        self._replica = replica
        self._fetch_chunk = fetch_chunk
        self._timeout_s = timeout_s
        # (peer node id, keyspace) -> (the peer's epoch, the change its state was complete up to)
        self._synced: dict[tuple[str, str], tuple[int, int]] = {}
        self.stats: collections.Counter[str] = collections.Counter()

    async def run(self, interval_s: float) -> None:
        """Load the persisted sync positions, run a round at once (a restarted node pulls what it missed without
        waiting an interval, from the members it already knows), then one every ``interval_s`` seconds until
        cancelled, and one at once when a member joins (a new or restarted node: what it missed, or holds, moves
        without waiting)."""
        await self._load_positions()
        watch = self._membership.watch()
        try:
            while True:
                try:
                    await self.round()
                except Exception:  # a bug or an unforeseen failure must not end anti-entropy for good
                    self.stats["round_errors"] += 1
                    log.exception("anti-entropy round failed; the next one runs as usual")
                await self._next_round(watch, interval_s)
        finally:
            watch.close()

    async def _next_round(self, watch: MemberWatch, interval_s: float) -> None:
        """Wait ``interval_s`` seconds, or less when a member joins (one round for the joins seen together)."""
        if any(event.kind is EventKind.JOINED for event in watch.take()):
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                while (await anext(watch)).kind is not EventKind.JOINED:
                    pass
                watch.take()

    async def round(self) -> None:
        """Bring the replica set up to date, sync once with every live peer, then purge tombstones."""
        node = self._node
        await self._replica_set.observe(self._membership.members(include_down=True))
        for member in self._membership.members():
            if member.node_id == node.node_id or REPLICATION_ACTOR not in member.actors:
                continue
            try:
                await self.sync_with(member.address, member.node_id)
            except ActorError as exc:
                self.stats["sync_failures"] += 1
                log.info("anti-entropy with %s failed: %s", member.node_id, exc)
            except Exception:
                self.stats["sync_failures"] += 1
                log.exception("anti-entropy with %s failed", member.node_id)
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
        reply = await ref.ask(GetKeyspaceVersions(), timeout_s=self._timeout_s)
        fetched = 0
        epoch_known = any(n == node_id and e == reply.epoch for (n, _), (e, _) in self._synced.items())
        for keyspace, remote_seq in sorted(reply.keyspaces.items(), key=self._holds_any):
            epoch, since = self._synced.get((node_id, keyspace), (0, 0))
            if epoch == reply.epoch and remote_seq <= since:
                continue
            ranges: list[int] = []
            local = self._replica.crdt(keyspace)
            if epoch != reply.epoch:
                since = 0
                # the peer restarted (or is new): compare digests before any state. In an epoch synced in an earlier
                # round, this keyspace is most likely new, and since=0 pulls its whole change log; when nothing of it
                # is here, all of it is needed: no digests then.
                if not epoch_known and (local.entries or local.dead):
                    agreed, ranges = await self._compare_digests(ref, keyspace, reply.epoch)
                    if agreed is not None:
                        await self._save_position(node_id, keyspace, reply.epoch, agreed)
                        continue
            ask = GetState(
                keyspace=keyspace, epoch=reply.epoch, since=since, ranges=ranges, own_since_ms=self._own_since_ms
            )
            state = await ref.ask(ask, timeout_s=self._timeout_s)
            remote = ORSWOT()
            remote.entries = wire_stamped(state.entries, self._check_ts)
            remote.dead = wire_stamped(state.dead, self._check_ts)
            self.stats["state_keys_received"] += len(remote.entries) + len(remote.dead)
            modified, removed = local.diff(remote)
            fetched += await self._fetch(ref, keyspace, modified)
            if removed:
                items = [(k, remote.dead[k]) for k in removed]
                self.stats["deletes_applied"] += await self._replica.delete(keyspace, items, REMOTE)  # type: ignore[arg-type]
            await self._save_position(node_id, keyspace, reply.epoch, state.seq)
        return fetched

    def _holds_any(self, item: tuple[str, int]) -> bool:
        """Whether this replica holds anything of the keyspace ``item[0]``: the keyspaces it lacks entirely are
        pulled first, before the digest comparisons of those it holds (a restarted node gets what it never had
        soonest)."""
        crdt = self._replica.crdt(item[0])
        return bool(crdt.entries or crdt.dead)

    async def _compare_digests(self, ref: ActorRef, keyspace: str, epoch: int) -> tuple[int | None, list[int]]:
        """Compare per-range digests with the peer: ``(seq, [])`` when every range agrees (the peer's position),
        else ``(None, ranges that differ)``; ``(None, [])`` (all of it) when the peer has no digests or changed
        epoch meanwhile."""
        try:
            ask = GetDigests(keyspace=keyspace)
            reply = await ref.ask(ask, timeout_s=self._timeout_s)
            remote = unpack_digests(reply.digests)
        except HandlerNotFound:  # a peer from before digests: the whole state it is
            return None, []
        except (ValueError, TypeError):
            raise DecodeError("malformed Digests") from None
        if reply.epoch != epoch:
            return None, []
        differing = differing_ranges(self._replica.digests(keyspace), remote)
        self.stats["digest_ranges_compared"] += len(remote)
        self.stats["digest_ranges_differing"] += len(differing)
        if not differing:
            return reply.seq, []
        return None, differing if len(differing) < len(remote) else []  # all ranges: no filtering

    async def _save_position(self, node_id: str, keyspace: str, epoch: int, seq: int) -> None:
        self._synced[(node_id, keyspace)] = (epoch, seq)
        position = Document(f"{node_id}\x1f{keyspace}", _NO_TS, f"{epoch}:{seq}".encode())
        await self._replica.storage.put(SYNC_KEYSPACE, position)

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

        async def fetcher() -> int:
            applied = 0
            for start in chunks:  # shared: each chunk is taken by one fetcher
                ask = FetchDocs(keyspace=keyspace, keys=keys[start : start + self._fetch_chunk])
                docs = await ref.ask(ask, timeout_s=self._timeout_s)
                count = await self._replica.put(keyspace, wire_docs(docs.docs, self._check_ts), REMOTE)
                self.stats["docs_fetched"] += count
                applied += count
            return applied

        return sum(await asyncio.gather(*(fetcher() for _ in range(_FETCHERS))))
