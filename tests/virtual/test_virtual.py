"""Virtual actors over the in-memory transport, in virtual time: activation on first message on exactly one node,
state kept per activation, idle deactivation, routing from a node that hosts no kind, and a move when the owner's
node is cut off."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).parent.parent / "services"))

from memcluster import cluster, hosting  # noqa: E402

from zactor import Context, Returns, handler, message  # noqa: E402
from zactor.errors import ActorNotFound, RequestTimeout  # noqa: E402
from zactor.services.cluster import ClusterNode  # noqa: E402
from zactor.services.cluster.metrics import NodeCollector  # noqa: E402
from zactor.services.election import Election  # noqa: E402
from zactor.services.virtual import VirtualActor, VirtualActors  # noqa: E402
from zactor.services.virtual.history import ActivationRecord, overlaps  # noqa: E402
from zactor.services.virtual.instance import Activation  # noqa: E402
from zactor.services.virtual.model import group_of, preferred_leader  # noqa: E402
from zactor.testing import FakeClock, wait_until  # noqa: E402
from zactor.transport import InMemoryNetwork  # noqa: E402


@message("test.virtual.Incr")
class Incr(Returns["Count"]):
    by: int = 1


@message("test.virtual.Count")
class Count:
    key: str
    value: int
    node: str


class Counter(VirtualActor):
    activations: list[tuple[str, str]] = []
    deactivations: list[tuple[str, str]] = []

    def __init__(self) -> None:
        self.value = 0

    async def on_activate(self, ctx: Context) -> None:
        Counter.activations.append((self.key, ctx.node_id))

    async def on_deactivate(self, ctx: Context) -> None:
        Counter.deactivations.append((self.key, ctx.node_id))

    @handler
    async def incr(self, msg: Incr, ctx: Context) -> Count:
        self.value += msg.by
        return Count(key=self.key, value=self.value, node=ctx.node_id)


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    Counter.activations, Counter.deactivations = [], []


async def _hosting(nodes: list[ClusterNode], idle_s: float = 60.0) -> None:
    await hosting(nodes, "counter", Counter, shards=4, idle_s=idle_s)


async def test_each_key_is_activated_once_on_one_node_and_keeps_its_state(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await _hosting(nodes)
        keys = [f"user-{i}" for i in range(20)]
        for round_ in range(1, 4):
            for i, key in enumerate(keys):
                count = await nodes[i % 3].virtual("counter", key).ask(Incr(), timeout_s=10.0)
                assert (count.key, count.value) == (key, round_)
        activated = [key for key, _ in Counter.activations]
        assert sorted(activated) == sorted(keys)  # once each, whichever node asked
        owners = {key: node for key, node in Counter.activations}
        assert len(set(owners.values())) >= 2  # spread over the hosts
        active = {(n.node_id, key) for n in nodes for _, key in n.virtual_actors.active()}
        assert {key for _, key in active} == set(keys) and len(active) == len(keys)
        assert all(
            not name.startswith("zactor.virtual/") for n in nodes for m in n.membership.members() for name in m.actors
        )


async def test_an_idle_instance_is_deactivated_and_reactivated_fresh(clock: FakeClock) -> None:
    async with cluster(2, InMemoryNetwork(), clock) as nodes:
        await _hosting(nodes, idle_s=1.0)
        ref = nodes[0].virtual("counter", "k")
        assert (await ref.ask(Incr(by=5), timeout_s=10.0)).value == 5
        await wait_until(
            lambda: Counter.deactivations == [("k", Counter.activations[0][1])],
            timeout_s=5.0,
            what="the idle deactivation",
        )
        assert (await ref.ask(Incr(), timeout_s=10.0)).value == 1  # no durable state: a fresh instance
        assert len(Counter.activations) == 2


async def test_a_node_without_the_kind_routes_and_an_unknown_kind_is_not_found(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await _hosting(nodes[1:])
        await nodes[0].membership.wait_for_members(3, timeout_s=5.0)
        await wait_until(
            lambda: len(nodes[0].membership.hosts_with_meta("virtual.counter")) == 2, what="the kind's hosts"
        )
        count = await nodes[0].virtual("counter", "x").ask(Incr(), timeout_s=10.0)
        assert count.node in ("n1", "n2")
        with pytest.raises(ActorNotFound):
            await nodes[0].virtual("nothing", "x").ask(Incr(), timeout_s=1.0)


async def test_a_cut_off_owner_stops_and_the_key_moves(clock: FakeClock) -> None:
    network = InMemoryNetwork()
    async with cluster(3, network, clock) as nodes:
        await _hosting(nodes)
        first = await nodes[0].virtual("counter", "moving").ask(Incr(), timeout_s=10.0)
        owner = next(n for n in nodes if n.node_id == first.node)
        others = [n for n in nodes if n is not owner]
        for other in others:
            network.cut(owner.address, other.address)
        await wait_until(
            lambda: not owner.virtual_actors.active(), timeout_s=5.0, what="the cut-off owner to stop its activation"
        )
        moved = await others[0].virtual("counter", "moving").ask(Incr(), timeout_s=15.0)
        assert moved.node != owner.node_id and moved.value == 1  # a new activation, on the majority side
        stops = [n for k, n in Counter.deactivations if k == "moving"]
        assert stops == [owner.node_id]


async def test_no_owner_within_the_deadline_is_a_request_timeout(clock: FakeClock) -> None:
    network = InMemoryNetwork()
    async with cluster(2, network, clock) as nodes:
        await _hosting(nodes)
        network.cut(nodes[0].address, nodes[1].address)
        await asyncio.sleep(3.0)  # neither side holds a majority of a 2-voter group
        with pytest.raises(RequestTimeout):
            await nodes[0].virtual("counter", "k").ask(Incr(), timeout_s=1.0)


class LeaseBlind(VirtualActors):
    """The mechanism removed: a node keeps its activations when its shard's lease ends (it only stops taking new
    messages for them)."""

    def _lost(self, election: Election, activation: Activation) -> bool:
        return False


async def _partition_run(clock: FakeClock, virtual: type[VirtualActors]) -> list[ActivationRecord]:
    """Keys active on every node; the owner of key "k0" is cut off for 5 s while the majority keeps asking for
    every key, then the cut heals and everyone keeps asking. Returns every node's activation records."""
    network = InMemoryNetwork()
    keys = [f"k{i}" for i in range(12)]
    async with cluster(3, network, clock, virtual=virtual) as nodes:
        await _hosting(nodes)
        first = await nodes[0].virtual("counter", "k0").ask(Incr(), timeout_s=10.0)
        for key in keys:
            await nodes[0].virtual("counter", key).ask(Incr(), timeout_s=10.0)
        owner = next(n for n in nodes if n.node_id == first.node)
        others = [n for n in nodes if n is not owner]
        for other in others:
            network.cut(owner.address, other.address)
        loop = asyncio.get_running_loop()
        end = loop.time() + 5.0
        while loop.time() < end:
            for key in keys:
                with contextlib.suppress(RequestTimeout):
                    await others[0].virtual("counter", key).ask(Incr(), timeout_s=1.0)
            with contextlib.suppress(RequestTimeout):
                await owner.virtual("counter", "k0").ask(Incr(), timeout_s=0.2)
        network.heal()
        await asyncio.sleep(3.0)
        for key in keys:
            await nodes[1].virtual("counter", key).ask(Incr(), timeout_s=10.0)
        return [record for node in nodes for record in node.virtual_actors.records()]


async def test_a_partition_never_runs_one_key_on_two_nodes(clock: FakeClock) -> None:
    records = await _partition_run(clock, VirtualActors)
    assert {r[1] for r in records} >= {"k0"} and len(records) > 12
    assert overlaps(records) == []


async def test_the_checker_catches_a_core_that_ignores_its_lease(clock: FakeClock) -> None:
    records = await _partition_run(clock, LeaseBlind)
    assert any(first[1] == "k0" for first, _ in overlaps(records))


def test_overlaps_finds_intersecting_intervals_of_one_key_on_two_nodes() -> None:
    history = [
        ("c", "a", "n1", 1, 0.0, 5.0),
        ("c", "a", "n2", 2, 5.0, 9.0),  # starts as the first ends: no overlap
        ("c", "b", "n1", 1, 0.0, 5.0),
        ("c", "b", "n2", 2, 4.0, 6.0),
        ("c", "b", "n1", 1, 5.5, 7.0),  # the same node twice is not two activations at once on two nodes
    ]
    assert overlaps(history) == [(history[2], history[3])] + [(history[3], history[4])]


async def test_the_metrics_count_activations_and_redirects(clock: FakeClock) -> None:
    async with cluster(2, InMemoryNetwork(), clock) as nodes:
        await _hosting(nodes)
        for i in range(8):
            await nodes[0].virtual("counter", f"m{i}").ask(Incr(), timeout_s=10.0)
        registry = CollectorRegistry()
        for node in nodes:
            registry.register(NodeCollector(node))
        text = generate_latest(registry).decode()
    samples = [
        (s.name, s.labels.get("event"), s.value) for f in text_string_to_metric_families(text) for s in f.samples
    ]
    activations = sum(
        v for name, event, v in samples if name == "zactor_virtual_events_total" and event == "activations"
    )
    active = sum(v for name, _, v in samples if name == "zactor_virtual_active")
    assert activations == 8 and active == 8


class Scheduler(VirtualActor):
    @handler
    async def where(self, msg: Incr, ctx: Context) -> Count:
        return Count(key=self.key, value=msg.by, node=ctx.node_id)


def _running_singleton(nodes: list[ClusterNode]) -> list[str]:
    return [n.node_id for n in nodes if ("singleton.scheduler", "singleton") in n.virtual_actors.active()]


async def test_a_singleton_runs_on_one_node_unasked_and_moves_when_its_node_is_cut_off(clock: FakeClock) -> None:
    network = InMemoryNetwork()
    async with cluster(3, network, clock) as nodes:
        for node in nodes:
            await node.membership.wait_for_members(3, timeout_s=5.0)
        for node in nodes:
            await node.singleton("scheduler", Scheduler)
        await wait_until(lambda: len(_running_singleton(nodes)) == 1, timeout_s=10.0, what="the singleton to start")
        await asyncio.sleep(2.0)
        (runner,) = _running_singleton(nodes)
        answer = await nodes[0].singleton_ref("scheduler").ask(Incr(by=7), timeout_s=10.0)
        assert (answer.node, answer.value) == (runner, 7)
        cut = next(n for n in nodes if n.node_id == runner)
        rest = [n for n in nodes if n is not cut]
        for other in rest:
            network.cut(cut.address, other.address)
        await wait_until(
            lambda: len(_running_singleton(rest)) == 1 and not _running_singleton([cut]),
            timeout_s=10.0,
            what="the singleton to move to the majority side",
        )
        records = [r for n in nodes for r in n.virtual_actors.records()]
        assert overlaps(records) == []


async def test_an_owner_that_stops_gracefully_ends_its_activations_before_resigning(clock: FakeClock) -> None:
    """The owner of busy keys stops (a graceful leave: its elections resign at once) while the others keep asking:
    the keys move, and no moment has two activations of one key."""
    network = InMemoryNetwork()
    async with cluster(3, network, clock) as nodes:
        await _hosting(nodes)
        keys = [f"g{i}" for i in range(12)]
        owners = {key: (await nodes[0].virtual("counter", key).ask(Incr(), timeout_s=10.0)).node for key in keys}
        leaving = next(n for n in nodes if n.node_id != "n0" and n.node_id in owners.values())
        stayers = [n for n in nodes if n is not leaving]

        async def keep_asking() -> None:
            while True:
                for key in keys:
                    with contextlib.suppress(RequestTimeout):
                        await stayers[0].virtual("counter", key).ask(Incr(), timeout_s=1.0)
                await asyncio.sleep(0.02)

        asking = asyncio.ensure_future(keep_asking())
        await asyncio.sleep(0.5)
        await leaving.stop()
        await asyncio.sleep(3.0)
        asking.cancel()
        await asyncio.gather(asking, return_exceptions=True)
        records = [r for n in stayers for r in n.virtual_actors.records()] + list(leaving.virtual_actors.history)
        assert any(r[2] == leaving.node_id for r in records)
        assert overlaps(records) == []


async def test_activations_do_not_wake_the_registry_listeners(clock: FakeClock) -> None:
    """Activations come and go with traffic; the listeners (membership's gossiped actor list) hear only of the
    listed actors, so activating keys costs the node no re-listing of every actor."""
    async with cluster(1, InMemoryNetwork(), clock) as (node,):
        await _hosting([node])
        calls: list[None] = []
        node.registry.listeners.append(lambda: calls.append(None))
        for i in range(10):
            await node.virtual("counter", f"q{i}").ask(Incr(), timeout_s=10.0)
        assert len(node.virtual_actors.active()) == 10 and calls == []
        await node.add_actor("listed", Counter())
        assert len(calls) == 1


def _preferred(nodes: list[ClusterNode], kind: str = "counter") -> list[str]:
    """Each shard's preferred leader, from the voters node 0 knows."""
    host = nodes[0].virtual_actors
    return [
        preferred_leader(group_of(kind, shard), host._elections[(kind, shard)].voters)  # type: ignore[misc]
        for shard in range(len(host.leaders(kind)))
    ]


async def test_shards_move_back_to_their_preferred_leaders_with_a_handoff(clock: FakeClock) -> None:
    """A cut-off node's shards move to the others; once it is back, each goes back to its preferred leader by a
    handoff, while every key keeps answering and no key runs on two nodes."""
    network = InMemoryNetwork()
    keys = [f"h{i}" for i in range(16)]
    async with cluster(3, network, clock) as nodes:
        await _hosting(nodes)
        settled = lambda: all(n.virtual_actors.leaders("counter") == _preferred(nodes) for n in nodes)  # noqa: E731
        await wait_until(settled, timeout_s=30.0, what="every shard led by its preferred leader")
        preferred = _preferred(nodes)
        busiest = max(set(preferred), key=preferred.count)
        cut = next(n for n in nodes if n.node_id == busiest)
        others = [n for n in nodes if n is not cut]
        for key in keys:
            await others[0].virtual("counter", key).ask(Incr(), timeout_s=10.0)
        for other in others:
            network.cut(cut.address, other.address)
        await wait_until(
            lambda: busiest not in others[0].virtual_actors.leaders("counter"), timeout_s=15.0, what="shards to move"
        )
        network.heal()
        loop = asyncio.get_running_loop()
        end = loop.time() + 20.0
        answered = 0
        while loop.time() < end:
            for i, key in enumerate(keys):  # from every node: each ref knows the owners its own answers named
                await nodes[(i + answered) % 3].virtual("counter", key).ask(Incr(), timeout_s=10.0)
            answered += len(keys)
            for node in nodes:  # new callers, who know no owner yet: they start at each shard's preferred leader
                node.virtual_actors.owners.clear()
            await asyncio.sleep(0.05)  # asks take no virtual time
        assert settled(), "the shards went back to their preferred leaders"
        assert cut.virtual_actors.stats["handoffs"] == 0
        assert sum(n.virtual_actors.stats["handoffs"] for n in others) >= preferred.count(busiest)
        assert overlaps([r for n in nodes for r in n.virtual_actors.records()]) == []
        assert answered > 100
