"""zactor's transport layer: envelopes, the message codec, and ROUTER/DEALER transports (ZeroMQ and in-memory).

It moves envelopes and frames and knows nothing about actors. The wire format is documented in
:mod:`zactor.transport.envelope`.
"""

from zactor.transport.base import DEFAULT_MAX_MESSAGE_BYTES, Transport
from zactor.transport.codec import (
    DEFAULT_COPY_THRESHOLD_BYTES,
    Returns,
    decode_body,
    encode_body,
    is_message,
    message,
    message_class,
    reply_type_of,
    type_name_of,
)
from zactor.transport.envelope import MAGIC_VERSION, Header, Kind, open_body, pack, pack_header, unpack, unpack_header
from zactor.transport.errors import ActorError, DecodeError, MessageTooLarge, SendTimeout, TransportClosed
from zactor.transport.memory import InMemoryNetwork, InMemoryTransport
from zactor.transport.sockets import ZmqTransport

__all__ = [
    "DEFAULT_COPY_THRESHOLD_BYTES",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAGIC_VERSION",
    "ActorError",
    "DecodeError",
    "Header",
    "open_body",
    "pack",
    "unpack",
    "Returns",
    "InMemoryNetwork",
    "InMemoryTransport",
    "Kind",
    "MessageTooLarge",
    "SendTimeout",
    "Transport",
    "TransportClosed",
    "ZmqTransport",
    "decode_body",
    "encode_body",
    "is_message",
    "message",
    "message_class",
    "pack_header",
    "reply_type_of",
    "type_name_of",
    "unpack_header",
]
