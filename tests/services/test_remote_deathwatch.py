"""Death watch across cluster nodes, over the in-memory transport in virtual time: removal, a missing actor, a dead
node, a node that leaves, an actor's own watch, unwatching, and a forged notice."""

from __future__ import annotations

import asyncio

from memcluster import Holder, cluster

from zactor import Actor, Context, handler
from zactor.deathwatch import Terminated, TerminationReason
from zactor.services.cluster.deathwatch import DEATHWATCH_ACTOR
from zactor.testing import FakeClock, wait_until
from zactor.transport import InMemoryNetwork


async def test_a_remote_removal_reaches_the_watcher(clock: FakeClock) -> None:
    async with cluster(2, InMemoryNetwork(), clock) as (n0, n1):
        await n1.add_actor("holder", Holder())
        await n0.membership.wait_for_members(2, timeout_s=5.0)
        watch = n0.watch(n0.ref("holder", node_id="n1"))
        await wait_until(lambda: len(n1.deathwatch._subscribers) == 1, what="the subscription")
        await n1.remove_actor("holder")
        terminated = await asyncio.wait_for(watch, timeout=2.0)
        assert (terminated.name, terminated.node_id, terminated.reason) == ("holder", "n1", TerminationReason.REMOVED)


async def test_a_missing_remote_actor_fires_not_found(clock: FakeClock) -> None:
    async with cluster(2, InMemoryNetwork(), clock) as (n0, _n1):
        await n0.membership.wait_for_members(2, timeout_s=5.0)
        terminated = await asyncio.wait_for(n0.watch(n0.ref("nobody", node_id="n1")), timeout=2.0)
        assert terminated.reason is TerminationReason.NOT_FOUND


async def test_a_dead_node_fires_node_dead_on_the_watcher_and_drops_its_subscriptions(clock: FakeClock) -> None:
    network = InMemoryNetwork()
    async with cluster(3, network, clock) as (n0, n1, n2):
        await n1.add_actor("holder", Holder())
        await n2.add_actor("holder", Holder())
        for node in (n0, n1, n2):
            await node.membership.wait_for_members(3, timeout_s=5.0)
        on_n1 = n0.watch(n0.ref("holder", node_id="n1"))
        n0.watch(n0.ref("holder", node_id="n2"))
        await wait_until(lambda: len(n2.deathwatch._subscribers) == 1, what="the subscription on n2")
        for other in (n1, n2):
            network.cut(n0.address, other.address)
        loop = asyncio.get_running_loop()
        start = loop.time()
        terminated = await asyncio.wait_for(on_n1, timeout=10.0)
        assert (terminated.node_id, terminated.reason) == ("n1", TerminationReason.NODE_DEAD)
        assert loop.time() - start < 5.0
        await wait_until(lambda: not n2.deathwatch._subscribers, what="n2 to drop dead n0's subscription")


async def test_a_node_that_leaves_fires_node_left(clock: FakeClock) -> None:
    async with cluster(2, InMemoryNetwork(), clock) as (n0, n1):
        await n1.add_actor("holder", Holder())
        await n0.membership.wait_for_members(2, timeout_s=5.0)
        watch = n0.watch(n0.ref("holder", node_id="n1"))
        await wait_until(lambda: len(n1.deathwatch._subscribers) == 1, what="the subscription")
        await n1.stop()
        terminated = await asyncio.wait_for(watch, timeout=5.0)
        assert (terminated.node_id, terminated.reason) == ("n1", TerminationReason.NODE_LEFT)


class Watcher(Actor):
    def __init__(self) -> None:
        self.seen: list[Terminated] = []

    async def on_start(self, ctx: Context) -> None:
        ctx.watch(ctx.node.ref("holder", node_id="n1"))  # type: ignore[call-arg]

    @handler
    async def on_terminated(self, msg: Terminated, ctx: Context) -> None:
        self.seen.append(msg)


async def test_an_actor_watching_a_remote_actor_gets_terminated(clock: FakeClock) -> None:
    async with cluster(2, InMemoryNetwork(), clock) as (n0, n1):
        await n1.add_actor("holder", Holder())
        await n0.membership.wait_for_members(2, timeout_s=5.0)
        watcher = Watcher()
        await n0.add_actor("watcher", watcher)
        await wait_until(lambda: len(n1.deathwatch._subscribers) == 1, what="the subscription")
        await n1.remove_actor("holder")
        await wait_until(lambda: len(watcher.seen) == 1, what="the Terminated message")
        assert watcher.seen[0].reason is TerminationReason.REMOVED


async def test_the_last_unwatch_ends_the_subscription(clock: FakeClock) -> None:
    async with cluster(2, InMemoryNetwork(), clock) as (n0, n1):
        await n1.add_actor("holder", Holder())
        await n0.membership.wait_for_members(2, timeout_s=5.0)
        ref = n0.ref("holder", node_id="n1")
        first, second = n0.watch(ref), n0.watch(ref)
        await wait_until(lambda: len(n1.deathwatch._subscribers) == 1, what="one shared subscription")
        first.cancel()
        await asyncio.sleep(0.2)
        assert len(n1.deathwatch._subscribers) == 1
        second.cancel()
        await wait_until(lambda: not n1.deathwatch._subscribers, what="the unsubscribe")


async def test_a_terminated_naming_another_node_is_dropped(clock: FakeClock) -> None:
    """n2 claims n1's actor terminated: n0's watch on it stays; n1's own notice fires it."""
    async with cluster(3, InMemoryNetwork(), clock) as (n0, n1, n2):
        await n1.add_actor("holder", Holder())
        for node in (n0, n1, n2):
            await node.membership.wait_for_members(3, timeout_s=5.0)
        watch = n0.watch(n0.ref("holder", node_id="n1"))
        await wait_until(lambda: len(n1.deathwatch._subscribers) == 1, what="the subscription")
        forged = Terminated(name="holder", node_id="n1", reason=TerminationReason.FAILED)
        await n2.ref(DEATHWATCH_ACTOR, node_id="n0").tell(forged)
        await asyncio.sleep(0.5)
        assert not watch.done()
        await n1.remove_actor("holder")
        assert (await asyncio.wait_for(watch, timeout=2.0)).reason is TerminationReason.REMOVED
