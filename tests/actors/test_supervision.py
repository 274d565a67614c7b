"""Supervision and local death watch, in virtual time: restarts with backoff, the budget, and ``Terminated``."""

from __future__ import annotations

import asyncio

import pytest

from zactor import Actor, Context, Node, NodeConfig, Restart, RestartPolicy, Returns, handler, message
from zactor.deathwatch import Terminated, TerminationReason
from zactor.errors import ActorNotFound, ActorTerminated, RemoteError
from zactor.testing import FakeClock
from zactor.transport.memory import InMemoryNetwork


@message("test.supervision.Work")
class Work(Returns["Done"]):
    n: int


@message("test.supervision.Done")
class Done:
    instance: int


@message("test.supervision.Quit")
class Quit(Returns[None]):
    pass


class Worker(Actor):
    """Raises on every third message it handles; counts its instances and lifecycle calls."""

    built = 0
    events: list[tuple[str, int, float]] = []

    def __init__(self) -> None:
        Worker.built += 1
        self.instance = Worker.built
        self.handled = 0

    async def on_start(self, ctx: Context) -> None:
        Worker.events.append(("start", self.instance, asyncio.get_running_loop().time()))

    async def on_stop(self, ctx: Context) -> None:
        Worker.events.append(("stop", self.instance, asyncio.get_running_loop().time()))

    @handler
    async def work(self, msg: Work, ctx: Context) -> Done:
        self.handled += 1
        if self.handled % 3 == 0:
            raise ValueError(f"third message ({msg.n})")
        return Done(instance=self.instance)

    @handler
    async def quit(self, msg: Quit, ctx: Context) -> None:
        ctx.stop()


class Watcher(Actor):
    def __init__(self, target: str) -> None:
        self.target = target
        self.got: list[tuple[Terminated, float]] = []

    async def on_start(self, ctx: Context) -> None:
        ctx.watch(ctx.ref(self.target))

    @handler
    async def terminated(self, msg: Terminated, ctx: Context) -> None:
        self.got.append((msg, asyncio.get_running_loop().time()))


def _node(clock: FakeClock) -> Node:
    return Node(NodeConfig(bind="mem://a:0"), transport=InMemoryNetwork().transport(), time_source=clock)


@pytest.fixture(autouse=True)
def _reset() -> None:
    Worker.built = 0
    Worker.events = []


def test_a_worker_that_raises_every_third_message_is_restarted_with_backoff_then_removed() -> None:
    """restart=on_failure, at most 5 in 10 s: 5 restarts with doubling delays, the 6th crash removes it, and the
    watcher gets one Terminated(reason=gave_up) naming the error; the caller of each crashing ask gets its error."""
    clock = FakeClock()
    policy = RestartPolicy(mode=Restart.ON_FAILURE, max_restarts=5, within_s=10.0, backoff_s=0.1, jitter=0.0)
    watcher = Watcher("worker")
    outcomes: list[str] = []

    async def main() -> None:
        async with _node(clock) as node:
            ref = await node.add_actor("worker", Worker, restart=policy)
            await node.add_actor("watcher", watcher)
            for n in range(40):
                try:
                    done = await ref.ask(Work(n=n), timeout_s=60)
                    outcomes.append(f"ok{done.instance}")
                except RemoteError as exc:
                    outcomes.append(exc.type_name)
                except ActorNotFound:
                    outcomes.append("gone")
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(1)
            assert "worker" not in node.actors()

    clock.run(main())
    starts = [(i, t) for kind, i, t in Worker.events if kind == "start"]
    stops = [i for kind, i, _ in Worker.events if kind == "stop"]
    assert [i for i, _ in starts] == [1, 2, 3, 4, 5, 6]
    assert stops == [1, 2, 3, 4, 5, 6], "on_stop of each old instance runs before the new one starts"
    crash_times = [t for kind, i, t in Worker.events if kind == "stop"][:5]
    delays = [start - crash for (_, start), crash in zip(starts[1:], crash_times, strict=True)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6], abs=1e-6), "exponential backoff"
    assert outcomes.count("ValueError") == 6
    assert outcomes[-1] == "gone"
    assert len(watcher.got) == 1
    terminated, _ = watcher.got[0]
    assert terminated.reason is TerminationReason.GAVE_UP and terminated.name == "worker"
    assert terminated.error == "ValueError: third message (17)"


def test_the_budget_window_forgets_old_restarts() -> None:
    """Crashes spaced wider than the window never spend the budget: max 1 restart in 1 s, crashes every 5 s."""
    clock = FakeClock()
    policy = RestartPolicy(max_restarts=1, within_s=1.0, backoff_s=0.0, jitter=0.0)

    async def main() -> list[str]:
        async with _node(clock) as node:
            ref = await node.add_actor("worker", Worker, restart=policy)
            seen = []
            for n in range(9):
                try:
                    seen.append(str((await ref.ask(Work(n=n))).instance))
                except RemoteError:
                    seen.append("x")
                await asyncio.sleep(5)
            return seen

    assert clock.run(main()) == ["1", "1", "x", "2", "2", "x", "3", "3", "x"]


def test_messages_queued_during_a_restart_are_kept_for_the_new_instance() -> None:
    """Asks sent while the actor waits out its backoff are handled by the fresh instance, in order."""
    clock = FakeClock()
    policy = RestartPolicy(backoff_s=2.0, jitter=0.0)

    async def main() -> list[int]:
        async with _node(clock) as node:
            ref = await node.add_actor("worker", Worker, restart=policy)
            await ref.ask(Work(n=0))
            await ref.ask(Work(n=1))
            crash = asyncio.ensure_future(ref.ask(Work(n=2)))
            queued = [asyncio.ensure_future(ref.ask(Work(n=n), timeout_s=10)) for n in (3, 4)]
            with pytest.raises(RemoteError):
                await crash
            return [(await q).instance for q in queued]

    assert clock.run(main()) == [2, 2]


def test_never_removes_a_crashed_actor_and_fails_its_queued_asks_with_actor_terminated() -> None:
    clock = FakeClock()

    async def main() -> None:
        async with _node(clock) as node:
            ref = await node.add_actor("worker", Worker, restart=Restart.NEVER)
            watch = node.watch(ref)
            await ref.ask(Work(n=0))
            await ref.ask(Work(n=1))
            crash = asyncio.ensure_future(ref.ask(Work(n=2)))
            queued = asyncio.ensure_future(ref.ask(Work(n=3)))
            with pytest.raises(RemoteError):
                await crash
            with pytest.raises(ActorTerminated) as info:
                await queued
            assert info.value.reason == "failed"
            assert (await watch).reason is TerminationReason.FAILED

    clock.run(main())


def test_an_actor_without_a_policy_keeps_running_after_a_handler_raises() -> None:
    clock = FakeClock()

    async def main() -> list[int]:
        async with _node(clock) as node:
            ref = await node.add_actor("worker", Worker())
            results = []
            for n in range(5):
                try:
                    results.append((await ref.ask(Work(n=n))).instance)
                except RemoteError:
                    results.append(0)
            return results

    assert clock.run(main()) == [1, 1, 0, 1, 1]


def test_stop_under_always_restarts_and_under_on_failure_removes() -> None:
    clock = FakeClock()

    async def main() -> tuple[list[str], Terminated]:
        async with _node(clock) as node:
            always = await node.add_actor("always", Worker, restart=RestartPolicy(mode=Restart.ALWAYS, jitter=0))
            await always.ask(Quit())
            await asyncio.sleep(1)
            transient = await node.add_actor("transient", Worker, restart=Restart.ON_FAILURE)
            watch = node.watch(transient)
            await transient.ask(Quit())
            return node.actors(), await watch

    actors, terminated = clock.run(main())
    assert "always" in actors and "transient" not in actors
    assert terminated.reason is TerminationReason.STOPPED
    assert [i for kind, i, _ in Worker.events if kind == "start"] == [1, 2, 3]


def test_watching_an_actor_that_is_gone_fires_at_once_and_remove_fires_removed() -> None:
    clock = FakeClock()

    async def main() -> tuple[Terminated, Terminated]:
        async with _node(clock) as node:
            missing = await node.watch(node.ref("nobody"))
            ref = await node.add_actor("worker", Worker())
            watch = node.watch(ref)
            await node.remove_actor("worker")
            return missing, await watch

    missing, removed = clock.run(main())
    assert missing.reason is TerminationReason.NOT_FOUND
    assert removed.reason is TerminationReason.REMOVED


def test_a_cancelled_watch_delivers_nothing_and_bad_watches_are_refused() -> None:
    clock = FakeClock()

    async def main() -> None:
        async with _node(clock) as node:
            ref = await node.add_actor("worker", Worker())
            watch = node.watch(ref)
            watch.cancel()
            await asyncio.sleep(0)
            assert len(node.registry.get("worker").watchers) == 0  # type: ignore[union-attr]
            with pytest.raises(TypeError, match="no @handler for Terminated"):
                await node.add_actor("bad", _NoHandlerWatcher())
            with pytest.raises(TypeError, match="a plain node watches only its own actors"):
                node.watch(node.ref("worker", address="mem://elsewhere:1"))

    clock.run(main())


class _NoHandlerWatcher(Actor):
    async def on_start(self, ctx: Context) -> None:
        ctx.watch(ctx.ref("worker"))


def test_a_policy_needs_a_factory() -> None:
    clock = FakeClock()

    async def main() -> None:
        async with _node(clock) as node:
            with pytest.raises(TypeError, match="factory"):
                await node.add_actor("worker", Worker(), restart=Restart.ALWAYS)

    clock.run(main())
