"""References to actors, local or remote."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zactor.node import Node

__all__ = ["ActorRef"]


class ActorRef:
    """A handle to send messages to one named actor, on this node (``address is None``) or at a remote endpoint.

    Obtain one with :meth:`Node.ref`; it is cheap, holds no connection, and stays valid across the actor being
    removed and added again (asks in between fail with ``ActorNotFound``).

    Attributes:
        name: the actor's registered name.
        address: the endpoint of the hosting node, or ``None`` for a local actor.
    """

    __slots__ = ("_node", "name", "address")

    def __init__(self, node: Node, name: str, address: str | None) -> None:
        self._node = node
        self.name = name
        self.address = address

    async def ask(self, msg: Any, *, timeout_s: float | None = None) -> Any:
        """Send ``msg`` to the actor and wait for its reply.

        Args:
            msg: a ``@message`` instance.
            timeout_s: the deadline in seconds (default: the node's ``default_timeout_s``).

        Returns:
            The handler's reply: a message instance, or ``None``.

        Raises:
            RequestTimeout: no reply within ``timeout_s`` seconds.
            ActorNotFound: no actor of that name on the target node (or it was removed while the ask waited).
            HandlerNotFound: the actor has no handler for the message's type.
            RemoteError: the handler raised; carries the remote type name, message, node and actor.
            MailboxFull: the actor's mailbox is full.
            NodeUnavailable: the target node is stopping, or this node stopped.
            MessageTooLarge: the encoded message exceeds ``max_message_bytes``.
            DecodeError: the target could not decode the message, or its reply could not be decoded.
            TypeError: ``msg`` is not a ``@message`` instance.
        """
        timeout = self._node.config.default_timeout_s if timeout_s is None else timeout_s
        if self.address is None:
            return await self._node.calls.ask_local(self.name, msg, timeout)
        return await self._node.calls.ask_remote(self.address, self.name, msg, timeout)

    async def tell(self, msg: Any) -> None:
        """Send ``msg`` without waiting for a reply or its handling (fire-and-forget).

        Failures on the remote side (unknown actor, handler error) are logged and counted there, not reported here.

        Raises:
            ActorNotFound: (local actor) no actor of that name.
            MailboxFull: (local actor) the mailbox is full.
            MessageTooLarge: the encoded message exceeds ``max_message_bytes``.
            SendTimeout: the connection stayed at its high-water mark past the node's ``default_timeout_s``.
            TypeError: ``msg`` is not a ``@message`` instance.
        """
        if self.address is None:
            self._node.calls.tell_local(self.name, msg)
        else:
            await self._node.calls.tell_remote(self.address, self.name, msg)

    def __repr__(self) -> str:
        where = self.address or "local"
        return f"ActorRef({self.name!r} @ {where})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and (self.name, self.address) == (other.name, other.address)

    def __hash__(self) -> int:
        return hash((self.name, self.address))
