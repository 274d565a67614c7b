"""The sans-I/O ZMTP reader: a large frame is read straight into a buffer of its own, whole and unchanged, however
the reads split it; past 32 MiB that buffer is an anonymous mapping populated at once (on Linux)."""

from __future__ import annotations

import mmap
import sys

import pytest

from zactor.transport.framing import GREETING, FrameReader, frame_header, message_parts


def _feed(reader: FrameReader, data: bytes, chunk: int) -> list[object]:
    """Feed ``data`` as a protocol would, at most ``chunk`` bytes per read; returns every item completed."""
    items: list[object] = []
    view = memoryview(data)
    while view:
        buffer = reader.get_buffer()
        n = min(chunk, len(buffer), len(view))
        buffer[:n] = view[:n]
        view = view[n:]
        items += reader.buffer_updated(n)
    return items


@pytest.mark.parametrize("size", [300 * 1024, 33 * 1024 * 1024])
def test_a_large_frame_arrives_whole_in_a_buffer_of_its_own(size: int) -> None:
    payload = bytes(range(256)) * (size // 256)
    parts, _ = message_parts([b"head", payload])
    wire = GREETING + b"".join(bytes(part) for part in parts) + frame_header(1, 0) + b"z"
    items = _feed(FrameReader(64 * 1024 * 1024), wire, 1_000_003)
    assert len(items) == 2
    (name, (head, body)), (_, (tail,)) = items  # type: ignore[misc]
    assert name is None and head == b"head" and tail == b"z"
    assert isinstance(body, memoryview) and body == payload
    if sys.platform == "linux":
        assert isinstance(body.obj, mmap.mmap if size > 32 * 1024 * 1024 else bytearray)
