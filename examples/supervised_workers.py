"""A supervised worker: restarted with backoff when it crashes, removed past its budget, and watched.

Run: ``python examples/supervised_workers.py``
"""

from __future__ import annotations

import asyncio
import logging

from zactor import (
    Actor,
    Context,
    Node,
    NodeConfig,
    Restart,
    RestartPolicy,
    Returns,
    Terminated,
    handler,
    message,
)
from zactor.errors import ActorNotFound, RemoteError


@message("examples.supervised.Job")
class Job(Returns["Result"]):
    n: int


@message("examples.supervised.Result")
class Result:
    value: int


class Worker(Actor):
    """Fails on every third job: each failure crashes it, and the node restarts a fresh instance."""

    def __init__(self) -> None:
        self.jobs = 0

    @handler
    async def job(self, msg: Job, ctx: Context) -> Result:
        self.jobs += 1
        if self.jobs % 3 == 0:
            raise RuntimeError(f"job {msg.n} failed")
        return Result(value=msg.n * msg.n)


class Monitor(Actor):
    """Watches the worker and records its termination."""

    def __init__(self) -> None:
        self.terminated: asyncio.Future[Terminated] = asyncio.get_running_loop().create_future()

    async def on_start(self, ctx: Context) -> None:
        ctx.watch(ctx.ref("worker"))

    @handler
    async def on_terminated(self, msg: Terminated, ctx: Context) -> None:
        self.terminated.set_result(msg)


async def main() -> None:
    policy = RestartPolicy(mode=Restart.ON_FAILURE, max_restarts=2, within_s=10.0, backoff_s=0.05)
    async with Node(NodeConfig()) as node:
        worker = await node.add_actor("worker", Worker, restart=policy)
        monitor = Monitor()
        await node.add_actor("monitor", monitor)
        for n in range(12):
            try:
                print(f"job {n}: {(await worker.ask(Job(n=n), timeout_s=5)).value}")
            except RemoteError as exc:
                print(f"job {n}: crashed ({exc.message})")
            except ActorNotFound:
                print(f"job {n}: no worker")
                break
        terminated = await asyncio.wait_for(monitor.terminated, timeout=5)
        supervisor_note = f"{terminated.name} terminated: {terminated.reason.value} ({terminated.error})"
        print(supervisor_note)


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main())
