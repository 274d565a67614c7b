"""Standard-library values, enums and plain attrs classes in message fields: round trips, the documented wire form,
and errors that name the class and the field."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any

import attrs
import msgpack
import pytest

from zactor import message
from zactor.errors import DecodeError
from zactor.transport.codec import decode_body, encode_body


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Point:
    x: int
    y: int
    color: Color


@message("test.values.Everything")
class Everything:
    when: datetime.datetime
    naive: datetime.datetime
    day: datetime.date
    span: datetime.timedelta
    ident: uuid.UUID
    price: decimal.Decimal
    color: Color
    level: Level
    point: Point
    colors: list[Color]
    by_name: dict[str, Color]
    maybe: Color | None
    pair: tuple[int, int]


@message("test.values.Holder")
class Holder:
    value: Any


def _everything() -> Everything:
    return Everything(
        when=datetime.datetime(2026, 11, 21, 19, 5, 1, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        naive=datetime.datetime(2026, 1, 2, 3, 4, 5),
        day=datetime.date(2026, 2, 28),
        span=datetime.timedelta(days=-1, seconds=5, microseconds=7),
        ident=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        price=decimal.Decimal("12.3400"),
        color=Color.BLUE,
        level=Level.HIGH,
        point=Point(x=1, y=2, color=Color.RED),
        colors=[Color.RED, Color.BLUE],
        by_name={"a": Color.RED},
        maybe=None,
        pair=(1, 2),
    )


def test_values_round_trip_with_their_types() -> None:
    """Every supported type comes back equal and of its type (a tuple travels as a list and comes back a tuple)."""
    original = _everything()
    decoded = decode_body(*encode_body(original)[:2])
    assert decoded == original and type(decoded.pair) is tuple
    assert type(decoded.color) is Color and type(decoded.point) is Point and type(decoded.point.color) is Color
    assert decoded.when.utcoffset() == datetime.timedelta(hours=2) and decoded.naive.tzinfo is None
    again = decode_body(*encode_body(attrs.evolve(original, maybe=Color.RED))[:2])
    assert again.maybe is Color.RED


def test_the_wire_form_is_the_documented_one() -> None:
    """Extension codes 3-7 carry ISO text, microseconds, UUID bytes and decimal text; an enum is its value."""
    _, body, _ = encode_body(_everything())
    seen: dict[int, bytes] = {}

    def hook(code: int, data: bytes) -> msgpack.ExtType:
        seen[code] = data
        return msgpack.ExtType(code, data)

    fields = msgpack.unpackb(body, ext_hook=hook)
    assert seen[3] == b"2026-01-02T03:04:05" and seen[4] == b"2026-02-28"
    assert int.from_bytes(seen[5], "big", signed=True) == -86_400_000_000 + 5_000_007
    assert seen[6] == uuid.UUID("12345678-1234-5678-1234-567812345678").bytes and seen[7] == b"12.3400"
    assert fields["color"] == "blue" and fields["level"] == 2 and fields["point"] == {"x": 1, "y": 2, "color": "red"}


def test_an_unencodable_field_is_named() -> None:
    """The error names the message type and the field, and the value's type."""
    with pytest.raises(TypeError, match=r"test\.values\.Holder\.value: cannot encode a value of type complex"):
        encode_body(Holder(value=1j))
    with pytest.raises(TypeError, match=r"Holder\.value: .*64-bit"):
        encode_body(Holder(value=2**70))
    with pytest.raises(TypeError, match=r"Everything\.span: cannot encode the timedelta .*64-bit microseconds"):
        encode_body(attrs.evolve(_everything(), span=datetime.timedelta(days=106751992)))


def test_a_value_that_does_not_fit_its_annotation_is_a_decode_error_naming_the_field() -> None:
    """An unknown enum value or a malformed extension payload is refused with DecodeError."""
    name, body, _ = encode_body(_everything())
    fields = msgpack.unpackb(body, ext_hook=lambda code, data: msgpack.ExtType(code, data))
    fields["color"] = "green"
    with pytest.raises(DecodeError, match=r"Everything\.color"):
        decode_body(name, msgpack.packb(fields))
    fields["color"] = "red"
    fields["ident"] = msgpack.ExtType(6, b"short")
    with pytest.raises(DecodeError, match="extension type 6"):
        decode_body(name, msgpack.packb(fields))
