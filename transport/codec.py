"""Message classes and their msgpack codec, with large binary fields as zero-copy frames.

A message class is a frozen, slotted, keyword-only ``attrs`` class registered under a stable type name with
:func:`message`. :func:`encode_body` turns an instance into ``(body, buffers)``: the body is a msgpack map of the
fields by name; every top-level ``bytes``/``bytearray``/``memoryview`` field of at least ``copy_threshold_bytes``
is left out of the body (an extension-type placeholder holds its index) and returned in ``buffers`` untouched, to be
sent as its own frame with ``copy=False``. :func:`decode_body` reverses it, placing each received buffer (a
``memoryview`` over the received frame) back into its field without copying it.

A message that is asked for a reply declares the reply's type by subclassing :class:`Returns`:
``class Add(Returns[Sum])``; a type checker then knows that ``await ref.ask(Add(...))`` is a ``Sum``, and the caller
refuses a reply of another type with ``DecodeError``.

Fields may also hold ``datetime``, ``date``, ``timedelta``, ``UUID``, ``Decimal``, enum members and plain ``attrs``
instances (wire forms in :mod:`zactor.transport.values`). Only registered types are ever constructed from the
wire; no pickle is involved.
"""

from __future__ import annotations

import sys
import threading
import typing
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, dataclass_transform

import attrs
import msgpack

from zactor.transport.errors import DecodeError
from zactor.transport.schema import SPEC_ATTR, decoder_of
from zactor.transport.values import EXT_CODES, NOT_A_VALUE, decode_ext, encode_value

__all__ = [
    "DEFAULT_COPY_THRESHOLD_BYTES",
    "MAX_NESTING",
    "message",
    "Returns",
    "reply_type_of",
    "is_message",
    "Streams",
    "type_name_of",
    "describe_type",
    "message_class",
    "encode_body",
    "decode_body",
]

DEFAULT_COPY_THRESHOLD_BYTES = 64 * 1024
MAX_NESTING = 32
"""How deep messages may nest inside messages (through the message extension type); deeper is a DecodeError."""
_EXT_BUFFER = 1
_EXT_MESSAGE = 2
_BINARY_TYPES = (bytes, bytearray, memoryview)
_NIL_BODY = msgpack.packb(None)


_types_by_name: dict[str, type] = {}


R_co = TypeVar("R_co", covariant=True)


class Returns(Generic[R_co]):
    """Base class of a message asked for a reply of type ``R_co``: ``class Add(Returns[Sum])``.

    ``Returns[None]`` declares a handler that answers nothing; ``Returns["Sum"]`` names a reply class defined later
    in the same module.
    """

    __slots__ = ()


class Streams(Generic[R_co]):
    """Base class of a message whose handler streams items of type ``R_co``: ``class Count(Streams[Number])``, for
    which ``ref.stream(Count(...))`` is typed ``AsyncIterator[Number]`` (see :mod:`zactor.streams`)."""

    __slots__ = ()


_UNRESOLVED: Any = object()
_NOT_GIVEN: Any = object()


@attrs.define(slots=True)
class _Spec:
    name: str
    fields: tuple[str, ...]
    declared_reply: Any = None  # as written in Returns[...]: a type, a forward reference, or None for none
    reply_type: Any = _UNRESOLVED  # what reply_type_of returns, resolved on first use


def _spec(cls: type) -> _Spec | None:
    return cls.__dict__.get(SPEC_ATTR)


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def message(arg: Any = None, /, *, reply: Any = _NOT_GIVEN) -> Any:
    """Make a class a zactor message: frozen, slotted, keyword-only ``attrs``, registered with the codec.

    Use as ``@message`` (type name ``module.QualName``) or ``@message("calc.Add")`` for a name that stays stable
    when the class moves or lives in a script run as ``__main__``. Both ends must register the same name.

    ``@message(reply=Sum)`` declares the reply type of an ask (checked at run time, ``DecodeError`` otherwise;
    ``reply=None`` for none), as subclassing ``Returns[Sum]`` does; only ``Returns[Sum]`` also types
    ``ref.ask(...)`` as ``Sum`` for mypy.

    Raises:
        ValueError: another class is already registered under the same name.
        TypeError: ``reply=`` and ``Returns[...]`` declare different replies.
    """
    if isinstance(arg, type):
        return _register(arg, None, _NOT_GIVEN)
    return lambda cls: _register(cls, arg, reply)


def _register(cls: type, name: str | None, reply_kw: Any) -> type:
    type_name = name or f"{cls.__module__}.{cls.__qualname__}"
    existing = _types_by_name.get(type_name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"message type name {type_name!r} is already registered for {existing!r}")
    reply = _declared_reply(cls)
    if reply_kw is not _NOT_GIVEN:
        reply_kw = type(None) if reply_kw is None else reply_kw
        if reply is not None and reply is not reply_kw:
            raise TypeError(f"{cls.__qualname__} declares two replies: Returns[{reply!r}] and reply={reply_kw!r}")
        reply = reply_kw
    new_cls = attrs.frozen(cls, kw_only=True, slots=True) if not attrs.has(cls) else cls
    spec = _Spec(type_name, tuple(f.name for f in attrs.fields(new_cls)), reply)
    type.__setattr__(new_cls, SPEC_ATTR, spec)
    _types_by_name[type_name] = new_cls
    return new_cls


def _declared_reply(cls: type) -> Any:
    for base in getattr(cls, "__orig_bases__", ()):
        if typing.get_origin(base) is Returns:
            (reply,) = typing.get_args(base)
            return reply
    return None


def reply_type_of(cls: type) -> type | None:
    """The reply type a message class declares with :class:`Returns` (``type(None)`` for ``Returns[None]``), or
    ``None`` when it declares none (or ``Returns[Any]``).

    Raises:
        TypeError: ``cls`` is not a registered message class, or its declared reply is not a class.
    """
    spec = _spec(cls)
    if spec is None:
        raise TypeError(f"{cls!r} is not a @message class")
    if spec.reply_type is _UNRESOLVED:  # once per class: every ask checks its reply against it
        spec.reply_type = _resolve_reply(cls, spec.declared_reply)
    reply_type: type | None = spec.reply_type
    return reply_type


def _resolve_reply(cls: type, reply: Any) -> type | None:
    if isinstance(reply, str | typing.ForwardRef):
        name = reply if isinstance(reply, str) else reply.__forward_arg__
        module = sys.modules.get(cls.__module__)
        reply = getattr(module, name, None) if module is not None else None
        if not isinstance(reply, type):
            raise TypeError(f"{cls.__qualname__} returns {name!r}, which is not a class of {cls.__module__}")
    if reply is None or reply is Any:
        return None
    if not isinstance(reply, type):
        raise TypeError(f"{cls.__qualname__} declares a reply of {reply!r}; use a @message class or None")
    return reply


def is_message(obj: Any) -> bool:
    """True when ``obj`` is an instance of a registered message class."""
    return SPEC_ATTR in type(obj).__dict__


def type_name_of(cls: type) -> str:
    """The registered type name of a message class.

    Raises:
        TypeError: ``cls`` is not a registered message class.
    """
    spec = _spec(cls)
    if spec is None:
        raise TypeError(f"{cls!r} is not a @message class")
    return spec.name


def describe_type(obj: object) -> str:
    """For messages about ``obj``: its class's registered type name, ``"None"``, or the class's name."""
    if obj is None:
        return "None"
    spec = _spec(type(obj))
    return spec.name if spec is not None else type(obj).__qualname__


def message_class(type_name: str) -> type:
    """The message class registered under ``type_name``.

    Raises:
        DecodeError: no class is registered under that name.
    """
    cls = _types_by_name.get(type_name)
    if cls is None:
        raise DecodeError(f"unknown message type {type_name!r}")
    return cls


def _default(obj: Any) -> Any:
    spec = _spec(type(obj))
    if spec is not None:
        fields = {n: getattr(obj, n) for n in spec.fields}
        return msgpack.ExtType(_EXT_MESSAGE, msgpack.packb([spec.name, fields], default=_default))
    if isinstance(obj, (tuple, frozenset, set)):
        return list(obj)
    encoded = encode_value(obj)
    if encoded is not NOT_A_VALUE:
        return encoded
    if isinstance(obj, int):
        raise TypeError(f"cannot encode the integer {obj}: outside msgpack's 64-bit range")
    raise TypeError(f"cannot encode a value of type {type(obj).__name__}")


class _Packer(threading.local):
    """A body packer per thread: a msgpack ``Packer`` keeps its buffer between calls, and ``_default`` runs Python
    code in the middle of a pack, where another thread could start packing into the same buffer."""

    def __init__(self) -> None:
        self.pack = msgpack.Packer(default=_default, autoreset=True).pack


_packer = _Packer()


def encode_body(msg: Any, copy_threshold_bytes: int = DEFAULT_COPY_THRESHOLD_BYTES) -> tuple[str, bytes, list[Any]]:
    """Encode a message (or ``None``) for the wire.

    Args:
        msg: a registered message instance, or ``None`` for "no message".
        copy_threshold_bytes: bytes-like fields at or above this size travel as separate frames.

    Returns:
        ``(type_name, body, buffers)``: the type name ("" for ``None``), the body frame, and the out-of-band
        buffers in index order (the original objects, not copies).

    Raises:
        TypeError: ``msg`` is not a registered message, or holds a value msgpack cannot encode.
    """
    if msg is None:
        return "", _NIL_BODY, []
    spec = _spec(type(msg))
    if spec is None:
        raise TypeError(f"{type(msg).__name__} is not a @message class")
    buffers: list[Any] = []
    fields: dict[str, Any] = {}
    for name in spec.fields:
        value = getattr(msg, name)
        if type(value) in _BINARY_TYPES and len(value) >= copy_threshold_bytes:
            fields[name] = msgpack.ExtType(_EXT_BUFFER, len(buffers).to_bytes(4, "big"))
            buffers.append(value)
        else:
            fields[name] = value
    try:
        body = _packer.pack(fields)
    except TypeError:
        raise _field_error(spec.name, fields) from None
    return spec.name, body, buffers


def _field_error(type_name: str, fields: dict[str, Any]) -> TypeError:
    """The encoding error of the first field that cannot be encoded, naming the message type and the field."""
    for name, value in fields.items():
        try:
            msgpack.packb(value, default=_default)
        except TypeError as exc:
            return TypeError(f"{type_name}.{name}: {exc}")
    return TypeError(f"{type_name}: cannot encode its fields")


def _nested_hook(depth: int) -> Callable[[int, bytes], Any]:
    """The extension hook for a msgpack document at nesting ``depth`` (0: the body itself)."""

    def hook(code: int, data: bytes) -> Any:
        if code in EXT_CODES:
            return decode_ext(code, data)
        if code != _EXT_MESSAGE:
            raise DecodeError(f"unexpected extension type {code}")
        if depth >= MAX_NESTING:
            raise DecodeError(f"messages nested deeper than {MAX_NESTING} levels")
        unpacked = _unpack(data, _nested_hook(depth + 1))
        if type(unpacked) is not list or len(unpacked) != 2 or type(unpacked[0]) is not str:
            raise DecodeError("malformed nested message")
        return _construct(message_class(unpacked[0]), unpacked[1])

    return hook


_ext_hook = _nested_hook(0)


def _construct(cls: type, fields: Any) -> Any:
    if type(fields) is not dict:
        raise DecodeError(f"body of {type_name_of(cls)} is not a map")
    return decoder_of(cls)(fields)


def decode_body(type_name: str, body: bytes | memoryview, buffers: Sequence[Any] = ()) -> Any:
    """Decode a body frame (and its out-of-band buffers) into a message instance.

    Args:
        type_name: the header's message type; "" means the body must be nil and ``None`` is returned.
        body: the body frame.
        buffers: the buffer frames after the body, as bytes-like objects (kept as they are, not copied).

    Returns:
        The message instance, or ``None`` for an empty type name.

    Raises:
        DecodeError: unknown type, malformed msgpack, fields that do not fit the class, or bad buffer references.
    """
    if not type_name:
        if body != _NIL_BODY:
            raise DecodeError("a body without a message type must be nil")
        return None
    cls = message_class(type_name)
    if buffers:
        used: set[int] = set()

        def hook(code: int, data: bytes) -> Any:
            if code != _EXT_BUFFER:
                return _ext_hook(code, data)
            index = int.from_bytes(data, "big")
            if index >= len(buffers) or index in used:
                raise DecodeError(f"bad buffer reference {index}")
            used.add(index)
            return buffers[index]

        fields = _unpack(body, hook)
        if len(used) != len(buffers):
            raise DecodeError("buffer frames not referenced by the body")
    else:
        fields = _unpack(body, _ext_hook)
    return _construct(cls, fields)


def _unpack(body: bytes | memoryview, hook: Callable[[int, bytes], Any]) -> Any:
    try:
        return msgpack.unpackb(body, raw=False, ext_hook=hook, strict_map_key=True)
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises ValueError, ExtraData, StackError, FormatError, TypeError, ...
        raise DecodeError(f"body is not valid msgpack: {type(exc).__name__}: {exc}") from None
