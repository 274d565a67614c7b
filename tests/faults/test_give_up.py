"""A caller that gives up stops the remote work, whoever the caller is: the blocking client at its deadline or on
Ctrl-C, ``zactor call`` at ``--timeout`` or on Ctrl-C, a node that stops with an ask pending or right after one
timed out, and a client process that dies mid-ask (the serving node sees its connection close)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import zactor
from zactor import Node, NodeConfig
from zactor.errors import NodeUnavailable, RequestTimeout
from zactor.testing import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(60)]

ACTORS = Path(__file__).parent.parent / "actors"
sys.path.insert(0, str(ACTORS))

from calc import Add, Calculator, Sleep, Sum  # noqa: E402

#: The slow handler runs this long; a give-up that does not reach it leaves the actor busy this long.
SLOW_S = 20.0
#: How soon the handler must be cancelled after the caller gave up, in seconds (far below SLOW_S).
CANCEL_WITHIN_S = 5.0


@asynccontextmanager
async def serving() -> AsyncIterator[tuple[Node, Calculator]]:
    """A node on loopback hosting one Calculator (one message at a time) as ``calc``."""
    calc = Calculator()
    async with Node(NodeConfig(node_id="server")) as server:
        await server.add_actor("calc", calc)
        yield server, calc


async def _assert_stopped(server: Node, calc: Calculator) -> None:
    """The slow handler was cancelled soon after the give-up, and a quick ask is served at once."""
    await wait_until(lambda: calc.running == 0, timeout_s=CANCEL_WITHIN_S, what="the slow handler to be cancelled")
    async with Node() as other:
        started = time.monotonic()
        assert await other.ref("calc", address=server.address).ask(Add(a=1, b=2), timeout_s=2.0) == Sum(value=3)
        assert time.monotonic() - started < 1.0


async def _started(calc: Calculator) -> None:
    await wait_until(lambda: calc.running == 1, timeout_s=10.0, what="the slow handler to start")


async def test_the_blocking_client_cancels_at_its_deadline() -> None:
    """``zactor.connect(...).ask`` with a 1 s deadline on a 20 s handler: the handler is cancelled."""
    async with serving() as (server, calc):

        def ask() -> None:
            with zactor.connect(server.address) as client, pytest.raises(RequestTimeout):
                client.ref("calc").ask(Sleep(seconds=SLOW_S), timeout_s=1.0)

        await asyncio.get_running_loop().run_in_executor(None, ask)
        await _assert_stopped(server, calc)


def _python(script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=ACTORS, stdout=subprocess.PIPE, text=True
    )


def _zactor_call(address: str, timeout_s: float) -> subprocess.Popen[str]:
    args = ["call", "--address", address, "--import", "calc", "--timeout", str(timeout_s), "calc", "test.Sleep"]
    return subprocess.Popen(
        [sys.executable, "-m", "zactor.services.cluster.cli", *args, f'{{"seconds": {SLOW_S}}}'],
        cwd=ACTORS,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _reap(proc: subprocess.Popen[str]) -> int:
    """Wait for ``proc`` to end (killing it after 15 s) without blocking the loop; returns its exit code."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, proc.wait, 15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return await loop.run_in_executor(None, proc.wait)
    finally:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


async def test_zactor_call_cancels_at_its_timeout() -> None:
    """``zactor call --timeout 1`` on a 20 s handler exits with its timeout, and the handler is cancelled."""
    async with serving() as (server, calc):
        code = await _reap(_zactor_call(server.address, 1.0))
        assert code != 0
        await _assert_stopped(server, calc)


@pytest.mark.parametrize("caller", ["zactor call", "blocking client"])
async def test_ctrl_c_cancels_the_remote_handler(caller: str) -> None:
    """SIGINT to a process waiting on a 20 s handler (``zactor call``, or a script on the blocking client): the
    handler is cancelled."""
    async with serving() as (server, calc):
        if caller == "zactor call":
            proc = _zactor_call(server.address, 60.0)
        else:
            proc = _python(
                f"""
                import zactor
                from calc import Sleep
                with zactor.connect({server.address!r}) as client:
                    client.ref("calc").ask(Sleep(seconds={SLOW_S}), timeout_s=60)
                """
            )
        try:
            await _started(calc)
            proc.send_signal(signal.SIGINT)
        finally:
            await _reap(proc)
        await _assert_stopped(server, calc)


@pytest.mark.parametrize("when", ["pending", "timed out"])
async def test_a_node_that_stops_cancels_its_asks(when: str) -> None:
    """A client node stopped with its ask pending, or right after the ask timed out: the handler is cancelled."""
    async with serving() as (server, calc):
        client = await Node(NodeConfig(node_id="client")).start()
        ref = client.ref("calc", address=server.address)
        if when == "pending":
            pending = asyncio.ensure_future(ref.ask(Sleep(seconds=SLOW_S), timeout_s=60.0))
            await _started(calc)
            await client.stop()
            with pytest.raises(NodeUnavailable):
                await pending
        else:
            with pytest.raises(RequestTimeout):
                await ref.ask(Sleep(seconds=SLOW_S), timeout_s=1.0)
            await client.stop()
        await _assert_stopped(server, calc)


CALLERS: dict[str, Callable[[str], str]] = {
    "blocking client": lambda address: (
        f"""
        import zactor
        from calc import Sleep
        zactor.connect({address!r}).ref("calc").ask(Sleep(seconds={SLOW_S}), timeout_s=60)
        """
    ),
    "node": lambda address: (
        f"""
        import zactor
        from calc import Sleep

        async def main():
            async with zactor.Node() as node:
                await node.ref("calc", address={address!r}).ask(Sleep(seconds={SLOW_S}), timeout_s=60)

        zactor.run(main())
        """
    ),
}


@pytest.mark.parametrize("caller", sorted(CALLERS))
async def test_a_client_process_killed_mid_ask_has_its_handler_cancelled(caller: str) -> None:
    """SIGKILL of the asking process (nothing is sent): the server sees the connection close and cancels what it
    ran for that peer."""
    async with serving() as (server, calc):
        proc = _python(CALLERS[caller](server.address))
        try:
            await _started(calc)
            proc.kill()
        finally:
            await _reap(proc)
        await _assert_stopped(server, calc)
        assert server.stats["cancelled_peer_gone"] == 1
