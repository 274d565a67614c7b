"""Checked decode: a message's fields are checked against its annotations before the message is built.

A decoder is built once per class, on its first decode, from ``typing.get_type_hints``. It checks every field the
wire brought and converts what the wire form cannot carry as it is:

===============================================  ===============================================================
annotation                                       accepted from the wire
===============================================  ===============================================================
``int``, ``str``, ``bool``, ``None``             exactly that type (``True`` is not an ``int`` here)
``float``                                        a float, or an int (as PEP 484 allows; kept an int)
``bytes``, ``bytearray``, ``memoryview``         any of the three (a large field arrives as a ``memoryview``)
``list[T]``, ``Sequence[T]``                     a list, each item a ``T``
``tuple[T, ...]``, ``tuple[A, B]``               a list of items (of that length), made a tuple
``set[T]``, ``frozenset[T]``                     a list of items, made a set or frozenset
``dict[K, V]``, ``Mapping[K, V]``                a map, each key a ``K`` and each value a ``V``
``X | Y``, ``Optional[X]``                       the first of the arms that accepts the value
``Literal[a, b]``                                one of the values
an ``enum.Enum``                                 a member's value, made the member
a ``@message`` class                             an instance (nested messages are decoded by their own decoder)
a plain ``attrs`` class                          a map of its fields, checked and built the same way
``datetime``, ``UUID``, ``Decimal``, ...         an instance (the extension types of :mod:`zactor.transport.values`)
a class with ``__zactor_from_wire__``            what that builds from the value (``ActorRef``, ``ActorRef[Q]``)
``Any``, ``object``, a type variable             anything
===============================================  ===============================================================

A field of the wrong type or shape raises :class:`~zactor.transport.errors.DecodeError` naming the class, the field
and where inside it (``calc.Add.a: expected int, got str``), before any handler runs. Fields the class does not
declare are dropped (a newer writer may send them); a required field that is missing is a ``DecodeError`` too.
An annotation that does not resolve leaves that class's fields unchecked, and says so once in the log.
"""

from __future__ import annotations

import collections.abc
import enum
import logging
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

from zactor.transport.errors import DecodeError

__all__ = ["SPEC_ATTR", "decoder_of", "check_fields"]

log = logging.getLogger("zactor.transport")

Check = Callable[[Any], Any]
"""Takes a decoded value and returns it, converted where the annotation asks; raises :class:`_Mismatch`."""
Decoder = Callable[[dict[str, Any]], Any]

SPEC_ATTR = "__zactor_spec__"
"""The class attribute that holds a ``@message`` class's spec (its wire name and fields)."""

_BINARY = frozenset((bytes, bytearray, memoryview))
_EXACT: dict[Any, frozenset[type]] = {
    int: frozenset((int,)),
    float: frozenset((float, int)),
    str: frozenset((str,)),
    bool: frozenset((bool,)),
    type(None): frozenset((type(None),)),
    bytes: _BINARY,
    bytearray: _BINARY,
    memoryview: _BINARY,
}
_ANYTHING = (Any, object)
_SEQUENCES = (list, collections.abc.Sequence, collections.abc.MutableSequence, collections.abc.Iterable)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


class _Mismatch(Exception):
    """A value that does not fit its annotation; ``where`` is the path inside the field (``[2]``, ``["k"]``)."""

    def __init__(self, expected: str, value: Any, where: str = "") -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value
        self.where = where

    def inside(self, step: str) -> _Mismatch:
        self.where = step + self.where
        return self


def _describe(value: Any) -> str:
    kind = type(value).__name__
    if isinstance(value, str | int | float | bool) or value is None:
        text = repr(value)
        return f"{kind} {text[:40] + '...' if len(text) > 40 else text}"
    if isinstance(value, list | dict):
        return f"{kind} of {len(value)}"
    return kind


def _name(annotation: Any) -> str:
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type):
        spec = annotation.__dict__.get(SPEC_ATTR)
        return spec.name if spec is not None else annotation.__qualname__
    return str(annotation).replace("typing.", "")


_decoders: dict[type, Decoder] = {}


def decoder_of(cls: type) -> Decoder:
    """The decoder of an attrs class: takes its decoded field map (which it may change in place) and returns the
    checked instance (built once per class, then cached).

    Raises (from the decoder):
        DecodeError: a field does not fit its annotation, a required field is missing, or the class's own
            validators refuse a value.
    """
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = _build(cls)
    return decoder


def check_fields(cls: type, fields: dict[str, Any]) -> Any:
    """Check and build an instance of ``cls`` from a field map, as a message from the wire is (for values that come
    from outside, such as the CLI's JSON).

    Raises:
        DecodeError: as :func:`decoder_of`'s decoder.
    """
    return decoder_of(cls)(dict(fields))


def _build(cls: type) -> Decoder:
    spec = cls.__dict__.get(SPEC_ATTR)
    label = spec.name if spec is not None else cls.__qualname__
    known = frozenset(a.name for a in attrs.fields(cls))
    required = [a.name for a in attrs.fields(cls) if a.default is attrs.NOTHING]
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # a forward reference that does not resolve
        log.warning("%s: its annotations do not resolve (%s); its fields are not checked at decode", label, exc)
        hints = {}
    exact: list[tuple[str, frozenset[type], str]] = []
    converted: list[tuple[str, Check]] = []
    for a in attrs.fields(cls):
        annotation = hints.get(a.name, Any)
        accepted = _exact_set(annotation)
        if accepted is not None:
            exact.append((a.name, accepted, _name(annotation)))
        elif (check := _check(annotation)) is not None:
            converted.append((a.name, check))

    def fail(field: str, error: _Mismatch) -> DecodeError:
        return DecodeError(f"{label}.{field}{error.where}: expected {error.expected}, got {_describe(error.value)}")

    def decode(fields: dict[str, Any]) -> Any:
        for field, accepted, expected in exact:
            if field in fields and type(value := fields[field]) not in accepted:
                raise fail(field, _Mismatch(expected, value))
        for field, check in converted:
            if field in fields:
                try:
                    fields[field] = check(fields[field])
                except _Mismatch as error:
                    raise fail(field, error) from None
        if not known.issuperset(fields):
            fields = {k: v for k, v in fields.items() if k in known}
        try:
            return cls(**fields)
        except Exception as exc:  # a missing field, or a validator or converter of the class refused a value
            if missing := [name for name in required if name not in fields]:
                raise DecodeError(f"{label}: missing field {', '.join(missing)}") from None
            raise DecodeError(f"fields do not fit {label}: {exc}") from None

    return decode


def _hashable(annotation: Any) -> bool:
    try:
        hash(annotation)
    except TypeError:
        return False
    return True


def _exact_set(annotation: Any) -> frozenset[type] | None:
    """The types a value of ``annotation`` may have when a type test is the whole check (a scalar or a union of
    scalars), else ``None``."""
    if _hashable(annotation) and annotation in _EXACT:
        return _EXACT[annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        arms = [_exact_set(arm) for arm in typing.get_args(annotation)]
        if all(arm is not None for arm in arms):
            return frozenset().union(*arms)  # type: ignore[arg-type]
    return None


def _check(annotation: Any) -> Check | None:
    """How to check (and convert) a value of ``annotation``; ``None`` when anything is accepted."""
    if annotation in _ANYTHING or isinstance(annotation, typing.TypeVar | str | typing.ForwardRef):
        return None
    if (accepted := _exact_set(annotation)) is not None:
        return _exact(accepted, _name(annotation))
    if isinstance(annotation, type):
        return _class_check(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _check(args[0])
    if origin is typing.Literal:
        return _literal(args)
    if origin in (typing.Union, types.UnionType):
        return _union(annotation, args)
    if origin in _SEQUENCES:
        return _items(list, args[0] if args else Any, annotation)
    if origin in (set, frozenset, collections.abc.Set, collections.abc.MutableSet):
        return _items(frozenset if origin is frozenset else set, args[0] if args else Any, annotation)
    if origin is tuple:
        return _tuple(args, annotation)
    if origin in _MAPPINGS:
        key, value = (_check(args[0]), _check(args[1])) if len(args) == 2 else (None, None)
        return _map(key, value, annotation)
    if isinstance(origin, type) and hasattr(origin, "__zactor_from_wire__"):
        return _class_check(origin)  # a generic value class: ActorRef[Q]
    return None


def _exact(accepted: frozenset[type], name: str) -> Check:
    def check(value: Any) -> Any:
        if type(value) not in accepted:
            raise _Mismatch(name, value)
        return value

    return check


def _class_check(cls: type) -> Check:
    if issubclass(cls, enum.Enum):
        return _enum(cls)
    from_wire = getattr(cls, "__zactor_from_wire__", None)
    if from_wire is not None:
        return _from_wire(cls, from_wire)
    if attrs.has(cls) and SPEC_ATTR not in cls.__dict__:
        return _plain_attrs(cls)
    name = _name(cls)

    def check(value: Any) -> Any:
        if not isinstance(value, cls):
            raise _Mismatch(name, value)
        return value

    return check


def _from_wire(cls: type, from_wire: Callable[[Any], Any]) -> Check:
    name = _name(cls)

    def check(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return from_wire(value)
        except (TypeError, ValueError) as exc:
            raise _Mismatch(f"{name} ({exc})", value) from None

    return check


def _enum(kind: type[enum.Enum]) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        if type(value) is bool:  # True == 1: an IntEnum would take it for its member 1
            raise _Mismatch(f"a value of {kind.__qualname__}", value)
        try:
            return kind(value)
        except (ValueError, TypeError):
            raise _Mismatch(f"a value of {kind.__qualname__}", value) from None

    return check


def _plain_attrs(cls: type) -> Check:
    name = cls.__qualname__

    def check(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if type(value) is not dict:
            raise _Mismatch(f"a map of {name}", value)
        try:
            return decoder_of(cls)(value)  # looked up at call time: a class may refer to itself
        except DecodeError as exc:
            raise _Mismatch(f"{name} ({exc})", value) from None

    return check


def _literal(values: tuple[Any, ...]) -> Check:
    allowed = [(type(v), v) for v in values]
    name = " or ".join(repr(v) for v in values)

    def check(value: Any) -> Any:
        if (type(value), value) not in allowed:
            raise _Mismatch(name, value)
        return value

    return check


def _union(annotation: Any, arms: tuple[Any, ...]) -> Check | None:
    checks = [_check(arm) for arm in arms]
    if any(c is None for c in checks):
        return None
    name = _name(annotation)

    def check(value: Any) -> Any:
        for arm in checks:
            try:
                return arm(value)  # type: ignore[misc]
            except _Mismatch:
                continue
        raise _Mismatch(name, value)

    return check


def _items(make: type, item_annotation: Any, annotation: Any) -> Check:
    name = _name(annotation)
    accepted = _exact_set(item_annotation)
    item = _check(item_annotation) if accepted is None else None
    item_name = _name(item_annotation)

    def check(value: Any) -> Any:
        if type(value) is not list:
            raise _Mismatch(name, value)
        if accepted is not None:  # one pass in C over the items' types; the loop only to name the first misfit
            if not accepted.issuperset(map(type, value)):
                i, bad = next((i, v) for i, v in enumerate(value) if type(v) not in accepted)
                raise _Mismatch(item_name, bad, f"[{i}]")
        elif item is not None:
            for i, v in enumerate(value):
                try:
                    value[i] = item(v)
                except _Mismatch as error:
                    raise error.inside(f"[{i}]") from None
        if make is list:
            return value
        try:
            return make(value)
        except TypeError:  # an unhashable item in a set
            raise _Mismatch(name, value) from None

    return check


def _tuple(args: tuple[Any, ...], annotation: Any) -> Check:
    if len(args) == 2 and args[1] is Ellipsis:
        return _items(tuple, args[0], annotation)
    checks = [_check(a) for a in args]
    name = _name(annotation)

    def check(value: Any) -> Any:
        if type(value) is not list or len(value) != len(checks):
            raise _Mismatch(name, value)
        for i, item in enumerate(checks):
            if item is not None:
                try:
                    value[i] = item(value[i])
                except _Mismatch as error:
                    raise error.inside(f"[{i}]") from None
        return tuple(value)

    return check


def _map(key: Check | None, val: Check | None, annotation: Any) -> Check:
    name = _name(annotation)

    def check(value: Any) -> Any:
        if type(value) is not dict:
            raise _Mismatch(name, value)
        if key is None and val is None:
            return value
        out = {}
        for k, v in value.items():
            try:
                k2 = key(k) if key is not None else k
            except _Mismatch as error:
                raise error.inside(f"[key {k!r}]") from None
            try:
                out[k2] = val(v) if val is not None else v
            except _Mismatch as error:
                raise error.inside(f"[{k!r}]") from None
        return out

    return check
