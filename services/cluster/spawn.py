"""Spawning actors on cluster members from code, through each node's admin actor (``zactor node --admin``).

``ClusterNode.spawn`` chooses a live member that hosts ``zactor.services.cluster.admin`` (one named, any, or the
choice of a placement function) and asks it to ``AddActor``; ``ClusterNode.stop_actor`` asks the actor's node to
``RemoveActor``. The target node's allow-list (``--admin-allow``) decides: whatever it refuses, and a node without
an admin actor, fails here with one error, :class:`~zactor.errors.SpawnRefused`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from zactor.errors import ActorNotFound, ActorTerminated, RemoteError, SpawnRefused
from zactor.services.cluster.admin import ADMIN_ACTOR
from zactor.services.membership.model import Member

if TYPE_CHECKING:
    from zactor.node import Node

__all__ = ["Host", "Placement", "admin_request", "choose_host"]

Placement = str | Callable[[list[Member]], str]
"""Where to spawn: a node id, ``"any"`` (a random one), or a function given the live members that host the admin
actor, returning the id of one of them."""

#: What the admin actor raises for a request it refuses (a handler's error arrives as ``RemoteError`` of that type).
_REFUSALS = frozenset({"PermissionError", "ValueError", "TypeError", "ActorExists"})


class Host(Protocol):
    """A node that may be spawned on (a :class:`Member`, or a row of a member table)."""

    @property
    def node_id(self) -> str: ...

    @property
    def address(self) -> str: ...


H = TypeVar("H", bound=Host)


def choose_host(name: str, on: str | Callable[[list[H]], str], hosts: Sequence[H], rng: random.Random) -> H:
    """The node to spawn ``name`` on, among ``hosts`` (the live members that host the admin actor).

    Raises:
        SpawnRefused: no host, or ``on`` (or what the placement function returned) names none of them.
    """
    if not hosts:
        raise SpawnRefused(name, "", f"no live member hosts the admin actor {ADMIN_ACTOR} (start nodes with --admin)")
    if on == "any":
        return rng.choice(list(hosts))
    node_id = on(list(hosts)) if callable(on) else on
    for member in hosts:
        if member.node_id == node_id:
            return member
    raise SpawnRefused(name, str(node_id), f"not a live member that hosts the admin actor {ADMIN_ACTOR} (--admin)")


async def admin_request(node: Node, host: str, address: str, name: str, msg: object, timeout_s: float | None) -> None:
    """Send ``msg`` (``AddActor``/``RemoveActor`` for the actor ``name``) to the admin actor of the node ``host`` at
    ``address``.

    Raises:
        SpawnRefused: the node refused, or hosts no admin actor.
        ActorNotFound: a ``RemoveActor`` of an actor the node does not host.
        ActorError: the node did not answer in time (``RequestTimeout``), or died meanwhile (``ActorTerminated``).
    """
    try:
        await node.ref(ADMIN_ACTOR, address=address).ask(msg, timeout_s=timeout_s)
    except RemoteError as exc:
        if exc.type_name in _REFUSALS:
            raise SpawnRefused(name, host, exc.message) from None
        if exc.type_name == "LookupError":
            raise ActorNotFound(name, host) from None
        raise
    except ActorNotFound as exc:
        if isinstance(exc, ActorTerminated) or exc.actor != ADMIN_ACTOR:
            raise
        raise SpawnRefused(name, host, f"the node hosts no admin actor {ADMIN_ACTOR} (start it with --admin)") from None
