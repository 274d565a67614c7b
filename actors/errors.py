"""The errors zactor raises, one tree rooted at :class:`ActorError`.

Each error carries its facts as attributes (not only a formatted string) and also subclasses the builtin a caller
already catches: ``RequestTimeout`` is a ``TimeoutError``, ``NodeUnavailable`` a ``ConnectionError``, the
not-found errors ``LookupError``s.
"""

from __future__ import annotations

from zactor.transport.errors import (
    ActorError,
    DecodeError,
    HandshakeFailed,
    InsecureBind,
    KeyringError,
    MessageTooLarge,
    SendTimeout,
    TransportClosed,
)

__all__ = [
    "ActorError",
    "ActorExists",
    "ActorNotFound",
    "ActorTerminated",
    "ClockOffsetError",
    "ClusterMismatch",
    "DecodeError",
    "DuplicateNodeId",
    "ForgedSender",
    "HandlerNotFound",
    "HandshakeFailed",
    "InsecureBind",
    "KeyringError",
    "MailboxFull",
    "MessageTooLarge",
    "NodeUnavailable",
    "RemoteError",
    "RequestTimeout",
    "SendTimeout",
    "SpawnRefused",
    "StaleTerm",
    "TransportClosed",
]


class ActorNotFound(ActorError, LookupError):
    """No actor of that name is hosted on the node (or it was removed while the request waited).

    Attributes:
        actor: the actor name asked for.
        node: the id of the node that answered.
    """

    def __init__(self, actor: str, node: str = "") -> None:
        super().__init__(f"no actor {actor!r} on node {node!r}")
        self.actor = actor
        self.node = node


class ActorExists(ActorError, ValueError):
    """An actor is already registered under that name on this node.

    Attributes:
        actor: the name in use.
    """

    def __init__(self, actor: str) -> None:
        super().__init__(f"an actor named {actor!r} is already registered; remove it first")
        self.actor = actor


class HandlerNotFound(ActorError, LookupError):
    """The actor has no handler for the message type it was sent.

    Attributes:
        actor: the actor name.
        message_type: the registered type name of the message.
        node: the id of the node that answered.
    """

    def __init__(self, actor: str, message_type: str, node: str = "") -> None:
        super().__init__(f"actor {actor!r} on node {node!r} has no handler for {message_type!r}")
        self.actor = actor
        self.message_type = message_type
        self.node = node


class RemoteError(ActorError):
    """A handler raised; the exception's type name, message and traceback came back from the node that ran it.

    An error a handler met in its own asks (an ``ActorNotFound`` for another actor, a ``RemoteError`` from further
    away) arrives as a ``RemoteError`` of this handler, its message keeping the chain: which node and actor raised
    what, innermost first.

    Attributes:
        type_name: the remote exception's class name (e.g. ``"ZeroDivisionError"``).
        message: ``str()`` of the remote exception.
        node: the id of the node whose handler raised.
        actor: the actor name.
        remote_traceback: the handler's traceback as text (empty when the node sent none); the node also logs it
            at WARNING.
    """

    def __init__(self, type_name: str, message: str, node: str, actor: str, remote_traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message} (actor {actor!r} on node {node!r})")
        self.type_name = type_name
        self.message = message
        self.node = node
        self.actor = actor
        self.remote_traceback = remote_traceback


class RequestTimeout(ActorError, TimeoutError):
    """No reply arrived before the deadline.

    Attributes:
        actor: the actor asked.
        timeout_s: the deadline that passed, in seconds.
    """

    def __init__(self, actor: str, timeout_s: float) -> None:
        super().__init__(f"no reply from actor {actor!r} within {timeout_s:.3f} s")
        self.actor = actor
        self.timeout_s = timeout_s


class NodeUnavailable(ActorError, ConnectionError):
    """The node that should answer is dead, stopping, or unreachable.

    Attributes:
        node: the node id or endpoint.
        reason: why, for the log.
    """

    def __init__(self, node: str, reason: str) -> None:
        super().__init__(f"node {node!r} is unavailable: {reason}")
        self.node = node
        self.reason = reason


class MailboxFull(ActorError):
    """The actor's mailbox holds ``capacity`` messages already; the message was refused, not queued.

    Attributes:
        actor: the actor name.
        capacity: the mailbox's bound, in messages.
    """

    def __init__(self, actor: str, capacity: int) -> None:
        super().__init__(f"mailbox of actor {actor!r} is full ({capacity} messages)")
        self.actor = actor
        self.capacity = capacity


class ClusterMismatch(ActorError):
    """A peer belongs to another cluster; nothing it sent was merged. The refusing node never names its own cluster
    id to the peer, so the caller's error carries neither id.

    Attributes:
        expected: this node's cluster id (empty on a caller whose request a peer refused).
        received: the peer's cluster id (empty on such a caller too).
        peer: the peer's endpoint, when known.
    """

    def __init__(self, expected: str, received: str, *, peer: str = "") -> None:
        who = peer or "the peer"
        if received:
            text = f"{who} is in cluster {received!r}, this node is in {expected!r}"
        elif expected:
            text = f"{who} refused this node's cluster id {expected!r}: it belongs to another cluster"
        else:
            text = f"{who} refused: it belongs to another cluster (it does not say which)"
        super().__init__(text)
        self.peer = peer
        self.expected = expected
        self.received = received


class ForgedSender(ActorError):
    """On a secure cluster, an envelope claimed a sender other than the key its connection authenticated with;
    nothing in it was delivered.

    Attributes:
        claimed: the node id the envelope claimed (empty on the caller, who is told only that it was refused).
        principal: the name of the connection's key (empty on the caller too).
    """

    def __init__(self, claimed: str = "", principal: str = "") -> None:
        if claimed:
            text = f"an envelope claimed to come from {claimed!r} over a connection authenticated as {principal!r}"
        else:
            text = "the node refused this envelope: its sender is not the key its connection authenticated with"
        super().__init__(text)
        self.claimed = claimed
        self.principal = principal


class DuplicateNodeId(ActorError):
    """Another running process already uses this node id in the cluster; this node refuses to join.

    Attributes:
        node_id: the id in use.
        address: the endpoint of the process that holds it.
    """

    def __init__(self, node_id: str, address: str) -> None:
        super().__init__(f"node id {node_id!r} is already in use by the node at {address}; choose another id")
        self.node_id = node_id
        self.address = address


class ClockOffsetError(ActorError):
    """A peer's clock is too far ahead: its timestamp was refused and the local clock did not move.

    Raised on the refusing node when merging, and on a caller whose request was refused (then ``node`` is the
    node that refused).

    Attributes:
        node: the id of the node whose timestamp was refused (on a caller: the node that refused it).
        ahead_ms: how far ahead of local physical time the timestamp was, in milliseconds.
        max_offset_ms: the largest offset accepted, in milliseconds.
    """

    def __init__(self, node: str, ahead_ms: int, max_offset_ms: int) -> None:
        super().__init__(f"clock of node {node!r} is {ahead_ms} ms ahead (at most {max_offset_ms} ms accepted)")
        self.node = node
        self.ahead_ms = ahead_ms
        self.max_offset_ms = max_offset_ms


class ActorTerminated(ActorNotFound):
    """The actor an ask waited on terminated: removed, stopped, or failed for good. Asks queued for it fail at once
    with this error; its ``reason`` says why.

    A subclass of :class:`ActorNotFound`: the actor is not there to answer.

    Attributes:
        actor: the actor's name.
        node: the id of the node it ran on.
        reason: a :class:`zactor.deathwatch.TerminationReason` value (``"removed"``, ``"stopped"``, ``"failed"``,
            ``"gave_up"``).
    """

    def __init__(self, actor: str, node: str, reason: str) -> None:
        super().__init__(actor, node)
        self.args = (f"actor {actor!r} on node {node!r} terminated: {reason}",)
        self.reason = reason


class SpawnRefused(ActorError, PermissionError):
    """A node did not add or remove the actor a spawn or stop asked for.

    Attributes:
        actor: the actor's name.
        node: the id of the node asked (``""`` when none could be asked).
        reason: why: outside the node's ``--admin-allow`` prefixes, a system actor's name, a spec that does not load
            or build, a name in use, no admin actor on the node, or no live node that hosts one.
    """

    def __init__(self, actor: str, node: str, reason: str) -> None:
        super().__init__(f"actor {actor!r}" + (f" on node {node!r}" if node else "") + f" refused: {reason}")
        self.actor = actor
        self.node = node
        self.reason = reason


class StaleTerm(ActorError):
    """A write or claim carried a fencing term below the newest the resource has seen: it came from a former leader
    or owner (one paused or cut off past its lease).

    Attributes:
        term: the term refused.
        current: the newest term the resource has seen.
    """

    def __init__(self, term: int, current: int) -> None:
        super().__init__(f"term {term} is stale: term {current} writes here now")
        self.term = term
        self.current = current
