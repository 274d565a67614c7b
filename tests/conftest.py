"""Test configuration: ``async def`` tests run in a fresh event loop each (no plugin needed), of zactor's default
kind (:mod:`zactor.loops`: uvloop where installed, ``ZACTOR_LOOP`` to choose); a test parametrized with a value
ending in ``+asyncio`` runs on asyncio's own loop; a test that takes the ``clock`` fixture runs in virtual time on
that :class:`~zactor.testing.FakeClock`."""

from __future__ import annotations

import inspect
import logging

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
        zactor.run(pyfuncitem.obj(**kwargs), loop="asyncio" if on_asyncio else None)
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("zactor").setLevel(logging.DEBUG)
