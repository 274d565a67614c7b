"""Test configuration: ``async def`` tests run in a fresh event loop each (no plugin needed); a test that takes the
``clock`` fixture runs in virtual time on that :class:`~zactor.testing.FakeClock`."""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest

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
        run = clock.run if isinstance(clock, FakeClock) else asyncio.run
        run(pyfuncitem.obj(**kwargs))
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("zactor").setLevel(logging.DEBUG)
