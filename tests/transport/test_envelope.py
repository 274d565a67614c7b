"""The head frame's layout is pinned byte for byte, and every malformed head is a DecodeError."""

from __future__ import annotations

import msgpack
import pytest

from zactor.transport import (
    MAGIC_VERSION,
    DecodeError,
    Kind,
    message,
    open_body,
    pack,
    pack_header,
    unpack,
    unpack_header,
)


def test_request_header_golden_bytes() -> None:
    """A REQUEST head with a nil body encodes to exactly these bytes (wire format version 2)."""
    header = pack_header(Kind.REQUEST, 7, "calc", "calc.Add", None, 0, 0)
    assert header.hex() == "99ce005a41020107a463616c63a863616c632e416464c00000" + "c401c0"


def test_reply_header_with_buffers_and_hlc_golden_bytes() -> None:
    """A REPLY head with an HLC value, two buffers and a body encodes to exactly these bytes."""
    header = pack_header(Kind.REPLY, 300, "", "calc.Sum", [1700000000000, 3], 0, 2, b"\x81\xa1v\x03")
    assert header.hex() == "99ce005a410202cd012ca0a863616c632e53756d92cf0000018bcfe5680003" + "0002" + "c40481a17603"


def test_header_round_trip() -> None:
    """Every field of a header survives encode/decode."""
    header = unpack_header(pack_header(Kind.TELL, 0, "a", "t", 5, 1, 3, b"\x90"))
    assert (header.kind, header.request_id, header.target, header.message_type) == (Kind.TELL, 0, "a", "t")
    assert (header.hlc, header.flags, header.n_buffers, header.body) == (5, 1, 3, b"\x90")


def test_header_ignores_items_appended_by_a_later_version() -> None:
    """A head with more than eleven items still decodes (forward compatibility)."""
    raw = msgpack.packb([MAGIC_VERSION, 1, 9, "x", "y", None, 0, 0, b"\xc0", "n1", "c1", "extra", 42])
    header = unpack_header(raw)
    assert (header.request_id, header.sender, header.cluster_id) == (9, "n1", "c1")


def test_the_sender_and_cluster_id_travel_in_requests_and_are_strings_or_nil() -> None:
    """Nine items without them (a reply, a client), eleven with them; anything but a string or nil is refused."""
    assert len(msgpack.unpackb(pack(Kind.REPLY, 1, "", None)[0])) == 9
    head = pack(Kind.REQUEST, 1, "calc", None, None, 1024, "n1", "prod")[0]
    assert len(msgpack.unpackb(head)) == 11
    assert unpack_header(head)[-2:] == ("n1", "prod")
    assert unpack_header(pack(Kind.TELL, 0, "calc", None, None, 1024, None, "prod")[0]).sender is None
    for sender, cluster in ((7, "c"), ("n", b"c"), ([], None)):
        raw = msgpack.packb([MAGIC_VERSION, 4, 0, "x", "", None, 0, 0, b"\xc0", sender, cluster])
        with pytest.raises(DecodeError, match="sender and cluster id"):
            unpack_header(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xc1",
        b"\x98",
        msgpack.packb([MAGIC_VERSION, 1, 1, "x", "y", None, 0, 0]),
        msgpack.packb([0x5A4101, 1, 1, "x", "y", None, 0, 0, b"\xc0"]),
        msgpack.packb([MAGIC_VERSION, 9, 1, "x", "y", None, 0, 0, b"\xc0"]),
        msgpack.packb([MAGIC_VERSION, 1, -1, "x", "y", None, 0, 0, b"\xc0"]),
        msgpack.packb([MAGIC_VERSION, 1, 1, 5, "y", None, 0, 0, b"\xc0"]),
        msgpack.packb([MAGIC_VERSION, 1, 1, "x", "y", None, 0, -2, b"\xc0"]),
        msgpack.packb([MAGIC_VERSION, 1, 1, "x", "y", None, 0, 0, "not bin"]),
        msgpack.packb({"magic": MAGIC_VERSION}),
        msgpack.packb([MAGIC_VERSION, 1, 1, "x", "y", None, 0, 0, b"\xc0"]) + b"\x00",
    ],
    ids=[
        "empty",
        "reserved-byte",
        "truncated",
        "short",
        "version-1",
        "kind",
        "negative-id",
        "target-type",
        "negative-buffers",
        "body-not-bin",
        "map",
        "trailing",
    ],
)
def test_malformed_header_is_decode_error(raw: bytes) -> None:
    """Each malformed header raises DecodeError and nothing else."""
    with pytest.raises(DecodeError):
        unpack_header(raw)


@message("test.envelope.Blob")
class _Blob:
    name: str
    data: bytes


def test_pack_unpack_open_body_round_trip_with_a_buffer_frame() -> None:
    """A request with a large field is [head, buffer]; unpack and open_body give it back, zero-copy."""
    big = b"x" * 100
    frames = pack(Kind.REQUEST, 9, "store", _Blob(name="a", data=big), [1, 0, "n"], copy_threshold_bytes=64)
    assert len(frames) == 2 and frames[1] is big
    header = unpack(frames)
    assert (header.kind, header.request_id, header.target, header.n_buffers) == (Kind.REQUEST, 9, "store", 1)
    assert open_body(header, frames) == _Blob(name="a", data=big)


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([], "at least 1 frame"),
        (pack(Kind.REQUEST, 1, "a", _Blob(name="a", data=b"y" * 100), copy_threshold_bytes=64)[:1], "announces 1"),
        (pack(Kind.TELL, 0, "a", None), "needs a message type"),
    ],
)
def test_every_envelope_check_is_a_decode_error(frames: list[bytes], reason: str) -> None:
    """No frame, a missing buffer frame, or a request without a message type: DecodeError, checked once."""
    with pytest.raises(DecodeError, match=reason):
        open_body(unpack(frames), frames)
