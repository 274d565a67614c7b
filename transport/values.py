"""Standard-library values in message fields: their wire form, and how a decoded field gets its declared type back.

Wire form, as msgpack extension types (code: payload):

- ``3`` ``datetime.datetime``: ISO 8601 text in UTF-8, as ``isoformat()`` writes it (a naive value stays naive, an
  offset is kept);
- ``4`` ``datetime.date``: ISO 8601 text;
- ``5`` ``datetime.timedelta``: whole microseconds, a signed 64-bit big-endian integer;
- ``6`` ``uuid.UUID``: its 16 bytes;
- ``7`` ``decimal.Decimal``: its text, as ``str()`` writes it.

An ``enum.Enum`` member travels as its value, and an ``attrs`` class that is not a ``@message`` as a map of its
fields; the receiver rebuilds both from the field's annotation (also inside ``list[...]``, ``dict[..., ...]`` and
``X | None``), so the annotation must name the type. Tuples, sets and frozensets arrive as lists; a large
``bytes`` field arrives as a ``memoryview`` over the received frame.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import msgpack

from zactor.transport.errors import DecodeError

__all__ = ["EXT_CODES", "NOT_A_VALUE", "encode_value", "decode_ext", "field_converter"]

_DATETIME, _DATE, _TIMEDELTA, _UUID, _DECIMAL = 3, 4, 5, 6, 7
EXT_CODES = frozenset((_DATETIME, _DATE, _TIMEDELTA, _UUID, _DECIMAL))

Converter = Callable[[Any], Any]
NOT_A_VALUE: Any = object()
"""What :func:`encode_value` returns for an object it has no wire form for."""


def encode_value(obj: Any) -> Any:
    """The wire form of a standard-library value, an enum member or a plain attrs instance; :data:`NOT_A_VALUE`
    when ``obj`` is none of them (the caller then refuses it)."""
    if isinstance(obj, datetime.datetime):
        return msgpack.ExtType(_DATETIME, obj.isoformat().encode())
    if isinstance(obj, datetime.date):
        return msgpack.ExtType(_DATE, obj.isoformat().encode())
    if isinstance(obj, datetime.timedelta):
        micros = (obj.days * 86_400 + obj.seconds) * 1_000_000 + obj.microseconds
        return msgpack.ExtType(_TIMEDELTA, micros.to_bytes(8, "big", signed=True))
    if isinstance(obj, uuid.UUID):
        return msgpack.ExtType(_UUID, obj.bytes)
    if isinstance(obj, decimal.Decimal):
        return msgpack.ExtType(_DECIMAL, str(obj).encode())
    if isinstance(obj, enum.Enum):
        return obj.value
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


_converters: dict[type, Converter | None] = {}


def field_converter(cls: type) -> Converter | None:
    """A function that turns the decoded field map of ``cls`` into one with each enum and plain attrs field rebuilt
    from its annotation, or ``None`` when no field needs it (built once per class).

    The function raises ``DecodeError`` naming the class and field when a value does not fit its annotation.
    """
    if cls in _converters:
        return _converters[cls]
    _converters[cls] = None  # a class that refers to itself is converted one level at a time
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: leave the fields as decoded
        hints = {}
    per_field = {a.name: c for a in attrs.fields(cls) if (c := _converter(hints.get(a.name))) is not None}
    if not per_field:
        return None

    def convert(fields: Any) -> Any:
        if type(fields) is not dict:
            return fields
        for name, to_type in per_field.items():
            if name in fields:
                try:
                    fields[name] = to_type(fields[name])
                except (ValueError, TypeError, DecodeError) as exc:
                    raise DecodeError(f"{cls.__qualname__}.{name}: {exc}") from None
        return fields

    _converters[cls] = convert
    return convert


def _converter(annotation: Any) -> Converter | None:
    """How to rebuild a value of ``annotation`` from its wire form, or ``None`` when it arrives as it is."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        kind: type[enum.Enum] = annotation
        return lambda value: value if isinstance(value, kind) else kind(value)
    if isinstance(annotation, type) and attrs.has(annotation) and "__zactor_spec__" not in annotation.__dict__:
        return _attrs_converter(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args:
        item = _converter(args[0])
        return None if item is None else lambda value: [item(v) for v in value] if type(value) is list else value
    if origin is dict and len(args) == 2:
        key, val = _converter(args[0]), _converter(args[1])
        if key is None and val is None:
            return None
        keyf, valf = key or _same, val or _same
        return lambda value: {keyf(k): valf(v) for k, v in value.items()} if type(value) is dict else value
    if origin in (typing.Union, types.UnionType):
        inner = [c for a in args if a is not type(None) and (c := _converter(a)) is not None]
        if len(inner) == 1:
            only = inner[0]
            return lambda value: None if value is None else only(value)
    return None


def _attrs_converter(cls: type) -> Converter:
    def build(value: Any) -> Any:
        if type(value) is not dict:
            return value
        convert = field_converter(cls)
        return cls(**(convert(value) if convert is not None else value))

    return build


def _same(value: Any) -> Any:
    return value
