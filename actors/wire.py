"""How actor-level failures travel in ERROR envelopes, and back into exceptions on the caller's side."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from zactor.errors import (
    ActorError,
    ActorNotFound,
    ActorTerminated,
    ClockOffsetError,
    ClusterMismatch,
    DecodeError,
    ForgedSender,
    HandlerNotFound,
    MailboxFull,
    NodeUnavailable,
    RemoteError,
)
from zactor.transport.codec import message
from zactor.transport.envelope import Header, Kind, open_body

__all__ = ["ErrorCode", "ErrorInfo", "error_info", "error_from_info", "open_reply"]


class ErrorCode(enum.IntEnum):
    """Why a request failed: the ``code`` field of an ERROR envelope's body."""

    HANDLER_FAILED = 1
    ACTOR_NOT_FOUND = 2
    HANDLER_NOT_FOUND = 3
    DECODE_ERROR = 4
    MAILBOX_FULL = 5
    NODE_STOPPING = 6
    CLOCK_OFFSET = 7
    CLUSTER_MISMATCH = 8
    FORGED_SENDER = 9
    ACTOR_TERMINATED = 10


@message("zactor.Error")
class ErrorInfo:
    """The body of an ERROR envelope."""

    code: int
    type: str
    message: str
    node: str
    actor: str
    detail: int = 0
    traceback: str = ""


_MAX_TRACEBACK_CHARS = 16_000  # the innermost frames are at the end


def error_info(exc: BaseException, node: str, actor: str) -> ErrorInfo:
    """Describe ``exc`` (raised while serving ``actor`` on ``node``) for an ERROR envelope."""
    detail = 0
    if isinstance(exc, ActorTerminated):
        return ErrorInfo(
            code=ErrorCode.ACTOR_TERMINATED, type="ActorTerminated", message=exc.reason, node=exc.node, actor=exc.actor
        )
    if isinstance(exc, ActorNotFound):  # the actor that was not found, which need not be the one serving
        return ErrorInfo(
            code=ErrorCode.ACTOR_NOT_FOUND,
            type="ActorNotFound",
            message=str(exc),
            node=exc.node or node,
            actor=exc.actor,
        )
    if isinstance(exc, HandlerNotFound):
        code = ErrorCode.HANDLER_NOT_FOUND
    elif isinstance(exc, DecodeError):
        code = ErrorCode.DECODE_ERROR
    elif isinstance(exc, MailboxFull):
        code, detail = ErrorCode.MAILBOX_FULL, exc.capacity
    elif isinstance(exc, NodeUnavailable):
        code = ErrorCode.NODE_STOPPING
    elif isinstance(exc, ClockOffsetError):
        code, detail = ErrorCode.CLOCK_OFFSET, exc.ahead_ms
    elif isinstance(exc, ClusterMismatch):
        code = ErrorCode.CLUSTER_MISMATCH
    elif isinstance(exc, ForgedSender):
        code = ErrorCode.FORGED_SENDER
    elif isinstance(exc, RemoteError):  # a handler failed: its node, actor, type and traceback go as they are
        return ErrorInfo(
            code=ErrorCode.HANDLER_FAILED,
            type=exc.type_name,
            message=exc.message,
            node=exc.node,
            actor=exc.actor,
            traceback=exc.remote_traceback[-_MAX_TRACEBACK_CHARS:],
        )
    else:
        code = ErrorCode.HANDLER_FAILED
    text = exc.message_type if isinstance(exc, HandlerNotFound) else str(exc)
    if isinstance(exc, NodeUnavailable):
        text = exc.reason
    elif isinstance(exc, ClockOffsetError):
        text = str(exc.max_offset_ms)
    elif isinstance(exc, ClusterMismatch | ForgedSender):
        text = ""  # never tell a stranger this cluster's id, or which keys it knows
    return ErrorInfo(code=code, type=type(exc).__name__, message=text, node=node, actor=actor, detail=detail)


def error_from_info(info: ErrorInfo) -> ActorError:
    """The exception a caller sees for an ERROR envelope's body."""
    code = info.code
    if code == ErrorCode.ACTOR_TERMINATED:
        return ActorTerminated(info.actor, info.node, info.message)
    if code == ErrorCode.ACTOR_NOT_FOUND:
        return ActorNotFound(info.actor, info.node)
    if code == ErrorCode.HANDLER_NOT_FOUND:
        return HandlerNotFound(info.actor, info.message, info.node)
    if code == ErrorCode.DECODE_ERROR:
        return DecodeError(f"node {info.node!r} could not decode the request: {info.message}")
    if code == ErrorCode.MAILBOX_FULL:
        return MailboxFull(info.actor, info.detail)
    if code == ErrorCode.NODE_STOPPING:
        return NodeUnavailable(info.node, info.message)
    if code == ErrorCode.CLOCK_OFFSET:
        return ClockOffsetError(info.node, info.detail, int(info.message) if info.message.isdigit() else 0)
    if code == ErrorCode.CLUSTER_MISMATCH:
        return ClusterMismatch("", "")
    if code == ErrorCode.FORGED_SENDER:
        return ForgedSender()
    return RemoteError(info.type, info.message, info.node, info.actor, info.traceback)


def open_reply(header: Header, frames: Sequence[Any]) -> tuple[bool, Any]:
    """What an envelope answering an ask carries: ``(True, reply)`` for a REPLY, ``(False, error)`` for an ERROR
    (the :class:`ActorError` the caller raises, from :func:`error_from_info`).

    Raises:
        DecodeError: the body is malformed, an ERROR does not carry an ``ErrorInfo``, or the envelope is of
            another kind.
    """
    if header.kind is Kind.REPLY:
        return True, open_body(header, frames)
    if header.kind is Kind.ERROR:
        info = open_body(header, frames)
        if not isinstance(info, ErrorInfo):
            raise DecodeError(f"ERROR envelope carries {header.message_type!r}")
        return False, error_from_info(info)
    raise DecodeError(f"a {header.kind.name} envelope arrived as a reply")
