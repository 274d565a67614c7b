"""Actors, handlers and the context they run in.

An actor is a subclass of :class:`Actor` whose ``@handler`` methods each take one message type, named by the
annotation of their first parameter after ``self``::

    class Calculator(Actor):
        @handler
        async def add(self, msg: Add, ctx: Context) -> Sum:
            return Sum(value=msg.a + msg.b)

The node delivers one message at a time to an actor, in arrival order (the mailbox), unless the actor sets
``max_concurrency`` above 1.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import typing
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from zactor.deathwatch import Terminated
from zactor.errors import ClusterMismatch
from zactor.transport.codec import is_message, type_name_of

if TYPE_CHECKING:
    from zactor.mailbox import Mailbox
    from zactor.node import Node
    from zactor.ref import ActorRef
    from zactor.services.cluster.node import ClusterNode

__all__ = ["SENDER", "Actor", "Context", "Sender", "handler", "handlers_of", "sync_handlers"]

F = TypeVar("F", bound=Callable[..., Any])  # async def, async generator or def: checked at run time
Handler = Callable[[Any, "Context"], Coroutine[Any, Any, Any]]


def handler(fn: F) -> F:
    """Mark a method of an :class:`Actor` as the handler of its first parameter's message type.

    An ``async def`` method is called as ``await method(msg, ctx)``; it returns the reply (a message, or ``None``).
    A method that is an async generator (``async def`` with ``yield``, returning ``AsyncIterator[Item]``) streams its
    items to a caller of ``ref.stream(msg)`` instead (see :mod:`zactor.streams`).

    A plain ``def`` method is a synchronous handler, called as ``method(msg, ctx)`` on the event loop's thread: it
    must not block. It keeps the mailbox's order and one-at-a-time rule. When its actor is idle, a message from the
    transport runs it at once in the receive callback, in no task (``asyncio.current_task()`` is ``None`` there),
    which saves the hand-over to a task that an ``async def`` handler needs; a message that queues runs it in the
    actor's worker task.

    Raises:
        TypeError: ``fn`` is a (sync) generator function, or not a function.
    """
    marked = fn  # the check below narrows fn's type; the decorator must return it as F
    if inspect.isgeneratorfunction(fn) or not inspect.isfunction(fn):
        raise TypeError(f"@handler {getattr(fn, '__qualname__', fn)!r} must be a def or an async def method")
    setattr(fn, "__zactor_handler__", True)  # noqa: B010 (a function attribute mypy does not know)
    return marked


class Actor:
    """Base class for actors.

    Attributes:
        max_concurrency: how many messages the actor may handle at once (1: strictly one at a time, in order).
            Raise it only for actors whose handlers share no mutable state.
        mailbox_size: the mailbox bound in messages, or ``None`` for the node's default
            (``NodeConfig.mailbox_size``); a full mailbox refuses new messages with ``MailboxFull``.
    """

    max_concurrency: int = 1
    mailbox_size: int | None = None

    async def on_start(self, ctx: Context) -> None:
        """Called once when the actor is added to a node, before it receives any message."""

    async def on_stop(self, ctx: Context) -> None:
        """Called once when the actor is removed (or its node stops), after its last message."""


@attrs.frozen
class Sender:
    """Who sent the message a handler runs for (``ctx.sender``).

    Attributes:
        node_id: the sending node's id, as its envelope says (this node's own for a local message); ``None`` for a
            client that is no node (the blocking client, ``zactor call``). On a secure cluster a node's envelope is
            refused unless this is the name of the key its connection authenticated with.
        principal: on a secure cluster, the name of the key the sender's connection authenticated with (ZAP);
            ``None`` without security and for a local message.
        cluster_id: the cluster the envelope named, which the node checked is its own; ``None`` from a plain node or
            a client, which are no cluster members (see :meth:`Context.require_member`).
    """

    node_id: str | None
    principal: str | None = None
    cluster_id: str | None = None


SENDER: contextvars.ContextVar[Sender | None] = contextvars.ContextVar("zactor_sender", default=None)
"""The sender of the message the running handler serves (``None``: this node); set by the mailbox."""


class Context:
    """What a handler knows about where it runs.

    Attributes:
        node: the :class:`~zactor.node.Node` hosting the actor (:attr:`cluster` is the same node, typed as a
            :class:`~zactor.services.cluster.ClusterNode`).
        actor_name: the name the actor is registered under.
        log: a logger named ``zactor.actor.<name>``.
    """

    __slots__ = ("node", "actor_name", "log", "watching", "mailbox")

    def __init__(self, node: Node, actor_name: str) -> None:
        self.node = node
        self.actor_name = actor_name
        self.log = logging.getLogger(f"zactor.actor.{actor_name}")
        self.watching: dict[tuple[str, str | None], Callable[[], None]] = {}
        """The watches this actor holds, by the watched ref's (name, address): each one's unwatch."""
        self.mailbox: Mailbox | None = None
        """The actor's mailbox (set by the mailbox itself)."""

    def watch(self, ref: ActorRef) -> None:
        """Watch the actor of ``ref``: this actor gets one :class:`~zactor.deathwatch.Terminated` message when it
        terminates (see :meth:`zactor.node.Node.watch`). The notice bypasses the mailbox bound; the watch ends when
        this actor is removed. Watching the same ref twice is one watch.

        Raises:
            TypeError: this actor has no handler for ``Terminated``, or ``ref`` is remote and this node is no
                cluster member (a plain node watches only its own actors).
            RuntimeError: the context belongs to no mailbox (it was not made by a node).
        """
        mailbox = self.mailbox
        if mailbox is None:
            raise RuntimeError(f"actor {self.actor_name!r} has no mailbox: it cannot watch")
        if Terminated not in handlers_of(mailbox.actor):
            raise TypeError(f"actor {self.actor_name!r} watches {ref!r} but has no @handler for Terminated")
        key = (ref.name, ref.address)
        if key in self.watching:
            return

        def deliver(terminated: Terminated) -> None:
            self.watching.pop(key, None)
            mailbox.put_system(terminated)

        self.watching[key] = self.node.watch_with(ref, deliver)

    def unwatch(self, ref: ActorRef) -> None:
        """Cancel this actor's watch on ``ref`` (nothing happens when there is none)."""
        unwatch = self.watching.pop((ref.name, ref.address), None)
        if unwatch is not None:
            unwatch()

    def unwatch_all(self) -> None:
        """Cancel every watch this actor holds (when it is removed, or its ``on_start`` failed)."""
        watching, self.watching = self.watching, {}
        for unwatch in watching.values():
            unwatch()

    def stop(self) -> None:
        """Stop this actor once the running handler returns: it takes no further message; under
        ``Restart.ALWAYS`` it is restarted, else removed (its watchers get ``Terminated(reason="stopped")``)."""
        self.node.registry.stop_soon(self.actor_name)

    @property
    def node_id(self) -> str:
        """The hosting node's id."""
        return self.node.node_id

    @property
    def sender(self) -> Sender:
        """Who sent the message being handled: a node id from the envelope, checked against the connection's key
        on a secure cluster (see :class:`Sender`); this node's own id for a local message."""
        sender = SENDER.get()
        return sender if sender is not None else Sender(self.node.node_id, None, self.node.envelope_cluster_id)

    def require_member(self) -> None:
        """Refuse a message that no member of this node's cluster sent: cluster services take their peers'
        messages only (a client's envelope names no cluster; another cluster's was refused before any handler).

        Raises:
            ClusterMismatch: the sender named no cluster, or this node is in none (a plain node).
        """
        own = self.node.envelope_cluster_id
        if own is None or self.sender.cluster_id != own:
            raise ClusterMismatch(own or "", "")

    def ref(self, name: str, *, address: str | None = None) -> ActorRef:
        """A reference to another actor, as :meth:`Node.ref`."""
        return self.node.ref(name, address=address)

    @property
    def cluster(self) -> ClusterNode:
        """The hosting node as the cluster member it is, typed for a type checker: ``ctx.cluster.ref_any(name)``,
        ``ctx.cluster.ref(name, node_id=...)``, ``ctx.cluster.membership``.

        Raises:
            RuntimeError: the actor runs on a plain :class:`~zactor.node.Node`, which belongs to no cluster.
        """
        if self.node.envelope_cluster_id is None:  # what makes a node a cluster member
            raise RuntimeError(f"actor {self.actor_name!r} runs on a plain Node: ctx.cluster needs a ClusterNode")
        return typing.cast("ClusterNode", self.node)


def _message_type_of(cls: type, name: str, fn: Callable[..., Any]) -> type:
    params = list(inspect.signature(fn).parameters)
    if len(params) < 2:
        raise TypeError(f"handler {cls.__qualname__}.{name} must take (self, msg, ctx)")
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise TypeError(f"cannot resolve the annotations of {cls.__qualname__}.{name}: {exc}") from None
    msg_type = hints.get(params[1])
    if not isinstance(msg_type, type):
        raise TypeError(f"handler {cls.__qualname__}.{name}: annotate {params[1]!r} with a @message class")
    type_name_of(msg_type)  # raises TypeError for a class that is not a @message
    return msg_type


def handlers_of(actor: Actor) -> dict[type, Handler]:
    """The actor's bound handlers keyed by message class (subclass handlers override inherited ones).

    Raises:
        TypeError: a handler's message parameter is missing, unresolvable or not a ``@message`` class, or two
            handlers of the same class take the same type.
    """
    cls = type(actor)
    table: dict[type, str] | None = cls.__dict__.get("__zactor_handlers__")
    if table is None:
        table = {}
        for klass in reversed(cls.__mro__):
            own: dict[type, str] = {}
            for name, fn in vars(klass).items():
                if getattr(fn, "__zactor_handler__", False):
                    msg_type = _message_type_of(klass, name, fn)
                    if msg_type in own:
                        raise TypeError(f"{klass.__qualname__} has two handlers for {msg_type.__qualname__}")
                    own[msg_type] = name
            table.update(own)
        type.__setattr__(cls, "__zactor_handlers__", table)
    return {msg_type: _awaitable(getattr(actor, name)) for msg_type, name in table.items()}


def _awaitable(method: Callable[..., Any]) -> Handler:
    """A handler as the mailbox calls it: ``await handle(msg, ctx)``; a streaming one's coroutine returns its
    generator, which the mailbox runs under the stream's credit; a synchronous one is wrapped, and the wrapper's
    ``__zactor_sync__`` is the method itself (see :func:`sync_handlers`)."""
    if inspect.iscoroutinefunction(method):
        return method

    async def call(msg: Any, ctx: Context) -> Any:  # a stream's generator, or a synchronous handler's reply
        return method(msg, ctx)

    if not inspect.isasyncgenfunction(method):
        setattr(call, "__zactor_sync__", method)  # noqa: B010 (a function attribute mypy does not know)
    return call


def sync_handlers(handlers: dict[type, Handler]) -> dict[type, Callable[[Any, Context], Any]]:
    """The synchronous handlers among ``handlers`` (from :func:`handlers_of`), as the plain methods they wrap."""
    found = {t: getattr(h, "__zactor_sync__", None) for t, h in handlers.items()}
    return {t: method for t, method in found.items() if method is not None}


def check_reply(result: Any) -> None:
    """Refuse a handler result that cannot travel as a reply.

    Raises:
        TypeError: ``result`` is neither ``None`` nor a ``@message`` instance.
    """
    if result is not None and not is_message(result):
        if inspect.isasyncgen(result):
            raise TypeError("this handler streams its reply: call it with ref.stream(...), not ask or tell")
        raise TypeError(f"a handler returned {type(result).__name__}; return a @message instance or None")
