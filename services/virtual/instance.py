"""What the ``virtual`` extension holds per kind and per active key, and the base class of virtual actors."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from zactor.actor import Actor, Context

__all__ = ["Activation", "KindSpec", "VirtualActor"]


class VirtualActor(Actor):
    """Base class of a virtual actor: ``kind``, ``key`` and ``term`` (the fencing term of its shard's leader when it
    was activated) are set before it is activated; ``on_activate`` and ``on_deactivate`` run as it is activated and
    deactivated (after ``idle_s``, a move, or its node stopping)."""

    kind: str = ""
    key: str = ""
    term: int = 0

    async def on_activate(self, ctx: Context) -> None:
        """Called once before the instance takes its first message."""

    async def on_deactivate(self, ctx: Context) -> None:
        """Called once after the instance took its last message of this activation."""

    async def on_start(self, ctx: Context) -> None:
        await self.on_activate(ctx)

    async def on_stop(self, ctx: Context) -> None:
        await self.on_deactivate(ctx)


@attrs.define
class KindSpec:
    """A kind this node hosts: its factory, shard count and idle timeout (seconds); a singleton's one key is active
    whenever this node may run it, messages or not."""

    factory: Callable[[], Actor]
    shards: int
    idle_s: float
    singleton: bool = False


@attrs.define
class Activation:
    """One active instance: its registry name, shard, the shard term it was activated in, when it started and when it
    last took a message (monotonic seconds)."""

    name: str
    shard: int
    term: int
    started_s: float
    last_s: float
    handled: int = 0
