"""The zactor envelope: how one request or reply is laid out as a ZeroMQ multipart message.

Wire format, version 2
======================

One envelope is one multipart message::

    DEALER sends:     [head, *buffers]
    ROUTER receives:  [peer_identity, head, *buffers]

``head`` is a msgpack array of at least nine items (a later version may append more; a reader ignores them)::

    [magic_version, kind, request_id, target, message_type, hlc, flags, n_buffers, body]

==============  ==========  =============================================================================
item            msgpack     meaning
==============  ==========  =============================================================================
magic_version   uint        ``0x5A4102``: ``b"ZA"`` then the format version (2). Anything else: DecodeError.
kind            uint        :class:`Kind`: 1 REQUEST, 2 REPLY, 3 ERROR, 4 TELL, 5 CANCEL, 6 ITEM, 7 CREDIT.
request_id      uint        chosen by the requester, echoed in the REPLY or ERROR; 0 for a TELL.
target          str         the actor's name on the receiving node ("" in replies).
message_type    str         the registered type name of the body ("" when the body is nil).
hlc             any / nil   the sender's hybrid logical clock timestamp, nil when the sender has no clock.
flags           uint        a REQUEST's bit 0 asks for a streamed reply, and its bits 8 to 24 give the stream's
                            initial credit in items; a CREDIT's flags are the items it grants; 0 otherwise.
n_buffers       uint        how many out-of-band buffer frames follow the head.
body            bin         the message, itself a msgpack document (below).
sender          str / nil   optional (items 10 and 11 go together): the sending node's id; nil from a client
                            that is no node. On a secure cluster it must be the name of the key the connection
                            authenticated with (ZAP), or the envelope is refused.
cluster_id      str / nil   the sending node's cluster id; a node refuses an envelope of another cluster.
==============  ==========  =============================================================================

A node sends ``sender`` and ``cluster_id`` in requests, tells and cancels; replies carry neither (nine items), since
an asker knows whom it asked.

The body document is a msgpack map of the message's fields by name (so a reader that lacks an optional field added by
a newer writer still decodes it), or msgpack nil for "no message". A bytes-like field at or above the copy threshold
is replaced in the body by the msgpack extension type 1 whose data is the buffer's index (uint8..uint32 big-endian)
and travels as its own frame after the head, sent with ``copy=False`` and received as a ``memoryview`` over the
frame. A nested message is the extension type 2 holding ``msgpack([type_name, fields_map])``.

Version 1 sent the header and the body as two frames; version 2 carries the body inside the head, so an envelope
costs one frame less each way (one send and one receive fewer per hop). Nodes of different versions refuse each
other's envelopes (DecodeError: unknown magic/version).

A REQUEST is answered by exactly one REPLY or ERROR with the same request id; a TELL is never answered. A streamed
REQUEST is answered by ITEM envelopes (same request id, one item each, never more than the credit granted), then one
REPLY or ERROR; the caller sends CREDIT envelopes as it consumes, and CANCEL to stop the stream
(:mod:`zactor.streams`). An ERROR's
body is the message type ``zactor.Error`` (fields ``code``, ``type``, ``message``, ``node``, ``actor``).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

import msgpack

from zactor.transport.codec import DEFAULT_COPY_THRESHOLD_BYTES, decode_body, encode_body
from zactor.transport.errors import DecodeError

__all__ = [
    "MAGIC_VERSION",
    "HEADER_ITEMS",
    "NIL_BODY",
    "Kind",
    "Header",
    "pack_header",
    "unpack_header",
    "pack",
    "unpack",
    "open_body",
]

MAGIC_VERSION = 0x5A4102
HEADER_ITEMS = 9
_WITH_SENDER = HEADER_ITEMS + 2
NIL_BODY = b"\xc0"


class Kind(enum.IntEnum):
    """What an envelope is: the second item of the header."""

    REQUEST = 1
    REPLY = 2
    ERROR = 3
    TELL = 4
    CANCEL = 5
    ITEM = 6
    CREDIT = 7


_KINDS = {k.value: k for k in Kind}


class Header(NamedTuple):
    """A decoded header frame (see the module docstring for each field); a named tuple, the cheapest record to
    build once per envelope."""

    kind: Kind
    request_id: int
    target: str
    message_type: str
    hlc: Any = None
    flags: int = 0
    n_buffers: int = 0
    body: bytes = NIL_BODY
    sender: str | None = None
    cluster_id: str | None = None


class _Packer(threading.local):
    """A header packer per thread: a msgpack ``Packer`` keeps its buffer between calls, so threads (the blocking
    client's) must not share one."""

    def __init__(self) -> None:
        self.pack = msgpack.Packer(autoreset=True).pack


_packer = _Packer()


def pack_header(
    kind: Kind,
    request_id: int,
    target: str,
    message_type: str,
    hlc: Any = None,
    flags: int = 0,
    n_buffers: int = 0,
    body: bytes = NIL_BODY,
    sender: str | None = None,
    cluster_id: str | None = None,
) -> bytes:
    """Encode one head frame (the header items and the body document, see the module docstring); nine items
    without ``sender`` and ``cluster_id``, eleven with them.

    Returns:
        The head frame's bytes.
    """
    items = [MAGIC_VERSION, kind, request_id, target, message_type, hlc, flags, n_buffers, body]
    if sender is not None or cluster_id is not None:
        items += (sender, cluster_id)
    frame: bytes = _packer.pack(items)
    return frame


def unpack_header(frame: bytes | memoryview) -> Header:
    """Decode and validate one head frame (the body stays encoded, in :attr:`Header.body`).

    Args:
        frame: the head frame's bytes.

    Returns:
        The decoded :class:`Header`.

    Raises:
        DecodeError: the frame is not msgpack, too short, of an unknown magic or version, or has items of the wrong
            type or range.
    """
    try:
        items = msgpack.unpackb(frame, use_list=False, raw=False)
    except Exception as exc:  # msgpack raises many types (ValueError, ExtraData, StackError, FormatError, ...)
        raise DecodeError(f"header is not valid msgpack: {type(exc).__name__}") from None
    if type(items) is not tuple or len(items) < HEADER_ITEMS:
        raise DecodeError("header is not an array of at least 9 items")
    magic, kind, request_id, target, message_type, hlc, flags, n_buffers, body = items[:HEADER_ITEMS]
    if magic != MAGIC_VERSION or type(magic) is not int:
        raise DecodeError(f"unknown magic/version {magic!r}")
    kind_enum = _KINDS.get(kind) if type(kind) is int else None
    if kind_enum is None:
        raise DecodeError(f"unknown envelope kind {kind!r}")
    if type(request_id) is not int or request_id < 0:
        raise DecodeError("request id is not an unsigned integer")
    if type(target) is not str or type(message_type) is not str:
        raise DecodeError("target and message type must be strings")
    if type(flags) is not int or type(n_buffers) is not int or n_buffers < 0:
        raise DecodeError("flags and buffer count must be unsigned integers")
    if type(body) is not bytes:
        raise DecodeError("the body must be msgpack bin")
    if len(items) < _WITH_SENDER:
        return Header(kind_enum, request_id, target, message_type, hlc, flags, n_buffers, body)
    sender, cluster_id = items[HEADER_ITEMS:_WITH_SENDER]
    if (sender is not None and type(sender) is not str) or (cluster_id is not None and type(cluster_id) is not str):
        raise DecodeError("sender and cluster id must be strings or nil")
    return Header(kind_enum, request_id, target, message_type, hlc, flags, n_buffers, body, sender, cluster_id)


def pack(
    kind: Kind,
    request_id: int,
    target: str,
    msg: Any,
    hlc: Any = None,
    copy_threshold_bytes: int = DEFAULT_COPY_THRESHOLD_BYTES,
    sender: str | None = None,
    cluster_id: str | None = None,
    flags: int = 0,
) -> list[Any]:
    """Encode one envelope of any kind: ``[head, *buffers]``, ready for a transport.

    Args:
        kind: what the envelope is.
        request_id: the ask's id (0 for a TELL).
        target: the actor's name ("" in replies).
        msg: a ``@message`` instance, or ``None`` for an empty body.
        hlc: the sender's clock stamp in its wire form, or ``None``.
        copy_threshold_bytes: bytes-like fields at or above this size travel as their own frames.
        sender: the sending node's id, or ``None`` (a client, or a reply).
        cluster_id: the sending node's cluster id, or ``None``.
        flags: the header's flags (a streamed REQUEST's, a CREDIT's grant).

    Raises:
        TypeError: ``msg`` is not a ``@message`` instance, or holds a value msgpack cannot encode.
    """
    type_name, body, buffers = encode_body(msg, copy_threshold_bytes)
    head = pack_header(kind, request_id, target, type_name, hlc, flags, len(buffers), body, sender, cluster_id)
    return [head, *buffers]


def unpack(frames: Sequence[Any]) -> Header:
    """Decode the head of a received envelope ``[head, *buffers]``.

    Raises:
        DecodeError: no frame, or a bad head (see :func:`unpack_header`); nothing in it can be trusted, not even the
            request id.
    """
    if not frames:
        raise DecodeError("an envelope needs at least 1 frame, got none")
    return unpack_header(frames[0])


def open_body(header: Header, frames: Sequence[Any]) -> Any:
    """Decode the message of a received envelope whose header :func:`unpack` returned.

    Raises:
        DecodeError: the buffer count differs from the header's, a REQUEST or TELL names no message type, or the
            body does not decode into its registered type.
    """
    if header.n_buffers != len(frames) - 1:
        raise DecodeError(f"header announces {header.n_buffers} buffers, {len(frames) - 1} arrived")
    if not header.message_type and (header.kind is Kind.REQUEST or header.kind is Kind.TELL):
        raise DecodeError("a request or tell needs a message type")
    return decode_body(header.message_type, header.body, frames[1:])
