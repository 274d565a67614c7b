"""``zactor demo``: two node processes, a typed RPC actor, and what the caller sees, in one command.

Steps: start a second node process hosting a calculator actor, call it from this process, show the errors a
caller gets, measure sequential and pipelined asks, move a large payload without copies, add and remove an actor at
runtime, and stop the other process gracefully. Exits 0 when every check passed.
"""

from __future__ import annotations

import asyncio
import time

from actors.actor import Actor, Context, handler
from actors.config import NodeConfig
from actors.errors import ActorNotFound, RemoteError
from actors.node import Node
from actors.process import NodeProcess
from transport.codec import message

__all__ = ["Calculator", "run_demo"]


@message("zactor.demo.Add")
class Add:
    a: float
    b: float


@message("zactor.demo.Divide")
class Divide:
    a: float
    b: float


@message("zactor.demo.Result")
class Result:
    value: float


@message("zactor.demo.Payload")
class Payload:
    data: bytes


class Calculator(Actor):
    """Adds and divides; echoes payloads (used by ``zactor demo``)."""

    @handler
    async def add(self, msg: Add, ctx: Context) -> Result:
        return Result(value=msg.a + msg.b)

    @handler
    async def divide(self, msg: Divide, ctx: Context) -> Result:
        return Result(value=msg.a / msg.b)

    @handler
    async def echo(self, msg: Payload, ctx: Context) -> Payload:
        return msg


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


async def _demo(address: str, seconds: float) -> list[tuple[str, str]]:
    summary: list[tuple[str, str]] = []
    async with Node(NodeConfig(node_id="demo-client")) as node:
        calc = node.ref("calc", address=address)
        _step(f"ask the calculator on {address}")
        result = await calc.ask(Add(a=2, b=40), timeout_s=5.0)
        print(f"   Add(a=2, b=40) -> {result}")
        assert result == Result(value=42)

        _step("errors come back typed")
        try:
            await calc.ask(Divide(a=1, b=0), timeout_s=5.0)
        except RemoteError as exc:
            print(f"   Divide(a=1, b=0) -> RemoteError: {exc}")
        try:
            await node.ref("nobody", address=address).ask(Add(a=1, b=1), timeout_s=5.0)
        except ActorNotFound as exc:
            print(f"   ask 'nobody'     -> ActorNotFound: {exc}")

        _step(f"sequential asks for {seconds:.0f} s")
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            await calc.ask(Add(a=count, b=1))
            count += 1
        rate = count / (time.perf_counter() - start)
        print(f"   {rate:,.0f} asks/s ({1e6 / rate:.0f} us per round trip)")
        summary.append(("sequential asks/s", f"{rate:,.0f}"))

        _step(f"pipelined asks, 100 in flight, for {seconds:.0f} s")
        counts = [0] * 100
        start = time.perf_counter()

        async def worker(i: int) -> None:
            while time.perf_counter() - start < seconds:
                await calc.ask(Add(a=i, b=1))
                counts[i] += 1

        await asyncio.gather(*(worker(i) for i in range(100)))
        rate = sum(counts) / (time.perf_counter() - start)
        print(f"   {rate:,.0f} asks/s")
        summary.append(("pipelined asks/s", f"{rate:,.0f}"))

        _step("a 32 MiB payload as a zero-copy frame")
        data = bytes(32 * 1024 * 1024)
        start = time.perf_counter()
        reply = await calc.ask(Payload(data=data), timeout_s=30.0)
        elapsed = time.perf_counter() - start
        assert reply.data == data
        print(f"   round trip in {elapsed * 1000:.0f} ms; reply field is a {type(reply.data).__name__}")
        summary.append(("32 MiB round trip, MiB/s", f"{64 / elapsed:,.0f}"))  # 32 MiB each way

        _step("add and remove an actor at runtime (on this node)")
        local = await node.add_actor("local-calc", Calculator())
        print(f"   actors here: {node.actors()}; local ask -> {await local.ask(Add(a=1, b=2))}")
        await node.remove_actor("local-calc")
        print(f"   removed; actors here: {node.actors()}")
    return summary


def run_demo(seconds: float = 2.0) -> int:
    """Run the demo; returns the process exit code (0 when every step passed)."""
    print("zactor demo: two nodes in two processes, talking over ZeroMQ on 127.0.0.1", flush=True)
    with NodeProcess(node_id="demo-server", actors={"calc": "actors.demo:Calculator"}) as server:
        print(f"   started node 'demo-server' (pid {server.pid}) at {server.address}")
        summary = asyncio.run(_demo(server.address, seconds))
        _step("stop the server node gracefully")
        code = server.stop()
        print(f"   server exited with code {code}")
    print("\nsummary")
    for label, value in summary:
        print(f"   {label:28} {value:>12}")
    return 0 if code == 0 else 1
