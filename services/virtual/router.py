"""The ``zactor.virtual`` actor: the wire side of :class:`~zactor.services.virtual.VirtualActors`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zactor.actor import Actor, Context, handler
from zactor.services.virtual.model import NotOwner, Redirect, VirtualAsk, VirtualTell

if TYPE_CHECKING:
    from zactor.services.virtual.host import VirtualActors

__all__ = ["VirtualRouter"]


class VirtualRouter(Actor):
    """The ``zactor.virtual`` actor: hands each message to its activation (the wire side of :class:`VirtualActors`)."""

    max_concurrency = 256

    def __init__(self, host: VirtualActors) -> None:
        self.host = host

    @handler
    async def on_ask(self, msg: VirtualAsk, ctx: Context) -> Any:
        try:
            return await self.host.deliver(msg.kind, msg.key, msg.msg, ask=True)
        except NotOwner as exc:
            return Redirect(leader=exc.leader)

    @handler
    async def on_tell(self, msg: VirtualTell, ctx: Context) -> Redirect | None:
        try:
            await self.host.deliver(msg.kind, msg.key, msg.msg, ask=False)
        except NotOwner as exc:
            return Redirect(leader=exc.leader)
        return None
