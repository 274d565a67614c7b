"""Test configuration: ``async def`` tests run in a fresh event loop each (no plugin needed)."""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**kwargs))
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("zactor").setLevel(logging.DEBUG)
