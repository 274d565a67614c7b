"""zactor.testing's virtual time and seeded randomness: what a deterministic service test relies on."""

from __future__ import annotations

import asyncio
import time

import pytest

from zactor import Actor, Context, Node, NodeConfig, handler, message
from zactor.errors import RequestTimeout
from zactor.testing import FakeClock, Seeds
from zactor.testing.clock import DEFAULT_WALL_START_MS
from zactor.transport import InMemoryNetwork


def test_sleeping_an_hour_moves_virtual_time_and_the_wall_clock_with_it() -> None:
    """asyncio.sleep(3600) returns after a jump; monotonic and wall time both advance by one hour."""
    clock = FakeClock(start_s=10.0)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        return loop.time()

    assert clock.run(main()) == pytest.approx(3610.0)
    assert clock.wall_ms() == DEFAULT_WALL_START_MS + 3_600_000
    assert clock.jumps >= 1


def test_timers_fire_in_order_at_their_virtual_times() -> None:
    """call_later callbacks run in deadline order, each at its own virtual time."""
    clock = FakeClock()
    fired: list[tuple[str, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.call_later(2.0, lambda: fired.append(("late", clock.monotonic_s())))
        loop.call_later(0.5, lambda: fired.append(("early", clock.monotonic_s())))
        loop.call_later(3.0, done.set_result, None)
        await done

    clock.run(main())
    assert [name for name, _ in fired] == ["early", "late"]
    assert [at for _, at in fired] == [pytest.approx(0.5), pytest.approx(2.0)]


def test_virtual_time_stands_still_while_a_thread_works_for_the_loop() -> None:
    """A timeout shorter than a thread's (real) work does not fire: no jump while the executor is busy."""
    clock = FakeClock()

    async def main() -> None:
        await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.05), timeout=0.001)

    clock.run(main())
    assert clock.monotonic_s() < 0.001


def test_time_never_goes_back() -> None:
    """jump() refuses a negative step and the constructor a negative autojump threshold."""
    clock = FakeClock()
    with pytest.raises(ValueError, match="back"):
        clock.jump(-1.0)
    clock.jump(1.5)
    assert clock.monotonic_s() == 1.5
    with pytest.raises(ValueError):
        FakeClock(autojump_threshold_s=-0.1)


@message("test.fakeclock.Stall")
class Stall:
    pass


class Stalling(Actor):
    @handler
    async def stall(self, msg: Stall, ctx: Context) -> None:
        await asyncio.Event().wait()


def test_an_ask_deadline_runs_on_virtual_time() -> None:
    """An ask to a handler that never answers fails with RequestTimeout at its virtual deadline."""
    clock = FakeClock()
    network = InMemoryNetwork()

    async def main() -> float:
        config = NodeConfig(bind="mem://a:0", stop_timeout_s=0.1)
        async with Node(config, transport=network.transport(), time_source=clock) as server:
            await server.add_actor("stall", Stalling())
            async with Node(NodeConfig(bind="mem://b:0"), transport=network.transport(), time_source=clock) as client:
                start = clock.monotonic_s()
                with pytest.raises(RequestTimeout):
                    await client.ref("stall", address=server.address).ask(Stall(), timeout_s=30.0)
                return clock.monotonic_s() - start

    assert clock.run(main()) == pytest.approx(30.0, abs=0.01)


def test_seeds_give_independent_reproducible_streams() -> None:
    """The same seed and name repeat a stream; another name or seed gives another."""
    a, b = Seeds(7), Seeds(7)
    first, again = a.rng("n0"), b.rng("n0")
    assert [first.random() for _ in range(3)] == [again.random() for _ in range(3)]
    assert a.rng("n0").random() != a.rng("n1").random()
    assert a.seed_for("network") != Seeds(8).seed_for("network")
