"""The message codec: fields by name, large binary fields out of band without copies, bounded decoding."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zactor.transport import DecodeError, decode_body, encode_body, message, type_name_of
from zactor.transport.codec import MAX_NESTING


@message("test.codec.Point")
class Point:
    x: int
    y: int = 0


@message("test.codec.Blob")
class Blob:
    name: str
    data: bytes
    extra: bytes = b""


@message("test.codec.Shape")
class Shape:
    points: list
    label: str | None = None


def test_round_trip_by_name() -> None:
    """A message encodes to a msgpack map keyed by field name and decodes back equal."""
    type_name, body, buffers = encode_body(Point(x=1, y=2))
    assert type_name == "test.codec.Point" and buffers == []
    assert msgpack.unpackb(body) == {"x": 1, "y": 2}
    assert decode_body(type_name, body) == Point(x=1, y=2)


def test_message_classes_are_frozen_keyword_only() -> None:
    """@message makes frozen, keyword-only attrs classes."""
    with pytest.raises(TypeError):
        Point(1, 2)  # type: ignore[misc]
    p = Point(x=1)
    with pytest.raises(AttributeError):
        p.x = 3  # type: ignore[misc]


def test_nested_messages_round_trip() -> None:
    """Messages nested in lists are encoded with their type and rebuilt."""
    shape = Shape(points=[Point(x=1, y=2), Point(x=3, y=4)], label="tri")
    assert decode_body(*encode_body(shape)) == shape


def test_large_binary_field_travels_out_of_band_uncopied() -> None:
    """A bytes field at or above the threshold leaves the body and is returned as the same object."""
    data = b"\x01" * 1000
    type_name, body, buffers = encode_body(Blob(name="a", data=data, extra=b"small"), copy_threshold_bytes=1000)
    assert len(buffers) == 1 and buffers[0] is data
    assert len(body) < 100
    received = memoryview(bytearray(data))
    decoded = decode_body(type_name, body, [received])
    assert decoded.data is received and decoded.extra == b"small"


def test_unknown_type_is_decode_error() -> None:
    """A type name nobody registered is refused with DecodeError."""
    with pytest.raises(DecodeError, match="unknown message type"):
        decode_body("nobody.Registered", msgpack.packb({}))


def test_newer_writer_fields_are_ignored_and_defaults_fill_missing() -> None:
    """A body with an unknown extra field, or without an optional field, still decodes."""
    assert decode_body("test.codec.Point", msgpack.packb({"x": 1, "y": 2, "z": 3})) == Point(x=1, y=2)
    assert decode_body("test.codec.Point", msgpack.packb({"x": 5})) == Point(x=5)


@pytest.mark.parametrize(
    ("body", "buffers"),
    [
        (msgpack.packb({"y": 1}), []),
        (msgpack.packb([1, 2]), []),
        (msgpack.packb({"x": 1}) + b"\x00", []),
        (msgpack.packb({"x": msgpack.ExtType(1, b"\x00\x00\x00\x05")}), [b"a"]),
        (msgpack.packb({"x": 1}), [b"unreferenced"]),
        (msgpack.packb({"x": msgpack.ExtType(9, b"")}), []),
        (msgpack.packb({"x": msgpack.ExtType(2, b"\xc1")}), []),
    ],
    ids=["missing-field", "array", "trailing", "bad-buffer-index", "unused-buffer", "unknown-ext", "bad-nested"],
)
def test_malformed_body_is_decode_error(body: bytes, buffers: list[bytes]) -> None:
    """Bodies that do not fit the class or reference buffers wrongly raise DecodeError."""
    with pytest.raises(DecodeError):
        decode_body("test.codec.Point", body, buffers)


def test_encoding_an_unregistered_object_is_type_error() -> None:
    """Only @message instances can be encoded."""
    with pytest.raises(TypeError):
        encode_body(object())


def test_same_name_for_another_class_is_refused() -> None:
    """Two different classes cannot share a type name."""
    with pytest.raises(ValueError, match="already registered"):

        @message("test.codec.Point")
        class Other:
            z: int

    assert type_name_of(Point) == "test.codec.Point"


@settings(max_examples=400, deadline=None)
@given(
    type_name=st.sampled_from(["test.codec.Point", "test.codec.Blob", "test.codec.Shape", "", "unknown"]),
    body=st.binary(max_size=64),
    buffers=st.lists(st.binary(max_size=8), max_size=2),
)
def test_decoder_either_decodes_or_raises_decode_error(type_name: str, body: bytes, buffers: list[bytes]) -> None:
    """For any bytes, decode_body returns a message (or None) or raises DecodeError, nothing else."""
    try:
        decode_body(type_name, body, buffers)
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["x", "y", "points", "label", "data", "name"]),
        st.recursive(
            st.none() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5) | st.binary(max_size=5) | st.floats(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
            max_leaves=8,
        ),
    ),
    type_name=st.sampled_from(["test.codec.Point", "test.codec.Blob", "test.codec.Shape"]),
)
def test_decoder_handles_any_well_formed_msgpack_map(fields: dict, type_name: str) -> None:
    """Structurally valid msgpack with arbitrary field values decodes or raises DecodeError only."""
    try:
        decode_body(type_name, msgpack.packb(fields))
    except DecodeError:
        pass


def _nested(depth: int) -> bytes:
    """A body whose field holds ``depth`` messages nested through the message extension type."""
    inner = msgpack.packb(["test.codec.Shape", {"points": []}])
    for _ in range(depth - 1):
        inner = msgpack.packb(["test.codec.Shape", {"points": [msgpack.ExtType(2, inner)]}])
    return msgpack.packb({"points": [msgpack.ExtType(2, inner)]})


def test_nesting_within_the_limit_decodes() -> None:
    """Messages nested up to MAX_NESTING deep decode."""
    shape = decode_body("test.codec.Shape", _nested(MAX_NESTING))
    depth = 0
    while shape.points:
        shape, depth = shape.points[0], depth + 1
    assert depth == MAX_NESTING


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 200, 5_000])
def test_nesting_beyond_the_limit_is_decode_error(depth: int) -> None:
    """A message nested deeper than MAX_NESTING through extension types is refused, not a stack overflow."""
    with pytest.raises(DecodeError, match="nested deeper"):
        decode_body("test.codec.Shape", _nested(depth))


_ext_bodies = st.recursive(
    st.none() | st.integers(-5, 5) | st.text(max_size=3) | st.binary(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        | st.builds(
            lambda code, name, fields: msgpack.ExtType(code, msgpack.packb([name, fields])),
            st.integers(0, 4),
            st.sampled_from(["test.codec.Point", "test.codec.Shape", "test.codec.Blob", "nope"]),
            st.dictionaries(st.sampled_from(["x", "y", "points", "label"]), inner, max_size=3),
        )
        | st.builds(lambda code, data: msgpack.ExtType(code, data), st.integers(0, 4), st.binary(max_size=8))
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(["x", "y", "points", "label"]), _ext_bodies, max_size=4))
def test_decoder_handles_extension_types_and_nesting(fields: dict) -> None:
    """Any mix of extension types, nested messages and containers decodes or raises DecodeError only."""
    try:
        decode_body("test.codec.Shape", msgpack.packb(fields))
    except DecodeError:
        pass
