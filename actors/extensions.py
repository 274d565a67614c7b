"""Extensions: cluster services installed on a running node, and the one place the default ones are named.

An extension is any object with a ``name`` (str), ``async start(node) -> handle`` and ``async stop()``. The node
starts its initial extensions in order after binding and stops all of them, in reverse order, before removing its
actors. Removing one extension leaves the others' actors and handlers untouched.

:func:`default_extensions` is the composition point where ``actors/`` meets ``services/``: the only import of
``services`` from ``actors``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from zactor.node import Node

__all__ = ["Extension", "EnvelopeClock", "Extensions", "default_extensions"]

log = logging.getLogger("zactor.extensions")


@runtime_checkable
class Extension(Protocol):
    """A cluster service that can be added to and removed from a running node."""

    name: str

    async def start(self, node: Node) -> Any:
        """Attach to the started ``node`` (add actors, start tasks); the result is returned by ``add_extension``."""
        ...

    async def stop(self) -> None:
        """Detach from the node: stop tasks and remove the actors it added."""
        ...


class EnvelopeClock(Protocol):
    """What the node needs of a clock: a stamp for each outgoing envelope and a merge for each incoming one."""

    def stamp(self) -> Any:
        """A fresh timestamp in its msgpack wire form, for the header's HLC slot."""
        ...

    def merge(self, wire: Any) -> None:
        """Merge a received header's HLC slot. Raises DecodeError (malformed) or ClockOffsetError (too far ahead)."""
        ...

    def now(self) -> Any:
        """A fresh timestamp (a local event)."""
        ...

    def check(self, ts: Any) -> None:
        """Refuse a timestamp received as data that is too far ahead. Raises ClockOffsetError."""
        ...


def default_extensions() -> list[Extension]:
    """The cluster services a node runs unless told otherwise: clock (HLC), membership (gossip), selector."""
    # the composition point: actors -> services, here only
    from zactor.services.clock import ClockService
    from zactor.services.membership.service import MembershipService
    from zactor.services.selector import SelectorService

    return [ClockService(), MembershipService(), SelectorService()]


class Extensions:
    """The extensions of one node, by name, in start order.

    Args:
        node: the owning node.
        initial: the extensions to start with the node (``None``: :func:`default_extensions`).
    """

    def __init__(self, node: Node, initial: list[Extension] | None) -> None:
        self._node = node
        self._initial = initial
        self._installed: dict[str, Extension] = {}

    async def start_initial(self) -> None:
        """Start the initial extensions in order."""
        for extension in default_extensions() if self._initial is None else self._initial:
            await self.add(extension)

    async def add(self, extension: Extension) -> Any:
        """Start ``extension`` and install it; see :meth:`zactor.node.Node.add_extension`."""
        name = extension.name
        if name in self._installed:
            raise ValueError(f"an extension named {name!r} is installed already")
        handle = await extension.start(self._node)
        self._installed[name] = extension
        log.info("extension %r started on node %r", name, self._node.node_id)
        return handle

    async def remove(self, name: str) -> None:
        """Stop and uninstall the extension ``name``; see :meth:`zactor.node.Node.remove_extension`."""
        extension = self._installed.pop(name)
        await extension.stop()

    def get(self, name: str) -> Extension:
        """The installed extension ``name``; raises ``KeyError`` when there is none."""
        return self._installed[name]

    def names(self) -> list[str]:
        """Installed extension names, in start order."""
        return list(self._installed)

    async def stop_all(self) -> None:
        """Stop every extension, last started first; a failing ``stop`` is logged and the others still stop."""
        for name in reversed(list(self._installed)):
            extension = self._installed.pop(name)
            try:
                await extension.stop()
            except Exception:
                log.exception("extension %r failed to stop", name)
