"""Standard-library values in message fields: their wire form, and how a decoded field gets its declared type back.

Wire form, as msgpack extension types (code: payload):

- ``3`` ``datetime.datetime``: ISO 8601 text in UTF-8, as ``isoformat()`` writes it (a naive value stays naive, an
  offset is kept);
- ``4`` ``datetime.date``: ISO 8601 text;
- ``5`` ``datetime.timedelta``: whole microseconds, a signed 64-bit big-endian integer;
- ``6`` ``uuid.UUID``: its 16 bytes;
- ``7`` ``decimal.Decimal``: its text, as ``str()`` writes it.

An ``enum.Enum`` member travels as its value, an object whose class defines ``__zactor_wire__(self)`` as what that
returns (its class's ``__zactor_from_wire__(value)`` rebuilds it on decode, raising ``ValueError`` or ``TypeError``
for a malformed value; ``ActorRef`` is one), and an ``attrs`` class that is not a ``@message`` as a map of its
fields; tuples, sets and frozensets travel as lists. The receiver checks every field against its annotation and
rebuilds these from it (:mod:`zactor.transport.schema`), so the annotation must name the type; a large ``bytes``
field arrives as a ``memoryview`` over the received frame.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any

import attrs
import msgpack

from zactor.transport.errors import DecodeError

__all__ = ["EXT_CODES", "NOT_A_VALUE", "encode_value", "decode_ext"]

_DATETIME, _DATE, _TIMEDELTA, _UUID, _DECIMAL = 3, 4, 5, 6, 7
EXT_CODES = frozenset((_DATETIME, _DATE, _TIMEDELTA, _UUID, _DECIMAL))

NOT_A_VALUE: Any = object()
"""What :func:`encode_value` returns for an object it has no wire form for."""


def encode_value(obj: Any) -> Any:
    """The wire form of a standard-library value, an enum member, an object with ``__zactor_wire__`` or a plain attrs
    instance; :data:`NOT_A_VALUE`
    when ``obj`` is none of them (the caller then refuses it).

    Raises:
        TypeError: a ``timedelta`` beyond 2**63 microseconds either way.
    """
    if isinstance(obj, datetime.datetime):
        return msgpack.ExtType(_DATETIME, obj.isoformat().encode())
    if isinstance(obj, datetime.date):
        return msgpack.ExtType(_DATE, obj.isoformat().encode())
    if isinstance(obj, datetime.timedelta):
        micros = (obj.days * 86_400 + obj.seconds) * 1_000_000 + obj.microseconds
        if not -(2**63) <= micros < 2**63:
            raise TypeError(f"cannot encode the timedelta {obj}: outside 64-bit microseconds (about 292,000 years)")
        return msgpack.ExtType(_TIMEDELTA, micros.to_bytes(8, "big", signed=True))
    if isinstance(obj, uuid.UUID):
        return msgpack.ExtType(_UUID, obj.bytes)
    if isinstance(obj, decimal.Decimal):
        return msgpack.ExtType(_DECIMAL, str(obj).encode())
    if isinstance(obj, enum.Enum):
        return obj.value
    to_wire = getattr(type(obj), "__zactor_wire__", None)
    if to_wire is not None:
        return to_wire(obj)
    if attrs.has(type(obj)):
        return {a.name: getattr(obj, a.name) for a in attrs.fields(type(obj))}
    return NOT_A_VALUE


def decode_ext(code: int, data: bytes) -> Any:
    """The value of a standard-library extension type.

    Raises:
        DecodeError: the payload is malformed.
    """
    try:
        if code == _DATETIME:
            return datetime.datetime.fromisoformat(data.decode())
        if code == _DATE:
            return datetime.date.fromisoformat(data.decode())
        if code == _TIMEDELTA:
            if len(data) != 8:
                raise ValueError(f"{len(data)} bytes, not 8")
            return datetime.timedelta(microseconds=int.from_bytes(data, "big", signed=True))
        if code == _UUID:
            return uuid.UUID(bytes=bytes(data))
        if code == _DECIMAL:
            return decimal.Decimal(data.decode())
    except (ValueError, OverflowError, decimal.InvalidOperation) as exc:
        raise DecodeError(f"malformed value of extension type {code}: {exc}") from None
    raise DecodeError(f"unexpected extension type {code}")
