"""Durable virtual actors over the in-memory transport, in virtual time: state loaded on activation and saved at a
quorum, kept across idle deactivation and a move, put back when a handler fails, and a former owner's write refused
with ``StaleTerm`` so that it never surfaces later."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "services"))

from memcluster import cluster, hosting  # noqa: E402

from zactor import Context, Returns, handler, message  # noqa: E402
from zactor.errors import RemoteError, RequestTimeout  # noqa: E402
from zactor.services.cluster import ClusterNode  # noqa: E402
from zactor.services.replication import MemoryStorage, ReplicatedStore  # noqa: E402
from zactor.services.replication.fenced import FencedRow, StaleTerm  # noqa: E402
from zactor.services.virtual import DurableActor  # noqa: E402
from zactor.testing import FakeClock, wait_until  # noqa: E402
from zactor.transport import InMemoryNetwork  # noqa: E402


@message("test.durable.Add")
class Add(Returns["Total"]):
    by: int = 1
    fail: bool = False


@message("test.durable.Total")
class Total:
    value: int
    node: str


@message("test.durable.TallyState")
class TallyState:
    value: int = 0


class Tally(DurableActor[TallyState]):
    instances: list[Tally] = []

    async def on_activate(self, ctx: Context) -> None:
        Tally.instances.append(self)

    @handler
    async def add(self, msg: Add, ctx: Context) -> Total:
        self.state = TallyState(value=self.state.value + msg.by)
        if msg.fail:
            raise ValueError("refused after changing the state")
        return Total(value=self.state.value, node=ctx.node_id)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    Tally.instances = []


async def _hosting(nodes: list[ClusterNode], idle_s: float = 60.0) -> None:
    for node in nodes:
        await node.add_extension(ReplicatedStore(MemoryStorage(), write_timeout_s=1.0, replication_factor=3))
    await hosting(nodes, "tally", Tally, shards=2, idle_s=idle_s)


async def test_state_survives_deactivation_and_a_failed_handler_changes_nothing(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await _hosting(nodes, idle_s=1.0)
        ref = nodes[0].virtual("tally", "a")
        for _ in range(3):
            total = await ref.ask(Add(by=2), timeout_s=10.0)
        assert total.value == 6
        with pytest.raises(RemoteError, match="refused after changing"):
            await ref.ask(Add(by=100, fail=True), timeout_s=10.0)
        await wait_until(lambda: not any(n.virtual_actors.active() for n in nodes), timeout_s=5.0, what="idle stop")
        again = await nodes[2].virtual("tally", "a").ask(Add(by=1), timeout_s=10.0)
        assert again.value == 7  # loaded from the store: 6, not the failed handler's 106
        assert len(Tally.instances) == 2


async def test_a_moved_key_keeps_its_state_and_the_former_owner_cannot_write(clock: FakeClock) -> None:
    network = InMemoryNetwork()
    async with cluster(3, network, clock) as nodes:
        await _hosting(nodes)
        for _ in range(5):
            first = await nodes[0].virtual("tally", "m").ask(Add(), timeout_s=10.0)
        owner = next(n for n in nodes if n.node_id == first.node)
        old = Tally.instances[-1]
        others = [n for n in nodes if n is not owner]
        for other in others:
            network.cut(owner.address, other.address)
        moved = await others[0].virtual("tally", "m").ask(Add(by=10), timeout_s=15.0)
        assert moved.node != owner.node_id and moved.value == 15
        network.heal()
        await owner.membership.wait_for_members(3, timeout_s=10.0)
        old.state = TallyState(value=1_000)  # a paused former owner wakes up and saves
        with pytest.raises(StaleTerm):
            await old.save()
        assert old.state == TallyState(value=5)  # put back as last saved
        newest = Tally.instances[-1]
        rows = [await n.extension(ReplicatedStore)._fenced.get("virtual.tally", "m") for n in nodes]  # type: ignore[union-attr]
        best = max(rows, key=FencedRow.version)
        assert best.term == newest.term and newest._decode(best.value or b"") == TallyState(value=15)
        stats = [n.extension(ReplicatedStore).stats["stale_terms"] for n in nodes]
        assert stats[nodes.index(owner)] == 1


async def test_an_activation_below_the_keys_fence_is_refused_not_run(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await _hosting(nodes)
        await nodes[0].extension(ReplicatedStore).fenced("virtual.tally").claim("f", 10**9)  # a newer owner's claim
        with pytest.raises(RequestTimeout):
            await nodes[1].virtual("tally", "f").ask(Add(), timeout_s=2.0)
        assert sum(n.virtual_actors.stats["stale_term"] for n in nodes) >= 1
        assert Tally.instances == [] and not any(n.virtual_actors.active() for n in nodes)


class Ledger(DurableActor[TallyState]):
    """A durable singleton: its total moves with it."""

    @handler
    async def add(self, msg: Add, ctx: Context) -> Total:
        self.state = TallyState(value=self.state.value + msg.by)
        return Total(value=self.state.value, node=ctx.node_id)


async def test_a_durable_singleton_moves_with_its_state(clock: FakeClock) -> None:
    network = InMemoryNetwork()
    async with cluster(3, network, clock) as nodes:
        for node in nodes:
            await node.membership.wait_for_members(3, timeout_s=5.0)
            await node.add_extension(ReplicatedStore(MemoryStorage(), write_timeout_s=1.0, replication_factor=3))
        for node in nodes:
            await node.singleton("ledger", Ledger)
        for _ in range(3):
            first = await nodes[0].singleton_ref("ledger").ask(Add(by=5), timeout_s=10.0)
        runner = next(n for n in nodes if n.node_id == first.node)
        rest = [n for n in nodes if n is not runner]
        for other in rest:
            network.cut(runner.address, other.address)
        moved = await rest[0].singleton_ref("ledger").ask(Add(by=1), timeout_s=15.0)
        assert moved.node != runner.node_id and moved.value == 16


class SyncTally(DurableActor[TallyState]):
    @handler
    def add(self, msg: Add, ctx: Context) -> Total:  # a synchronous handler: saved after it returns
        self.state = TallyState(value=self.state.value + msg.by)
        if msg.fail:
            raise ValueError("refused after changing the state")
        return Total(value=self.state.value, node=ctx.node_id)


async def test_a_synchronous_handler_s_state_is_saved_and_a_failed_one_changes_nothing(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        for node in nodes:
            await node.add_extension(ReplicatedStore(MemoryStorage(), write_timeout_s=1.0, replication_factor=3))
        await hosting(nodes, "stally", SyncTally, shards=2, idle_s=1.0)
        ref = nodes[0].virtual("stally", "a")
        assert (await ref.ask(Add(by=2), timeout_s=10.0)).value == 2
        with pytest.raises(RemoteError, match="refused after changing"):
            await ref.ask(Add(by=100, fail=True), timeout_s=10.0)
        await wait_until(lambda: not any(n.virtual_actors.active() for n in nodes), timeout_s=5.0, what="idle stop")
        assert (await nodes[1].virtual("stally", "a").ask(Add(by=1), timeout_s=10.0)).value == 3
