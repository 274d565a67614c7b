"""The event loop zactor runs on: uvloop by default where installed, asyncio's own on request, a clear error for
anything else."""

from __future__ import annotations

import asyncio

import pytest

import zactor
from zactor.loops import LOOP_ENV, loop_kind, new_event_loop

uvloop = pytest.importorskip("uvloop")


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_the_default_is_uvloop_and_asyncio_is_an_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOOP_ENV, raising=False)
    assert loop_kind() == "uvloop"
    assert zactor.run(_loop_type()) is uvloop.Loop
    assert zactor.run(_loop_type(), loop="asyncio") is not uvloop.Loop
    monkeypatch.setenv(LOOP_ENV, "asyncio")
    assert loop_kind() == "asyncio"
    assert zactor.run(_loop_type()) is not uvloop.Loop
    assert zactor.run(_loop_type(), loop="uvloop") is uvloop.Loop


def test_an_unknown_loop_is_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_ENV, "trio")
    with pytest.raises(ValueError, match="unknown event loop 'trio'"):
        new_event_loop()
    ran = []

    async def main() -> None:
        ran.append(True)

    with pytest.raises(ValueError, match="ZACTOR_LOOP"):
        zactor.run(main())
    assert not ran


def test_uvloop_asked_for_but_missing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("zactor.loops._uvloop", lambda: None)
    assert loop_kind("auto") == "asyncio"
    with pytest.raises(ValueError, match="uvloop is not installed"):
        loop_kind("uvloop")
