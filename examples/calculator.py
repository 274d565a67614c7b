"""A custom RPC actor served by one process and called from another.

python examples/calculator.py              # start a server process, call it, stop it
python examples/calculator.py serve        # serve until Ctrl-C; prints the address
python examples/calculator.py call ADDR    # call a running server
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys

from zactor import Actor, Context, Node, handler, message
from zactor.errors import RemoteError


# Explicit type names: both processes run this file as __main__, so the default name would be "__main__.Add".
@message("calc.Add")
class Add:
    a: float
    b: float


@message("calc.Divide")
class Divide:
    a: float
    b: float


@message("calc.Total")
class Total:
    pass


@message("calc.Result")
class Result:
    value: float


class Calculator(Actor):
    """Keeps a running total of everything it added: state that is safe without locks (one message at a time)."""

    def __init__(self) -> None:
        self.total = 0.0

    @handler
    async def add(self, msg: Add, ctx: Context) -> Result:
        self.total += msg.a + msg.b
        return Result(value=msg.a + msg.b)

    @handler
    async def divide(self, msg: Divide, ctx: Context) -> Result:
        return Result(value=msg.a / msg.b)  # ZeroDivisionError reaches the caller as RemoteError

    @handler
    async def get_total(self, msg: Total, ctx: Context) -> Result:
        return Result(value=self.total)


async def serve() -> None:
    # A failed ask reaches its caller as RemoteError, with the remote traceback; this server does not log it too.
    logging.getLogger("zactor.actor.calculator").setLevel(logging.ERROR)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Node() as node:
        await node.add_actor("calculator", Calculator())
        print(node.address, flush=True)
        await stop.wait()


async def call(address: str) -> None:
    async with Node() as node:
        calc = node.ref("calculator", address=address)
        print("1 + 2 =", (await calc.ask(Add(a=1, b=2), timeout_s=5)).value)
        print("10 / 4 =", (await calc.ask(Divide(a=10, b=4), timeout_s=5)).value)
        try:
            await calc.ask(Divide(a=1, b=0), timeout_s=5)
        except RemoteError as exc:
            print("1 / 0 raised remotely:", exc.type_name)
        print("running total:", (await calc.ask(Total(), timeout_s=5)).value)


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(serve())
    elif sys.argv[1:2] == ["call"] and len(sys.argv) == 3:
        asyncio.run(call(sys.argv[2]))
    else:
        server = subprocess.Popen([sys.executable, __file__, "serve"], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None  # stdout=PIPE
            address = server.stdout.readline().strip()
            asyncio.run(call(address))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    main()
