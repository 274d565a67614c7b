"""Actors added, replaced and removed on a running node while a client keeps calling.

    python examples/runtime_services.py

A client node asks the ``greeter`` on a server node in a loop. Meanwhile the server hosts version 1 of the service,
replaces it with version 2, and finally removes it. The client sees replies from v1, then v2, and
``ActorNotFound`` (a clear error, never a hang) while no greeter is registered.
"""

from __future__ import annotations

import asyncio
import collections

from zactor import Actor, Context, Node, handler, message
from zactor.errors import ActorNotFound


@message("greeter.Greet")
class Greet:
    name: str


@message("greeter.Greeting")
class Greeting:
    text: str
    version: int


class GreeterV1(Actor):
    @handler
    async def greet(self, msg: Greet, ctx: Context) -> Greeting:
        return Greeting(text=f"hello {msg.name}", version=1)


class GreeterV2(Actor):
    async def on_start(self, ctx: Context) -> None:
        ctx.log.info("v2 starting on %s", ctx.node_id)

    @handler
    async def greet(self, msg: Greet, ctx: Context) -> Greeting:
        return Greeting(text=f"good day, {msg.name}", version=2)


async def client_loop(client: Node, address: str, stop: asyncio.Event, seen: collections.Counter[str]) -> None:
    greeter = client.ref("greeter", address=address)
    while not stop.is_set():
        try:
            reply = await greeter.ask(Greet(name="ada"), timeout_s=2.0)
            seen[f"v{reply.version}"] += 1
        except ActorNotFound:
            seen["ActorNotFound"] += 1
        await asyncio.sleep(0)


async def main() -> collections.Counter[str]:
    seen: collections.Counter[str] = collections.Counter()
    stop = asyncio.Event()
    async with Node() as server, Node() as client:
        calls = asyncio.create_task(client_loop(client, server.address, stop, seen))
        await asyncio.sleep(0.1)  # no greeter yet: the client sees ActorNotFound
        await server.add_actor("greeter", GreeterV1())
        print("added v1, actors:", server.actors())
        await asyncio.sleep(0.3)
        await server.remove_actor("greeter")  # replace: remove, then add under the same name
        await server.add_actor("greeter", GreeterV2())
        print("replaced with v2")
        await asyncio.sleep(0.3)
        await server.remove_actor("greeter")
        print("removed, actors:", server.actors())
        await asyncio.sleep(0.1)
        stop.set()
        await calls
    print("replies seen by the client while the server changed:", dict(seen))
    return seen


if __name__ == "__main__":
    asyncio.run(main())
