"""References to actors, local or remote; a reference is also a value a message field can carry (``ActorRef``).

On the wire an ``ActorRef`` field is ``[node_id, address, name]``: a local reference travels with its node's id and
bound address, so the receiver can ask it back. A node decodes it bound to itself (:data:`RECEIVER`), as a local
reference when it names this node's own address. A ref from a peer is as trustworthy as the peer: asking it connects
to whatever address it names.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from zactor.errors import ActorError, DecodeError, RequestTimeout
from zactor.streams import DEFAULT_WINDOW, END
from zactor.transport.codec import Returns, Streams, describe_type, reply_type_of, type_name_of

if TYPE_CHECKING:
    from zactor.node import Node

__all__ = ["ActorRef", "RECEIVER", "check_reply_type", "receiving"]

R = TypeVar("R")
T = TypeVar("T")
if TYPE_CHECKING:  # a bare ``ActorRef`` is ``ActorRef[Any]`` (PEP 696 default, in typing from Python 3.13)
    from typing_extensions import TypeVar as DefaultedTypeVar

    M = DefaultedTypeVar("M", default=Any)
else:
    M = TypeVar("M")

RECEIVER: contextvars.ContextVar[Node | None] = contextvars.ContextVar("zactor_receiver", default=None)
"""The node decoding a message or reply right now: an ``ActorRef`` field arrives bound to it."""


def receiving(node: Node, decode: Callable[..., T], *args: Any) -> T:
    """``decode(*args)`` with ``node`` as the :data:`RECEIVER` of the references it decodes (set only when it is not
    already: a node's transport callbacks run in a context where it is, see :meth:`zactor.Node.start`)."""
    if RECEIVER.get() is node:
        return decode(*args)
    token = RECEIVER.set(node)
    try:
        return decode(*args)
    finally:
        RECEIVER.reset(token)


def check_reply_type(actor: str, msg: object, reply: Any, expected: type | None) -> Any:
    """Return ``reply`` if it is of the type ``msg``'s class declares (``expected``, from ``reply_type_of``).

    Raises:
        DecodeError: it is of another type.
    """
    if expected is not None and not isinstance(reply, expected):
        raise DecodeError(
            f"actor {actor!r} answered {describe_type(reply)} to {type_name_of(type(msg))}, which "
            f"returns {expected.__qualname__}"
        )
    return reply


class ActorRef(Generic[M]):
    """A handle to send messages to one named actor, on this node (``address is None``) or at a remote endpoint.

    Obtain one with :meth:`Node.ref`; it is cheap, holds no connection, and stays valid across the actor being
    removed and added again (asks in between fail with ``ActorNotFound``). As a message field it travels by value
    (see the module docstring); ``ActorRef[Q]`` names the message type ``Q`` the actor is meant to take, for the
    reader (the receiving handler's own annotations are what is checked).

    Attributes:
        name: the actor's registered name.
        address: the endpoint of the hosting node, or ``None`` for a local actor.
        node_id: the hosting node's id when known (a reference that arrived in a message, or made by node id).
    """

    __slots__ = ("_node", "name", "address", "node_id")

    def __init__(self, node: Node, name: str, address: str | None, node_id: str | None = None) -> None:
        self._node = node
        self.name = name
        self.address = address
        self.node_id = node_id

    def __zactor_wire__(self) -> list[str]:
        """The wire form: ``[node_id, address, name]`` (a local reference names its own node)."""
        if self.address is None:
            return [self._node.node_id, self._node.address, self.name]
        return [self.node_id or "", self.address, self.name]

    @classmethod
    def __zactor_from_wire__(cls, value: Any) -> ActorRef[Any]:
        """A reference decoded by the :data:`RECEIVER` node, bound to it.

        Raises:
            ValueError: ``value`` is not ``[node_id, address, name]`` (three strings, a name and an address), or no
                node is decoding (the blocking client cannot take references).
        """
        if not (isinstance(value, list) and len(value) == 3 and all(type(v) is str for v in value)):
            raise ValueError("expected [node_id, address, name]")
        node_id, address, name = value
        node = RECEIVER.get()
        if node is None or not name or not address:
            raise ValueError("a reference needs a name, an address and a node to arrive at")
        if address == node.address:
            return cls(node, name, None, node.node_id)
        return cls(node, name, address, node_id or None)

    @overload
    async def ask(self, msg: Returns[R], *, timeout_s: float | None = None) -> R: ...

    @overload
    async def ask(self, msg: object, *, timeout_s: float | None = None) -> Any: ...

    async def ask(self, msg: object, *, timeout_s: float | None = None) -> Any:
        """Send ``msg`` to the actor and wait for its reply.

        Args:
            msg: a ``@message`` instance.
            timeout_s: the deadline in seconds (default: the node's ``default_timeout_s``).

        Returns:
            The handler's reply: a message instance, or ``None``; typed ``R`` for a message of a class that
            subclasses ``Returns[R]``.

        Raises:
            RequestTimeout: no reply within ``timeout_s`` seconds.
            ActorNotFound: no actor of that name on the target node (or it was removed while the ask waited).
            HandlerNotFound: the actor has no handler for the message's type.
            RemoteError: the handler raised; carries the remote type name, message, node and actor.
            MailboxFull: the actor's mailbox is full.
            NodeUnavailable: the target node is stopping, or this node stopped.
            MessageTooLarge: the encoded message exceeds ``max_message_bytes``.
            DecodeError: the target could not decode the message, its reply could not be decoded, or the reply is not
                of the type the message's class declares with ``Returns``.
            TypeError: ``msg`` is not a ``@message`` instance, or holds a value msgpack cannot encode.
            TransportClosed: this node's transport is closed, or its socket failed.
            ValueError: the reference's address is not a valid endpoint.
        """
        timeout = self._node.config.default_timeout_s if timeout_s is None else timeout_s
        expected = reply_type_of(type(msg))
        if self.address is None:
            reply = await self._node.calls.ask_local(self.name, msg, timeout)
        else:
            reply = await self._node.calls.ask_remote(self.address, self.name, msg, timeout)
        return check_reply_type(self.name, msg, reply, expected)

    async def tell(self, msg: Any) -> None:
        """Send ``msg`` without waiting for a reply or its handling (fire-and-forget).

        Failures on the remote side (unknown actor, handler error) are logged and counted there, not reported here.

        Raises:
            ActorNotFound: (local actor) no actor of that name.
            MailboxFull: (local actor) the mailbox is full.
            MessageTooLarge: the encoded message exceeds ``max_message_bytes``.
            SendTimeout: the connection stayed at its high-water mark past the node's ``default_timeout_s``.
            TypeError: ``msg`` is not a ``@message`` instance, or holds a value msgpack cannot encode.
            TransportClosed: this node's transport is closed, or its socket failed.
            ValueError: the reference's address is not a valid endpoint.
        """
        if self.address is None:
            self._node.calls.tell_local(self.name, msg)
        else:
            await self._node.calls.tell_remote(self.address, self.name, msg)

    @overload
    def stream(
        self, msg: Streams[R], *, window: int = DEFAULT_WINDOW, timeout_s: float | None = None
    ) -> AsyncIterator[R]: ...

    @overload
    def stream(
        self, msg: object, *, window: int = DEFAULT_WINDOW, timeout_s: float | None = None
    ) -> AsyncIterator[Any]: ...

    async def stream(
        self, msg: object, *, window: int = DEFAULT_WINDOW, timeout_s: float | None = None
    ) -> AsyncIterator[Any]:
        """Send ``msg`` to a streaming handler (an async generator) and iterate over the items it yields:
        ``async for item in ref.stream(Count(n=10)): ...``. A plain handler's reply is the stream's only item.

        Flow control is by credit (:mod:`zactor.streams`): at most ``window`` items are sent ahead of what this
        iterator has taken, so a slow consumer holds the producer at its ``yield``. Leaving the loop (``break``, an
        exception, ``aclose()``) cancels the producing handler; ``contextlib.aclosing`` makes that immediate.

        Args:
            msg: a ``@message`` instance; a class that subclasses ``Streams[Item]`` types the items.
            window: the credit in items (1 to 65536).
            timeout_s: the longest wait for the next item, in seconds (default: the node's ``default_timeout_s``).

        Raises:
            RequestTimeout: no item (nor the end) within ``timeout_s`` seconds; the stream is cancelled.
            ValueError: ``window`` is outside 1..65536.
            ActorNotFound, HandlerNotFound, MailboxFull, NodeUnavailable, DecodeError, TypeError: as for
                :meth:`ask`, when the stream starts, or as its end.
            RemoteError: the handler raised (after every item it yielded before).
        """
        timeout = self._node.config.default_timeout_s if timeout_s is None else timeout_s
        inbox, cancel = await self._node.calls.open_stream(self.address, self.name, msg, window, timeout)
        try:
            while True:
                try:
                    item = await inbox.next(timeout)
                except TimeoutError as exc:
                    if isinstance(exc, ActorError):
                        raise
                    raise RequestTimeout(self.name, timeout) from None
                if item is END:
                    return
                yield item
        finally:
            if not inbox.done:
                cancel()

    def __repr__(self) -> str:
        where = self.address or "local"
        return f"ActorRef({self.name!r} @ {where})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and (self.name, self.address) == (other.name, other.address)

    def __hash__(self) -> int:
        return hash((self.name, self.address))
