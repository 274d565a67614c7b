"""The replicated store on 3 in-memory nodes in virtual time: datacake's integration scenarios plus zactor's
additions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from zactor import Actor, Context, Node, NodeConfig, handler
from zactor.errors import ClockOffsetError, ClusterMismatch, DecodeError
from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.cluster import ClusterNode
from zactor.services.membership.gossip import MembershipConfig
from zactor.services.membership.model import Member, MemberStatus
from zactor.services.membership.service import MembershipService
from zactor.services.replication import (
    ConsistencyFailure,
    MemoryStorage,
    ReplicatedStore,
    SQLiteStorage,
    Storage,
    StorageError,
    ValueTooLarge,
)
from zactor.services.replication.digest import DIGEST_RANGES
from zactor.services.replication.handlers import REPLICATION_ACTOR
from zactor.services.replication.messages import (
    Columns,
    DeleteMany,
    Docs,
    FetchDocs,
    GetKeyspaceVersions,
    GetState,
    KeyspaceVersions,
    PutMany,
    PutOne,
    State,
    WireDoc,
)
from zactor.services.replication.replica_set import ReplicaSet
from zactor.services.replication.storage import Document
from zactor.services.selector import Consistency, NotEnoughNodes
from zactor.testing import FakeClock, Seeds, wait_until
from zactor.transport import InMemoryNetwork

C = Consistency
FAST = MembershipConfig.for_interval(0.05)
SEEDS = Seeds(11)


async def start_node(
    network: InMemoryNetwork,
    clock: FakeClock,
    i: int,
    seeds: tuple[str, ...],
    storage: Storage,
    replication_factor: int = 0,
    incarnation: int = 0,
) -> tuple[ClusterNode, ReplicatedStore]:
    cfg = NodeConfig(node_id=f"n{i}", bind="mem://n:0", seeds=seeds, cluster_id="kv", data_center=f"dc{i % 2}")
    node = ClusterNode(
        cfg,
        transport=network.transport(),
        membership=MembershipService(FAST),
        time_source=clock,
        rng=SEEDS.rng(f"{cfg.node_id}/{incarnation}"),  # a restart draws a new change-log epoch
    )
    await node.start()
    store = await node.add_extension(
        ReplicatedStore(
            storage, anti_entropy_interval_s=0.1, write_timeout_s=0.5, replication_factor=replication_factor
        )
    )
    return node, store


@asynccontextmanager
async def kv_cluster(
    n: int, clock: FakeClock, network: InMemoryNetwork | None = None
) -> AsyncIterator[tuple[list[ClusterNode], list[ReplicatedStore]]]:
    network = network or InMemoryNetwork()
    nodes: list[ClusterNode] = []
    stores: list[ReplicatedStore] = []
    try:
        for i in range(n):
            node, store = await start_node(network, clock, i, (nodes[0].address,) if nodes else (), MemoryStorage())
            nodes.append(node)
            stores.append(store)
        for node in nodes:
            await node.membership.wait_for_members(n, timeout_s=5.0)
        yield nodes, stores
    finally:
        for node in nodes:
            await node.stop()


async def _everywhere(stores: list[ReplicatedStore], keyspace: str, key: Any, value: Any) -> bool:
    return all([await s.get(keyspace, key) == value for s in stores])


async def test_single_node_put_get_delete_and_batches(clock: FakeClock) -> None:
    """On one node: put/get/delete, batches, missing keys left out, unknown keyspace empty."""
    async with kv_cluster(1, clock) as (_, [store]):
        await store.put("ks", "a", b"1", C.NONE)
        assert await store.get("ks", "a") == b"1"
        await store.put_many("ks", [("b", b"2"), ("c", b"3")], C.NONE)
        assert await store.get_many("ks", ["a", "c", "missing"]) == {"a": b"1", "c": b"3"}
        await store.delete("ks", "a", C.NONE)
        await store.delete_many("ks", ["b", "never-there"], C.NONE)
        assert await store.get("ks", "a") is None and await store.get_many("ks", ["a", "b", "c"]) == {"c": b"3"}
        assert await store.get("unknown-keyspace", "a") is None
        assert await store.keyspaces() == ["ks"]


async def test_all_is_visible_everywhere_at_once(clock: FakeClock) -> None:
    """A write acknowledged at ALL is readable on every node immediately."""
    async with kv_cluster(3, clock) as (_, stores):
        await stores[0].put("ks", "k", b"v", C.ALL)
        assert await _everywhere(stores, "ks", "k", b"v")
        await stores[1].delete("ks", "k", C.ALL)
        assert await _everywhere(stores, "ks", "k", None)


async def test_none_is_visible_everywhere_after_anti_entropy(clock: FakeClock) -> None:
    """A write at NONE reaches the other nodes through anti-entropy alone."""
    async with kv_cluster(3, clock) as (_, stores):
        await stores[2].put_many("ks", [(f"k{i}", bytes([i])) for i in range(50)], C.NONE)
        assert await stores[0].get("ks", "k7") is None
        await wait_until(lambda: _everywhere(stores, "ks", "k49", bytes([49])))
        assert all([len(await s.get_many("ks", [f"k{i}" for i in range(50)])) == 50 for s in stores])


async def test_conflicting_writes_converge_to_the_newest(clock: FakeClock) -> None:
    """Concurrent writes of one key on different nodes converge to the newest HLC everywhere."""
    async with kv_cluster(3, clock) as (_, stores):
        for i, store in enumerate(stores):
            await store.put("ks", "k", f"from-{i}".encode(), C.NONE)
        newest = max(range(3), key=lambda i: stores[i].replica.crdt("ks").entries["k"])
        await wait_until(lambda: _everywhere(stores, "ks", "k", f"from-{newest}".encode()))


async def test_put_then_later_delete_converges_to_deleted(clock: FakeClock) -> None:
    """A put on one node and a delete on another that saw it (so it is later in HLC order) converge to deleted."""
    async with kv_cluster(3, clock) as (_, stores):
        await stores[0].put("ks", "k", b"v", C.NONE)
        await wait_until(lambda: _everywhere(stores[1:2], "ks", "k", b"v"))
        await stores[1].delete("ks", "k", C.NONE)
        await stores[2].put("ks", "other", b"x", C.NONE)
        await wait_until(lambda: _everywhere(stores, "ks", "other", b"x"))
        await wait_until(lambda: _everywhere(stores, "ks", "k", None))


async def test_keyspaces_are_isolated(clock: FakeClock) -> None:
    """The same key in two keyspaces holds two values."""
    async with kv_cluster(2, clock) as (_, stores):
        await stores[0].put("a", "k", b"in-a", C.ALL)
        await stores[0].put("b", "k", b"in-b", C.ALL)
        assert await stores[1].get("a", "k") == b"in-a" and await stores[1].get("b", "k") == b"in-b"
        assert await stores[1].keyspace("a").get("k") == b"in-a"


async def test_late_joiner_receives_existing_documents(clock: FakeClock) -> None:
    """A node that joins after the writes catches up through anti-entropy: every document, from either peer."""
    network = InMemoryNetwork()
    written = {f"k{i}": b"x" * i for i in range(100)}
    async with kv_cluster(2, clock, network) as (nodes, stores):
        await stores[0].put_many("ks", list(written.items()), C.ALL)
        node, late = await start_node(network, clock, 2, (nodes[0].address,), MemoryStorage())
        try:

            async def caught_up() -> bool:
                return await late.get_many("ks", list(written)) == written

            await wait_until(caught_up, what="the late joiner to hold all 100 documents")
            assert late.anti_entropy is not None and late.anti_entropy.stats["docs_fetched"] >= 100
        finally:
            await node.stop()


async def test_a_store_started_after_its_peers_joined_pulls_at_once(clock: FakeClock) -> None:
    """A store added once membership already knows its peers (as after a restart that loads a large replica) runs
    its first anti-entropy round at once, not an interval later (an hour here)."""
    network = InMemoryNetwork()
    async with kv_cluster(2, clock, network) as (nodes, stores):
        await stores[0].put_many("ks", [(f"k{i}", b"v") for i in range(50)], C.ALL)
        cfg = NodeConfig(node_id="n2", bind="mem://n:0", seeds=(nodes[0].address,), cluster_id="kv")
        node = ClusterNode(cfg, transport=network.transport(), membership=MembershipService(FAST), time_source=clock)
        await node.start()
        try:
            await node.membership.wait_for_members(3, timeout_s=5.0)
            late = await node.add_extension(ReplicatedStore(MemoryStorage(), anti_entropy_interval_s=3600))

            async def caught_up() -> bool:
                return len(await late.get_many("ks", [f"k{i}" for i in range(50)])) == 50

            await wait_until(caught_up, timeout_s=10.0, what="the late store to hold all 50 documents")
        finally:
            await node.stop()


async def test_an_unanswering_replica_fails_all_which_still_converges(clock: FakeClock) -> None:
    """ALL with one replica cut off (not yet declared dead) raises ConsistencyFailure(2, 3) at its deadline; the
    write is kept and spreads once the link is back."""
    network = InMemoryNetwork()
    async with kv_cluster(3, clock, network) as (nodes, stores):
        network.cut(nodes[0].address, nodes[2].address)
        with pytest.raises(ConsistencyFailure) as info:
            await stores[0].put("ks", "k", b"v", C.ALL)
        assert (info.value.acked, info.value.required) == (2, 3)
        network.heal()
        await wait_until(lambda: _everywhere(stores, "ks", "k", b"v"))


async def test_quorum_write_fails_when_replicas_do_not_answer_and_repairs_later(clock: FakeClock) -> None:
    """With the other nodes cut off, a QUORUM write fails by its deadline; after healing it converges."""
    network = InMemoryNetwork()
    async with kv_cluster(3, clock, network) as (nodes, stores):
        for other in nodes[1:]:
            network.cut(nodes[0].address, other.address)
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ConsistencyFailure):
            await stores[0].put("ks", "k", b"v", C.QUORUM)
        assert loop.time() - start < 2.0, "the write timeout must be a real deadline"
        network.heal()
        await wait_until(lambda: _everywhere(stores, "ks", "k", b"v"))


async def test_quorum_read_returns_the_newest_and_repairs_stale_replicas(clock: FakeClock) -> None:
    """get(consistency=ALL) returns the newest version among replicas and writes it back to stale ones."""
    network = InMemoryNetwork()
    async with kv_cluster(3, clock, network) as (nodes, stores):
        for other in nodes[1:]:
            network.cut(nodes[0].address, other.address)
        await stores[0].put("ks", "k", b"newest", C.NONE)
        network.heal()
        await nodes[1].membership.wait_for_members(3, timeout_s=5.0)
        assert await stores[1].get("ks", "k", consistency=C.ALL) == b"newest"
        assert await stores[1].get("ks", "k") == b"newest"


async def test_restarted_node_with_sqlite_keeps_acknowledged_writes(tmp_path: Path, clock: FakeClock) -> None:
    """A node restarted on its SQLite file rebuilds its CRDT and holds every acknowledged write and delete."""
    network = InMemoryNetwork()
    node, store = await start_node(network, clock, 0, (), SQLiteStorage(tmp_path / "n0.db"))
    await store.put_many("ks", [(f"k{i}", bytes([i])) for i in range(20)], C.NONE)
    await store.delete("ks", "k3", C.NONE)
    await node.stop()
    node, store = await start_node(network, clock, 0, (), SQLiteStorage(tmp_path / "n0.db"))
    try:
        assert len(await store.get_many("ks", [f"k{i}" for i in range(20)])) == 19
        assert store.replica.crdt("ks").dead.keys() == {"k3"}
    finally:
        await node.stop()


async def test_a_restarted_node_resumes_anti_entropy_where_it_stopped(tmp_path: Path, clock: FakeClock) -> None:
    """Sync positions survive a restart: the restarted node fetches only what it missed, not the peer's state."""
    network = InMemoryNetwork()
    a, store_a = await start_node(network, clock, 0, (), MemoryStorage())
    b, store_b = await start_node(network, clock, 1, (a.address,), SQLiteStorage(tmp_path / "n1.db"))
    try:
        await store_a.put_many("ks", [(f"old{i}", b"x") for i in range(200)], C.NONE)
        await wait_until(lambda: _everywhere([store_b], "ks", "old199", b"x"))
        await b.stop()
        await store_a.put_many("ks", [(f"new{i}", b"y") for i in range(30)], C.NONE)
        b, store_b = await start_node(network, clock, 1, (a.address,), SQLiteStorage(tmp_path / "n1.db"))
        stats = store_b.anti_entropy.stats  # type: ignore[union-attr]

        async def synced() -> bool:
            return stats["docs_fetched"] >= 30 and await store_b.get("ks", "new29") == b"y"

        await wait_until(synced)
        assert stats["docs_fetched"] == 30
        assert await store_b.keyspaces() == ["ks"], "the sync positions are not a user keyspace"
        with pytest.raises(ValueError):
            await store_b.put("zactor.sync-positions", "k", b"v")
    finally:
        await b.stop()
        await a.stop()


async def test_bad_input_is_refused_clearly(clock: FakeClock) -> None:
    """Wrong key types, non-bytes and oversized values, impossible timestamps, and writes from a node that is no
    member of the cluster are refused."""
    network = InMemoryNetwork()
    async with kv_cluster(2, clock, network) as (nodes, stores):
        store = stores[0]
        await store.put("ks", "empty", b"", C.ALL)
        assert await stores[1].get("ks", "empty") == b""
        with pytest.raises(TypeError):
            await store.put("ks", 42, b"v")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await store.put("ks", "k", "not bytes")
        small = ReplicatedStore(MemoryStorage(), max_value_bytes=10)
        with pytest.raises(ValueTooLarge):
            await small.put("ks", "k", b"x" * 11)
        replication = nodes[1].ref(REPLICATION_ACTOR, address=nodes[0].address)
        plain = Node(NodeConfig(node_id="client", bind="mem://c:0"), transport=network.transport(), time_source=clock)
        async with plain as client:  # a plain node is no cluster member: refused
            with pytest.raises(ClusterMismatch):
                await client.ref(REPLICATION_ACTOR, address=nodes[0].address).ask(
                    PutOne(keyspace="ks", key="k", ts=(1, 0, "x"), value=b"v")
                )
        for bad in (
            PutOne(keyspace="ks", key="k", ts=(1, 0, "x"), value=42),  # type: ignore[arg-type]
            PutOne(keyspace="ks", key=3.5, ts=(1, 0, "x"), value=b"v"),  # type: ignore[arg-type]
            PutOne(keyspace="ks", key="k", ts="yesterday", value=b"v"),  # type: ignore[arg-type]
            PutOne(keyspace="ks", key="k", ts=(1, 2**40, "x"), value=b"v"),  # a logical counter out of range
            PutMany(keyspace="ks", docs=[("k", (1, 0, "x"))]),  # type: ignore[list-item]
            DeleteMany(keyspace="ks", items="k"),  # type: ignore[arg-type]
        ):
            with pytest.raises(DecodeError, match="could not decode|logical"):
                await replication.ask(bad)
        assert await replication.ask(PutOne(keyspace="ok", key="k", ts=(1, 0, "x"), value=b"v")) is None
        assert await store.get("ks", "k") is None


async def test_documents_stamped_far_in_the_future_are_refused(clock: FakeClock) -> None:
    """A PutMany or DeleteMany stamped 2**62 ms is refused (ClockOffsetError), with the honest documents of its
    batch; a later QUORUM write then wins."""
    async with kv_cluster(3, clock) as (nodes, stores):
        replication = nodes[1].ref(REPLICATION_ACTOR, address=nodes[0].address)
        forged = (2**62, 0, "evil")
        honest = (clock.wall_ms(), 0, "n1")
        batch: list[WireDoc] = [("before", honest, b"ok"), ("k", forged, b"forged"), ("after", honest, b"ok")]
        with pytest.raises(ClockOffsetError):
            await replication.ask(PutMany(keyspace="ks", docs=batch))
        assert await stores[0].get_many("ks", ["before", "after"]) == {}
        with pytest.raises(ClockOffsetError):
            await replication.ask(DeleteMany(keyspace="ks", items=[("k", forged)]))
        await stores[0].put("ks", "k", b"real", C.QUORUM)
        assert await stores[0].get("ks", "k", consistency=C.QUORUM) == b"real"
        assert await stores[0].get("ks", "k") == b"real"


class _HostileReplica(Actor):
    """Answers anti-entropy with a keyspace change and then a state of malformed shape."""

    @handler
    async def versions(self, msg: GetKeyspaceVersions, ctx: Context) -> KeyspaceVersions:
        return KeyspaceVersions(epoch=1, keyspaces={"ks": 5})

    @handler
    async def state(self, msg: GetState, ctx: Context) -> State:
        return State(entries=[["k"]], dead=[], seq="five")  # type: ignore[arg-type]


async def test_anti_entropy_survives_a_peer_sending_malformed_state(clock: FakeClock) -> None:
    """A peer whose anti-entropy answers are malformed is counted as a failed sync; the loop keeps running."""
    async with kv_cluster(2, clock) as (nodes, stores):
        await nodes[1].remove_extension("replication")
        await nodes[1].add_actor(REPLICATION_ACTOR, _HostileReplica())
        ae = stores[0].anti_entropy
        assert ae is not None
        await wait_until(lambda: ae.stats["sync_failures"] >= 2, what="two failed syncs")
        rounds = ae.stats["rounds"]
        await wait_until(lambda: ae.stats["rounds"] > rounds + 1, what="rounds after the failures")


class _ForgingReplica(Actor):
    """Answers anti-entropy with a state where one timestamp among honest ones is 2**62 ms, and records fetches."""

    def __init__(self, honest: list[Any]) -> None:
        self.honest = honest
        self.fetched: list[Any] = []

    @handler
    async def versions(self, msg: GetKeyspaceVersions, ctx: Context) -> KeyspaceVersions:
        return KeyspaceVersions(epoch=1, keyspaces={"ks": 3})

    @handler
    async def state(self, msg: GetState, ctx: Context) -> State:
        honest_ms, _, node = self.honest
        entries: Columns = (["a", "forged", "b"], [honest_ms, 2**62, honest_ms], [0, 0, 0], [node, "evil", node])
        return State(entries=entries, dead=([], [], [], []), seq=3)

    @handler
    async def fetch(self, msg: FetchDocs, ctx: Context) -> Docs:
        self.fetched.append(msg.keys)
        return Docs(docs=[])


async def test_anti_entropy_refuses_a_state_with_a_timestamp_far_ahead(clock: FakeClock) -> None:
    """One forged timestamp in a peer's state fails the whole sync: nothing of that state is fetched."""
    async with kv_cluster(2, clock) as (nodes, stores):
        await nodes[1].remove_extension("replication")
        forging = _ForgingReplica([clock.wall_ms(), 0, "n2"])
        await nodes[1].add_actor(REPLICATION_ACTOR, forging)
        ae = stores[0].anti_entropy
        assert ae is not None
        await wait_until(lambda: ae.stats["sync_failures"] >= 2, what="two failed syncs")
        assert forging.fetched == [] and ae.stats["docs_fetched"] == 0


class _FailingStorage(MemoryStorage):
    """Memory storage whose writes can be made to fail, as on a full disk."""

    is_full = False

    async def put_many(self, keyspace: str, docs: Any) -> None:
        if self.is_full and not keyspace.startswith("zactor."):
            raise StorageError("", "disk full")
        await super().put_many(keyspace, docs)


async def test_a_fresh_node_never_takes_itself_for_the_whole_cluster(clock: FakeClock) -> None:
    """Alone with replication_factor=3, QUORUM and ALL are refused at once (NotEnoughNodes), and nothing is
    written; ONE is served."""
    network = InMemoryNetwork()
    node, store = await start_node(network, clock, 0, (), MemoryStorage(), replication_factor=3)
    try:
        for level in (C.QUORUM, C.ALL):
            with pytest.raises(NotEnoughNodes) as info:
                await store.put("ks", "k", b"v", level)
            assert info.value.live == 1 and info.value.required == (2 if level is C.QUORUM else 3)
        assert await store.get("ks", "k") is None
        await store.put("ks", "k", b"v", C.ONE)
        assert await store.get("ks", "k") == b"v"
    finally:
        await node.stop()


async def test_quorum_waits_for_membership_to_sync_with_a_seed(clock: FakeClock) -> None:
    """A node whose seed has not answered yet knows only itself: QUORUM is refused, not acknowledged as 1 of 1."""
    network = InMemoryNetwork()
    node, store = await start_node(network, clock, 0, ("mem://nobody:1",), MemoryStorage())
    try:
        with pytest.raises(NotEnoughNodes, match="synced"):
            await store.put("ks", "k", b"v", C.QUORUM)
    finally:
        await node.stop()


async def test_a_node_cut_off_from_both_peers_acknowledges_no_quorum_write(clock: FakeClock) -> None:
    """Once its peers are dead to it, a minority node refuses QUORUM at once: dead replicas still count in N."""
    network = InMemoryNetwork()
    async with kv_cluster(3, clock, network) as (nodes, stores):
        for other in nodes[1:]:
            network.cut(nodes[0].address, other.address)
        await wait_until(lambda: len(nodes[0].membership.members()) == 1, what="both peers dead to n0")
        with pytest.raises(NotEnoughNodes) as info:
            await stores[0].put("ks", "k", b"v", C.QUORUM)
        assert (info.value.live, info.value.required) == (1, 2)
        assert await stores[0].get("ks", "k") is None
        await stores[1].put("ks", "k2", b"v", C.QUORUM)


async def test_quorum_falls_back_to_a_healthy_replica_when_one_disk_is_full(clock: FakeClock) -> None:
    """With n0's disk full, QUORUM writes through n1 succeed on n1 and n2 (every live replica is asked)."""
    network = InMemoryNetwork()
    full = _FailingStorage()
    nodes, stores = [], []
    try:
        for i, storage in enumerate([full, MemoryStorage(), MemoryStorage()]):
            node, store = await start_node(network, clock, i, (nodes[0].address,) if nodes else (), storage)
            nodes.append(node)
            stores.append(store)
        for node in nodes:
            await node.membership.wait_for_members(3, timeout_s=5.0)
        full.is_full = True
        for i in range(20):
            await stores[1].put("ks", f"k{i}", b"v", C.QUORUM)
        assert await stores[2].get("ks", "k19") == b"v" and await stores[0].get("ks", "k19") is None
    finally:
        for node in nodes:
            await node.stop()


async def test_dead_replicas_count_until_an_operator_removes_them(clock: FakeClock) -> None:
    """A replica cut off for good is DEAD but still counted: ALL is refused until remove_replica, which reaches
    every live replica; a graceful stop leaves the set by itself."""
    network = InMemoryNetwork()
    async with kv_cluster(4, clock, network) as (nodes, stores):
        for other in nodes[:3]:
            network.cut(nodes[3].address, other.address)
        await wait_until(lambda: all(len(n.membership.members()) == 3 for n in nodes[:3]), what="n3 dead to the others")
        await stores[0].put("ks", "k", b"v", C.QUORUM)
        with pytest.raises(NotEnoughNodes):
            await stores[0].put("ks", "k", b"v", C.ALL)
        with pytest.raises(ValueError, match="live"):
            await stores[0].remove_replica("n1")
        assert await stores[0].remove_replica("n3")
        await stores[0].put("ks", "k", b"v", C.ALL)
        await stores[1].put("ks", "k", b"v", C.ALL)
        await nodes[2].stop()
        await wait_until(lambda: "n2" not in stores[0].replica_set.members, what="n2 to leave the set")  # type: ignore[union-attr]
        await stores[0].put("ks", "k", b"v", C.ALL)


async def test_a_restarted_node_remembers_its_replica_set(tmp_path: Path, clock: FakeClock) -> None:
    """The replica set is stored with the data: a node restarted alone on its SQLite file refuses QUORUM."""
    network = InMemoryNetwork()
    async with kv_cluster(2, clock, network) as (nodes, stores):
        node, store = await start_node(network, clock, 2, (nodes[0].address,), SQLiteStorage(tmp_path / "n2.db"))
        await node.membership.wait_for_members(3, timeout_s=5.0)
        await store.put("ks", "k", b"v", C.QUORUM)
        await node.stop()
    node, store = await start_node(InMemoryNetwork(), clock, 2, (), SQLiteStorage(tmp_path / "n2.db"))
    try:
        assert set(store.replica_set.members) == {"n0", "n1", "n2"}  # type: ignore[union-attr]
        with pytest.raises(NotEnoughNodes):
            await store.put("ks", "k", b"v2", C.QUORUM)
    finally:
        await node.stop()


async def test_a_removal_is_remembered_even_for_a_node_not_yet_in_the_set() -> None:
    """An operator's removal of a node this replica never counted survives a restart: gossip that still shows
    the node dead does not add it back."""
    storage = MemoryStorage()
    replica_set = ReplicaSet(storage, "n0", "dc1", REPLICATION_ACTOR)
    await replica_set.load()
    assert not await replica_set.remove("gone")
    restarted = ReplicaSet(storage, "n0", "dc1", REPLICATION_ACTOR)
    await restarted.load()
    dead = Member(
        node_id="gone",
        generation=1,
        address="mem://gone:1",
        data_center="dc1",
        status=MemberStatus.DEAD,
        actors=(REPLICATION_ACTOR,),
        heartbeat=9,
        phi=20.0,
        meta={},
    )
    await restarted.observe([dead])
    assert restarted.members == {"n0": "dc1"}


async def test_in_sync_replicas_exchange_under_1_kib_per_round_per_keyspace(clock: FakeClock) -> None:
    """Once two replicas agree, an anti-entropy round between them costs a version exchange, not a state diff:
    under 1 KiB on the wire per keyspace, however many documents the keyspaces hold."""
    async with kv_cluster(2, clock) as (nodes, stores):
        keyspaces = [f"ks{i}" for i in range(5)]
        for keyspace in keyspaces:
            await stores[0].put_many(keyspace, [(f"{keyspace}-{i:05d}", bytes(100)) for i in range(1000)], C.NONE)
        await wait_until(lambda: _everywhere(stores[1:], "ks4", "ks4-00999", bytes(100)))
        anti_entropy = stores[1].anti_entropy
        assert anti_entropy is not None
        await anti_entropy.sync_with(nodes[0].address, nodes[0].node_id)  # the last changes, if any
        stats = nodes[1].transport.stats
        before = stats["bytes_out"] + stats["bytes_in"]
        fetched = await anti_entropy.sync_with(nodes[0].address, nodes[0].node_id)
        round_bytes = stats["bytes_out"] + stats["bytes_in"] - before
        assert fetched == 0
        assert round_bytes < 1024 * len(keyspaces), f"{round_bytes} bytes for {len(keyspaces)} keyspaces"


async def _restart_after(
    network: InMemoryNetwork, clock: FakeClock, node: ClusterNode, path: Path, seeds: tuple[str, ...], incarnation: int
) -> tuple[ClusterNode, ReplicatedStore]:
    await node.stop()
    return await start_node(network, clock, 1, seeds, SQLiteStorage(path), incarnation=incarnation)


async def test_a_restarted_peer_that_agrees_costs_digests_not_state(tmp_path: Path, clock: FakeClock) -> None:
    """After a peer restarts (a new change log), the nodes compare per-range digests: when every range agrees no
    state travels; when the restarted peer holds documents the other lacks, only their ranges' state travels."""
    network = InMemoryNetwork()
    a, store_a = await start_node(network, clock, 0, (), MemoryStorage())
    b, store_b = await start_node(network, clock, 1, (a.address,), SQLiteStorage(tmp_path / "n1.db"))
    try:
        for keyspace in ("ks0", "ks1"):
            await store_b.put_many(keyspace, [(f"{keyspace}-{i:04d}", b"v") for i in range(1000)], C.NONE)
        await wait_until(lambda: _everywhere([store_a], "ks1", "ks1-0999", b"v"))
        stats = store_a.anti_entropy.stats  # type: ignore[union-attr]
        received, fetched = stats["state_keys_received"], stats["docs_fetched"]
        compared, differing = stats["digest_ranges_compared"], stats["digest_ranges_differing"]

        b, store_b = await _restart_after(network, clock, b, tmp_path / "n1.db", (a.address,), 1)
        await wait_until(lambda: stats["digest_ranges_compared"] >= compared + 2 * DIGEST_RANGES)
        assert stats["digest_ranges_differing"] == differing
        assert (stats["state_keys_received"], stats["docs_fetched"]) == (received, fetched)

        await b.stop()  # documents the other node never saw, written into the stopped node's file
        storage = SQLiteStorage(tmp_path / "n1.db")
        stamp = HLCTimestamp(clock.wall_ms(), 0, "n1")
        await storage.put_many("ks0", [Document(f"late-{i}", stamp, b"late") for i in range(3)])
        await storage.close()
        b, store_b = await _restart_after(network, clock, b, tmp_path / "n1.db", (a.address,), 2)
        await wait_until(lambda: _everywhere([store_a], "ks0", "late-2", b"late"))
        assert stats["docs_fetched"] == fetched + 3
        assert 1 <= stats["digest_ranges_differing"] - differing <= 3
        assert stats["state_keys_received"] - received < 100, "only the differing ranges' state, not 1,000 keys"
    finally:
        await b.stop()
        await a.stop()


async def test_a_keyspace_this_node_lacks_is_pulled_whole_without_digests(tmp_path: Path, clock: FakeClock) -> None:
    """A peer that joins holding a keyspace this node has nothing of: its state is pulled whole at once, without
    comparing digests first (they could only all differ)."""
    stamp = HLCTimestamp(clock.wall_ms(), 0, "n1")
    storage = SQLiteStorage(tmp_path / "n1.db")
    await storage.put_many("held", [Document(f"k{i}", stamp, b"v") for i in range(50)])
    await storage.close()
    network = InMemoryNetwork()
    a, store_a = await start_node(network, clock, 0, (), MemoryStorage())
    b, _ = await start_node(network, clock, 1, (a.address,), SQLiteStorage(tmp_path / "n1.db"))
    try:
        await wait_until(lambda: _everywhere([store_a], "held", "k49", b"v"))
        stats = store_a.anti_entropy.stats  # type: ignore[union-attr]
        assert (stats["docs_fetched"], stats["state_keys_received"]) == (50, 50)
        assert stats["digest_ranges_compared"] == 0
    finally:
        await b.stop()
        await a.stop()


async def test_a_keyspace_created_after_the_first_sync_costs_no_digests(clock: FakeClock) -> None:
    """Digests are compared when a peer's change log is new to this node, not for each new keyspace in a log it
    already follows (there, the change log since 0 is the whole keyspace)."""
    async with kv_cluster(2, clock) as (nodes, stores):
        await stores[0].put("ks0", "k", b"v", C.ALL)  # held by both: the first sync compares digests
        stats = stores[0].anti_entropy.stats  # type: ignore[union-attr]
        await wait_until(lambda: stats["digest_ranges_compared"] > 0, what="the first sync, with digests")
        compared = stats["digest_ranges_compared"]
        await stores[1].put_many("new", [(f"k{i}", b"v") for i in range(100)], C.ONE)
        rounds = stats["rounds"]
        await wait_until(lambda: stats["rounds"] >= rounds + 2, what="two anti-entropy rounds")
        assert await stores[0].get("new", "k99") == b"v"
        assert stats["digest_ranges_compared"] == compared


async def test_a_pull_leaves_out_the_askers_own_writes_but_not_a_previous_processs(clock: FakeClock) -> None:
    """A peer's state leaves out what the asking process wrote itself (it holds those); a node restarted with its
    disk lost gets back what its previous process wrote, from a peer."""
    network = InMemoryNetwork()
    a, store_a = await start_node(network, clock, 0, (), MemoryStorage())
    b, store_b = await start_node(network, clock, 1, (a.address,), MemoryStorage())
    try:
        await b.membership.wait_for_members(2, timeout_s=5.0)
        await store_b.put_many("ks", [(f"old{i}", b"x") for i in range(40)], C.ALL)
        await b.stop()
        await asyncio.sleep(2.0)  # past the clock's largest offset: the next process stamps later
        b, store_b = await start_node(network, clock, 1, (a.address,), MemoryStorage(), incarnation=1)
        await wait_until(lambda: _everywhere([store_b], "ks", "old39", b"x"), what="the lost writes back from a")
        anti_entropy = store_b.anti_entropy
        assert anti_entropy is not None
        await asyncio.sleep(1.0)  # past the margin for a previous process's stamps
        await anti_entropy.sync_with(a.address, a.node_id)
        await store_b.put_many("ks", [(f"new{i}", b"y") for i in range(50)], C.ALL)
        received = anti_entropy.stats["state_keys_received"]
        await anti_entropy.sync_with(a.address, a.node_id)
        assert anti_entropy.stats["state_keys_received"] == received, "b's own writes came back in a's state"
    finally:
        await b.stop()
        await a.stop()
