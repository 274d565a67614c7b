"""Test configuration: ``async def`` tests run in a fresh event loop each (no plugin needed), of zactor's default
kind (:mod:`zactor.loops`: uvloop where installed, ``ZACTOR_LOOP`` to choose); a test parametrized with a value
ending in ``+asyncio`` runs on asyncio's own loop; a test that takes the ``clock`` fixture runs in virtual time on
that :class:`~zactor.testing.FakeClock`."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Coroutine
from typing import Any

import pytest

import zactor
from zactor.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """Virtual time: the test's event loop and every node given ``time_source=clock`` run on it."""
    return FakeClock()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        clock = kwargs.get("clock")
        if isinstance(clock, FakeClock):
            clock.run(pyfuncitem.obj(**kwargs))
            return True
        params = pyfuncitem.callspec.params.values() if hasattr(pyfuncitem, "callspec") else ()
        on_asyncio = any(isinstance(value, str) and value.endswith("+asyncio") for value in params)
        watched = _dumping_tasks_before_timeout(pyfuncitem.obj(**kwargs), _timeout_s(pyfuncitem) - _DUMP_AHEAD_S)
        zactor.run(watched, loop="asyncio" if on_asyncio else None)
        return True
    return None


_DUMP_AHEAD_S = 5.0  # how long before pytest-timeout ends the run a hung test's tasks are printed


def _timeout_s(item: pytest.Function) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


async def _dumping_tasks_before_timeout(test: Coroutine[Any, Any, None], after_s: float) -> None:
    """Run ``test``; if it still runs after ``after_s`` seconds, print every task's stack: pytest-timeout's dump that
    follows shows threads only, and a hung test's event loop thread just waits in ``select``."""
    if after_s <= 0:
        await test
        return
    dump = asyncio.get_running_loop().call_later(after_s, _print_tasks)
    try:
        await test
    finally:
        dump.cancel()


def _print_tasks() -> None:
    tasks = asyncio.all_tasks()
    print(f"\n{len(tasks)} task(s) still running, each with the chain of awaits it waits in:", file=sys.stderr)
    for task in tasks:
        print(f"--- {task.get_name()}", file=sys.stderr)
        awaiting: Any = task.get_coro()
        while awaiting is not None:
            frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
            if frame is None:  # a future, or a C-level awaitable: what the chain waits on
                print(f"    waits on {awaiting!r}", file=sys.stderr)
                break
            print(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}", file=sys.stderr)
            awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "gi_yieldfrom", None)


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("zactor").setLevel(logging.DEBUG)
