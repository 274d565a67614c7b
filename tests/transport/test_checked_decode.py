"""Checked decode: for every message zactor registers and for user messages of every supported field type, a message
whose one field has the wrong type or shape on the wire is a DecodeError naming the class and the field, and the
message as sent decodes equal to itself."""

from __future__ import annotations

import collections.abc
import datetime
import decimal
import enum
import importlib
import pkgutil
import re
import types
import typing
import uuid
from typing import Any, Literal

import attrs
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zactor
import zactor.services
from zactor import message
from zactor.errors import DecodeError
from zactor.transport.codec import decode_body, encode_body, type_name_of
from zactor.transport.schema import check_fields

for _package in (zactor, zactor.services):  # every service registers its messages
    for _module in pkgutil.walk_packages(_package.__path__, _package.__name__ + "."):
        importlib.import_module(_module.name)


class Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


class Rank(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Spot:
    x: int
    label: str


@message("test.checked.Leaf")
class Leaf:
    name: str
    weight: float


@message("test.checked.AllKinds")
class AllKinds:
    number: int
    ratio: float
    text: str
    flag: bool
    raw: bytes
    nothing: None
    numbers: list[int]
    names: collections.abc.Sequence[str]
    pair: tuple[int, str]
    series: tuple[float, ...]
    tags: frozenset[str]
    table: dict[str, int]
    nested: dict[str, list[Leaf]]
    maybe: int | None
    either: int | str
    kind: Literal["a", "b"]
    mode: Mode
    rank: Rank
    spot: Spot
    leaf: Leaf
    leaves: list[Leaf]
    when: datetime.datetime
    day: datetime.date
    span: datetime.timedelta
    ident: uuid.UUID
    price: decimal.Decimal
    anything: Any


_ANYTHING = (Any, object)
_POOL: list[Any] = ["text", 7, 2.5, True, None, b"raw", [1], {"k": "v"}]
"""Wire values of each msgpack kind; a corrupted field gets one its annotation does not admit."""


def _admitted(annotation: Any) -> set[type] | None:
    """Which kinds of :data:`_POOL` values the annotation admits (``None``: any); an oracle written apart from
    :mod:`zactor.transport.schema`, from the documented table."""
    if annotation in _ANYTHING:
        return None
    simple: dict[Any, set[type]] = {int: {int}, float: {float, int}, str: {str}, bool: {bool}, type(None): {type(None)}}
    if annotation in simple:
        return simple[annotation]
    if annotation in (bytes, bytearray, memoryview):
        return {bytes}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds: set[type] = set()
        for arm in args:
            admitted = _admitted(arm)
            if admitted is None:
                return None
            kinds |= admitted
        return kinds
    if origin is Literal:
        return {type(v) for v in args} if any(v in _POOL for v in args) else set()
    if origin in (list, tuple, set, frozenset, collections.abc.Sequence):
        return {list}
    if origin is dict:
        return {dict}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {type(v) for v in _POOL if any(m.value == v and type(m.value) is type(v) for m in annotation)}
    return set()  # a message, an attrs class or an extension value: no plain wire value is one


def _values(annotation: Any) -> st.SearchStrategy[Any]:
    """Valid values of ``annotation``."""
    if annotation in _ANYTHING:
        return st.one_of(st.integers(-100, 100), st.text(max_size=5), st.none())
    leaf: dict[Any, st.SearchStrategy[Any]] = {
        int: st.integers(-(2**63), 2**64 - 1),
        float: st.floats(allow_nan=False),
        str: st.text(max_size=8),
        bool: st.booleans(),
        bytes: st.binary(max_size=8),
        bytearray: st.binary(max_size=8),
        memoryview: st.binary(max_size=8),
        type(None): st.none(),
        datetime.datetime: st.datetimes(),
        datetime.date: st.dates(),
        datetime.timedelta: st.timedeltas(datetime.timedelta(days=-(10**8)), datetime.timedelta(days=10**8)),
        uuid.UUID: st.uuids(),
        decimal.Decimal: st.decimals(allow_nan=False, allow_infinity=False),
    }
    if annotation in leaf:
        return leaf[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_values(a) for a in args])
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (list, collections.abc.Sequence):
        return st.lists(_values(args[0] if args else Any), max_size=3)
    if origin in (set, frozenset):
        return st.frozensets(_values(args[0]), max_size=3).map(origin)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(_values(args[0]), max_size=3).map(tuple)
        return st.tuples(*[_values(a) for a in args])
    if origin is dict:
        key = args[0] if args and args[0] not in _ANYTHING else str
        return st.dictionaries(_values(key), _values(args[1] if args else Any), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    if isinstance(annotation, type) and attrs.has(annotation):
        return _instances(annotation)
    raise AssertionError(f"no strategy for {annotation!r}")


def _instances(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    return st.fixed_dictionaries({a.name: _values(hints[a.name]) for a in attrs.fields(cls)}).map(lambda f: cls(**f))


def _wrong(annotation: Any) -> st.SearchStrategy[Any]:
    """Wire values that ``annotation`` does not admit: another kind, or a container with one wrong item."""
    admitted = _admitted(annotation) or set()
    other_kind = st.sampled_from([v for v in _POOL if type(v) not in admitted])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, collections.abc.Sequence) and args and args[0] not in _ANYTHING:
        return st.one_of(other_kind, _wrong(args[0]).map(lambda bad: ["", bad] if args[0] is str else [bad]))
    if origin is dict and len(args) == 2 and args[1] not in _ANYTHING:
        return st.one_of(other_kind, _wrong(args[1]).map(lambda bad: {"k": bad}))
    return other_kind


def _checkable_fields(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [a.name for a in attrs.fields(cls) if _admitted(hints[a.name]) is not None]


_CLASSES = sorted(
    (cls for cls in zactor.transport.codec._types_by_name.values() if cls.__module__.startswith(("zactor.", __name__))),
    key=type_name_of,
)


def test_every_service_message_and_every_field_kind_is_covered() -> None:
    assert len(_CLASSES) >= 50 and AllKinds in _CLASSES
    assert all(_checkable_fields(cls) or not attrs.fields(cls) for cls in _CLASSES)


def _raw(cls: type, msg: Any) -> dict[str, Any]:
    """The message's field map as it travels (extension values left packed)."""
    name, body, buffers = encode_body(msg)
    assert name == type_name_of(cls) and not buffers
    fields: dict[str, Any] = msgpack.unpackb(body, ext_hook=msgpack.ExtType)
    return fields


@pytest.mark.fault
@pytest.mark.parametrize("cls", _CLASSES, ids=type_name_of)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_field_of_the_wrong_type_or_shape_is_a_decode_error_naming_class_and_field(cls: type, data: Any) -> None:
    msg = data.draw(_instances(cls))
    name = type_name_of(cls)
    assert decode_body(name, encode_body(msg)[1]) == msg
    fields = _checkable_fields(cls)
    if not fields:
        return
    field = data.draw(st.sampled_from(fields))
    raw = _raw(cls, msg)
    raw[field] = data.draw(_wrong(typing.get_type_hints(cls)[field]))
    with pytest.raises(DecodeError, match=rf"^{re.escape(name)}\.{field}\b"):
        decode_body(name, msgpack.packb(raw))


def test_the_error_says_where_inside_the_field_and_what_came() -> None:
    leaf = {"name": "x", "weight": 1.0}
    with pytest.raises(DecodeError, match=r"test\.checked\.Leaf\.weight: expected float, got str 'heavy'"):
        check_fields(Leaf, {**leaf, "weight": "heavy"})
    with pytest.raises(DecodeError, match=r"test\.checked\.Leaf: missing field weight"):
        check_fields(Leaf, {"name": "x"})
    assert check_fields(Leaf, {**leaf, "weight": 2, "added_later": 1}) == Leaf(name="x", weight=2)

    @message("test.checked.Deep")
    class Deep:
        rows: dict[str, list[int]]

    with pytest.raises(DecodeError, match=r"Deep\.rows\['b'\]\[1\]: expected int, got str 'two'"):
        check_fields(Deep, {"rows": {"a": [1], "b": [1, "two"]}})
    with pytest.raises(DecodeError, match=r"Deep\.rows: expected dict\[str, list\[int\]\], got list of 0"):
        check_fields(Deep, {"rows": []})
