"""Where an ask's answer goes: a remote asker's connection or a local asker's future, behind one method.

A mailbox holds, with each message, its :data:`ReplyTo`: ``None`` for a tell, a :class:`RemoteAsk` or a
:class:`LocalAsk`; it answers with ``reply_to.answer(result, error, actor)`` and never asks which one it holds.
A ``RemoteAsk`` equals any other for the same connection and request id, so a CANCEL envelope names the ask it
abandons by building one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from zactor.errors import (
    ActorNotFound,
    ClockOffsetError,
    ClusterMismatch,
    DecodeError,
    ForgedSender,
    HandlerNotFound,
    MailboxFull,
    RemoteError,
)

if TYPE_CHECKING:
    from zactor.streams import LocalStream

__all__ = ["REFUSALS", "LocalAsk", "RemoteAsk", "ReplyTo", "Responder", "as_caller_error"]

Responder = Callable[["RemoteAsk", Any, BaseException | None, str], None]
"""``respond(ask, result, error, actor_name)``: hands a remote reply or ERROR to the transport, never waiting on the
peer."""

REFUSALS = (DecodeError, ClusterMismatch, ClockOffsetError, ForgedSender)
"""What a handler raises to refuse the request it serves; the caller gets these typed, not as ``RemoteError``."""


class RemoteAsk(NamedTuple):
    """An ask from another node or client: its connection's routing identity and its request id, and the node's
    responder (compared too, and the same for every ask of one node)."""

    peer: bytes
    request_id: int
    respond: Responder

    def answer(self, result: Any, error: BaseException | None, actor: str) -> None:
        """Send the REPLY (or the ERROR for ``error``) to the asker; never raises."""
        self.respond(self, result, error, actor)


class LocalAsk:
    """An ask from this node: the asker awaits ``future``.

    Args:
        future: resolved with the reply, or failed with what the asker raises.
        node_id: this node's id (named in the errors the asker gets).
    """

    __slots__ = ("future", "node_id")
    peer = None
    """A local ask has no connection (so it never matches a peer that is gone)."""

    def __init__(self, future: asyncio.Future[Any], node_id: str) -> None:
        self.future = future
        self.node_id = node_id

    def answer(self, result: Any, error: BaseException | None, actor: str) -> None:
        """Resolve the future (unless the asker gave up): a handler's failure as ``RemoteError``, what the node or
        the handler refused as itself, the same errors as a remote asker sees."""
        future = self.future
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(as_caller_error(error, self.node_id, actor))


ReplyTo: TypeAlias = "RemoteAsk | LocalAsk | LocalStream | None"
"""Where a queued message's answer goes (``None``: a tell, answered by nothing; a ``RemoteStream`` is a
``RemoteAsk``)."""


def as_caller_error(error: BaseException, node_id: str, actor: str) -> BaseException:
    """What a local caller raises for a handler's ``error``: a refusal or lookup error as it is, anything else as
    the ``RemoteError`` a remote caller would get."""
    if isinstance(error, (HandlerNotFound, ActorNotFound, MailboxFull, RemoteError, *REFUSALS)):
        return error
    return RemoteError(type(error).__name__, str(error), node_id, actor)
