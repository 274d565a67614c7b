"""The optional ``zactor.services.cluster.admin`` actor: add and remove actors on a running node from another process.

``zactor node --admin`` hosts it. ``AddActor(name, spec, restart)`` builds ``spec`` (``"module:Class"``, importable
on that node, constructed with no arguments) and adds it under ``name``, supervised by ``restart`` when given (the
class is then the factory of every restart); ``RemoveActor(name)`` removes one. ``ClusterNode.spawn`` and
``stop_actor`` (and ``zactor spawn`` / ``stop-actor``) send these. Least authority:
it imports only modules under the prefixes allowed at start (``--admin-allow PREFIX``; none by default), never
changes ``sys.path``, and never adds, replaces or removes an actor whose name starts with ``zactor.`` (the system
actors). It can only instantiate classes already installed on the node, never code sent over the wire.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from zactor.actor import Actor, Context, handler
from zactor.supervision import RestartPolicy
from zactor.transport.codec import Returns, message

__all__ = ["ADMIN_ACTOR", "AdminActor", "AddActor", "RemoveActor", "ActorNames", "actor_factory", "load_object"]

ADMIN_ACTOR = "zactor.services.cluster.admin"


def _split(spec: str) -> tuple[str, str]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected MODULE:NAME, got {spec!r}")
    return module_name, attr


def load_object(spec: str) -> object:
    """Import ``"package.module:Name"`` (from ``sys.path`` as it is) and return ``Name``.

    Raises:
        ValueError: ``spec`` is not of the form ``module:Name``, or the module or name does not exist.
    """
    module_name, attr = _split(spec)
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {spec!r}: {exc}") from None


def actor_factory(spec: str) -> Callable[[], Actor]:
    """Load the actor class named by ``spec``; returns what constructs it with no arguments.

    Raises:
        ValueError: ``spec`` cannot be loaded or is not an :class:`Actor` subclass (and, when called, the class
            cannot be built with no arguments).
    """
    cls = load_object(spec)
    if not (isinstance(cls, type) and issubclass(cls, Actor)):
        raise ValueError(f"{spec!r} is not an Actor subclass")
    actor_class: type[Actor] = cls

    def build() -> Actor:
        try:
            return actor_class()
        except TypeError as exc:
            raise ValueError(f"{spec!r} cannot be built with no arguments: {exc}") from None

    return build


def build_actor(spec: str) -> Actor:
    """Load the actor class named by ``spec`` and construct it with no arguments.

    Raises:
        ValueError: ``spec`` cannot be loaded, is not an :class:`Actor` subclass, or needs arguments.
    """
    return actor_factory(spec)()


@message("zactor.services.cluster.admin.AddActor")
class AddActor(Returns["ActorNames"]):
    """Add an actor built from ``spec`` (``module:Class``) under ``name``, supervised by ``restart`` when given."""

    name: str
    spec: str
    restart: RestartPolicy | None = None


@message("zactor.services.cluster.admin.RemoveActor")
class RemoveActor(Returns["ActorNames"]):
    """Remove the actor ``name``."""

    name: str


@message("zactor.services.cluster.admin.ActorNames")
class ActorNames:
    """The actors hosted after the change."""

    names: list[str]


class AdminActor(Actor):
    """Adds and removes actors of its node on request (see the module docstring).

    Args:
        allow: module prefixes an ``AddActor`` may import from (``"myapp"`` allows ``myapp`` and ``myapp.*``);
            empty: none.

    An ``AddActor`` or ``RemoveActor`` it refuses fails at the caller with a ``RemoteError`` of type
    ``PermissionError`` (``ValueError`` for a spec that does not load or build, ``ActorExists`` for a name in use,
    ``LookupError`` for removing an actor that is not hosted); ``ClusterNode.spawn`` raises ``SpawnRefused`` instead.
    """

    def __init__(self, allow: Sequence[str] = ()) -> None:
        self.allow = tuple(p.rstrip(".") for p in allow if p.strip("."))

    def _check_name(self, name: str) -> None:
        if name.startswith("zactor."):
            raise PermissionError(f"{name!r} is a system actor: the admin actor never adds, replaces or removes it")

    def _check_module(self, spec: str) -> None:
        module_name, _ = _split(spec)
        if not any(module_name == p or module_name.startswith(p + ".") for p in self.allow):
            allowed = ", ".join(self.allow) or "none"
            raise PermissionError(f"module {module_name!r} is outside this node's --admin-allow prefixes ({allowed})")

    @handler
    async def add(self, msg: AddActor, ctx: Context) -> ActorNames:
        self._check_name(msg.name)
        self._check_module(msg.spec)
        factory = actor_factory(msg.spec)
        if msg.restart is None:
            await ctx.node.add_actor(msg.name, factory())
        else:
            await ctx.node.add_actor(msg.name, factory, restart=msg.restart)
        return ActorNames(names=ctx.node.actors())

    @handler
    async def remove(self, msg: RemoveActor, ctx: Context) -> ActorNames:
        self._check_name(msg.name)
        if msg.name not in ctx.node.actors():
            raise LookupError(f"no actor {msg.name!r} is hosted here")
        await ctx.node.remove_actor(msg.name)
        return ActorNames(names=ctx.node.actors())
