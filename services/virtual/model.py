"""Virtual actors' naming and placement: which shard a key is in, the election group that owns the shard, the name an
activation is registered under, and the messages that reach an instance wherever it is active.

A kind's keys are spread over ``shards`` shards by a hash of the key; each shard is owned by the leader of its own
election group (``virtual.<kind>.<shard>``), which holds a lease and a fencing term. Only that leader activates the
shard's keys, and only while its lease has more than a guard interval left, so a node cut off from its group's
majority stops its activations before another node can be elected (Akka Cluster Sharding's shards, with ownership
by lease instead of a coordinator).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from zactor.directory import UNLISTED_PREFIX
from zactor.errors import ActorError
from zactor.services.election.model import rank
from zactor.transport.codec import Returns, message

__all__ = [
    "INSTANCE_PREFIX",
    "first_guess",
    "META_PREFIX",
    "SINGLETON_KEY",
    "SINGLETON_PREFIX",
    "VIRTUAL_ACTOR",
    "NotOwner",
    "Redirect",
    "VirtualAsk",
    "VirtualTell",
    "group_of",
    "instance_name",
    "may_serve",
    "must_stop",
    "shard_of",
]

VIRTUAL_ACTOR = "zactor.virtual"
"""The actor of every node hosting kinds: it takes the messages for that node's activations."""
INSTANCE_PREFIX = UNLISTED_PREFIX
"""Activations are registered as ``zactor.virtual/<kind>/<key>`` (not gossiped as actors)."""
SINGLETON_PREFIX = "singleton."
"""The kind of the singleton ``name`` is ``singleton.<name>``."""
SINGLETON_KEY = "singleton"
"""The one key of a singleton's kind."""
META_PREFIX = "virtual."
"""Membership meta ``virtual.<kind>`` = the kind's shard count, on every node that hosts it."""


def shard_of(key: str, shards: int) -> int:
    """The shard of ``key`` among ``shards`` (a stable hash: the same on every node and every run)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def group_of(kind: str, shard: int) -> str:
    """The election group that owns ``shard`` of ``kind``."""
    return f"virtual.{kind}.{shard}"


def first_guess(kind: str, key: str, hosts: dict[str, str]) -> str:
    """Of ``hosts`` (``{node_id: the kind's shard count}``, non-empty), the one that ranks first for the key's shard
    group: the voter the election orders first, so the likeliest leader before any answer names one."""
    group = group_of(kind, shard_of(key, int(next(iter(hosts.values())))))
    return max(hosts, key=lambda node_id: rank(group, node_id))


def preferred_leader(group: str, live_voters: Iterable[str]) -> str | None:
    """The voter that should lead ``group``: of its live voters, the first by rendezvous rank (so the shards of a
    kind spread over its hosts as the hash spreads them; ``None`` when there are none)."""
    return max(live_voters, key=lambda node_id: rank(group, node_id), default=None)


def may_serve(is_leader: bool, lease_remaining_s: float, guard_s: float) -> bool:
    """Whether a node may run a shard's keys now: it leads the shard with more than ``guard_s`` of lease left."""
    return is_leader and lease_remaining_s > guard_s


def must_stop(serving: bool, term: int, activation_term: int) -> bool:
    """Whether an activation made in ``activation_term`` must stop: its node may no longer serve the shard, or the
    shard is led in another term now."""
    return not serving or term != activation_term


def instance_name(kind: str, key: str) -> str:
    """The registry name of the activation of ``key`` of ``kind``."""
    return f"{INSTANCE_PREFIX}{kind}/{key}"


class NotOwner(ActorError):
    """This node does not own the key's shard now (it is not the shard's leader, or its lease is ending).

    Attributes:
        kind, key: the instance asked for.
        leader: the shard's leader as this node knows it (``""``: none known).
    """

    def __init__(self, kind: str, key: str, leader: str) -> None:
        super().__init__(leader)
        self.kind = kind
        self.key = key
        self.leader = leader


@message("zactor.virtual.Ask")
class VirtualAsk(Returns[Any]):
    """Ask the instance ``key`` of ``kind`` with ``msg``, activating it if needed; the reply is its handler's, or a
    :class:`Redirect` from a node that does not own the key now."""

    kind: str
    key: str
    msg: Any


@message("zactor.virtual.Tell")
class VirtualTell(Returns["Redirect | None"]):
    """Hand the instance ``key`` of ``kind`` the tell ``msg``, activating it if needed; answered once it is queued
    (``None``), or with a :class:`Redirect`."""

    kind: str
    key: str
    msg: Any


@message("zactor.virtual.Redirect")
class Redirect:
    """The answer of a node that does not own the key now: ``leader`` is the shard's leader as it knows it (``""``:
    none known, or the node does not host the kind)."""

    leader: str
