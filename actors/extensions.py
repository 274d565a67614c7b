"""Extensions: services installed on a running node.

An extension is any object with a ``name`` (str), ``async start(node) -> handle`` and ``async stop()``. The node
starts its initial extensions in order after binding and stops all of them, in reverse order, before removing its
actors. Removing one extension leaves the others' actors and handlers untouched. The runtime names no extension:
the cluster services live in :mod:`zactor.services`, and :class:`zactor.services.cluster.ClusterNode` composes them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from zactor.node import Node

__all__ = ["Extension", "EnvelopeClock", "Extensions"]

log = logging.getLogger("zactor.extensions")

H_co = TypeVar("H_co", covariant=True)
E = TypeVar("E")


@runtime_checkable
class Extension(Protocol[H_co]):
    """A service that can be added to and removed from a running node; ``start`` returns its handle (of type
    ``H_co``), which :meth:`zactor.node.Node.add_extension` returns typed."""

    @property
    def name(self) -> str:
        """The extension's unique name on a node."""
        ...

    async def start(self, node: Node) -> H_co:
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


class Extensions:
    """The extensions of one node, by name, in start order.

    Args:
        node: the owning node.
        initial: the extensions to start with the node, in order.
    """

    def __init__(self, node: Node, initial: Sequence[Extension[Any]]) -> None:
        self._node = node
        self._initial = list(initial)
        self._installed: dict[str, Extension[Any]] = {}

    async def start_initial(self) -> None:
        """Start the initial extensions in order."""
        for extension in self._initial:
            await self.add(extension)

    async def add(self, extension: Extension[E]) -> E:
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

    def get(self, kind: type[E]) -> E:
        """The installed extension that is an instance of ``kind`` (the first started, when several are).

        Raises:
            LookupError: none is installed.
        """
        for extension in self._installed.values():
            if isinstance(extension, kind):
                return extension
        raise LookupError(f"no {kind.__name__} extension on node {self._node.node_id!r}")

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
