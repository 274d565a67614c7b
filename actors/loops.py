"""Which event loop zactor runs on: uvloop where it is installed, asyncio's own loop otherwise or on request.

uvloop (libuv under asyncio's API) shortens every loop turn, and zactor's hot path is a few loop turns per message.
Everything zactor does works on both loops: its sockets are registered with ``loop.add_reader`` on the ZeroMQ FD,
which both support, and the test suite runs the transport and node tests on each.

The choice, in order: the ``loop`` argument; the ``ZACTOR_LOOP`` environment variable; ``auto``. ``auto`` picks
uvloop when it imports, else asyncio; ``uvloop`` insists on it; ``asyncio`` opts out. The ``zactor`` command line
runs every command through :func:`run`, and so do :class:`~zactor.services.cluster.LocalCluster` nodes.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LOOP_ENV", "LOOP_KINDS", "loop_kind", "new_event_loop", "run"]

LOOP_ENV = "ZACTOR_LOOP"
LOOP_KINDS = ("auto", "uvloop", "asyncio")

T = TypeVar("T")


def _uvloop() -> Any:
    try:
        return importlib.import_module("uvloop")
    except ImportError:
        return None


def loop_kind(requested: str | None = None) -> str:
    """The loop :func:`new_event_loop` builds for ``requested`` (default: ``$ZACTOR_LOOP``, else ``auto``):
    ``"uvloop"`` or ``"asyncio"``.

    Raises:
        ValueError: ``requested`` is not one of ``LOOP_KINDS``, or is ``uvloop`` and uvloop is not installed.
    """
    kind = requested or os.environ.get(LOOP_ENV) or "auto"
    if kind not in LOOP_KINDS:
        raise ValueError(f"unknown event loop {kind!r} (from {LOOP_ENV} or --loop): use one of {', '.join(LOOP_KINDS)}")
    if kind == "asyncio":
        return kind
    if _uvloop() is None:
        if kind == "uvloop":
            raise ValueError("the uvloop event loop was asked for but uvloop is not installed (pip install uvloop)")
        return "asyncio"
    return "uvloop"


def new_event_loop(requested: str | None = None) -> asyncio.AbstractEventLoop:
    """A new event loop of the kind :func:`loop_kind` picks for ``requested``.

    Raises:
        ValueError: as :func:`loop_kind`.
    """
    if loop_kind(requested) == "uvloop":
        loop: asyncio.AbstractEventLoop = _uvloop().new_event_loop()
        return loop
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None) -> T:
    """Run ``main`` to completion on a new event loop of the kind :func:`loop_kind` picks for ``loop``, as
    ``asyncio.run`` does (the loop is closed afterwards), and return its result.

    Raises:
        ValueError: as :func:`loop_kind` (``main`` is then closed without running).
        Exception: whatever ``main`` raised.
    """
    try:
        kind = loop_kind(loop)
    except ValueError:
        main.close()
        raise
    with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
        return runner.run(main)
