"""Fenced registers: the pure rules (claims raise the fence, writes below it are refused, values ordered by term and
then seq), a replica's rows in storage, and the increments checker."""

from __future__ import annotations

import asyncio

import pytest

from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.replication import MemoryStorage
from zactor.services.replication.fenced import (
    FENCED_PREFIX,
    FencedRegisters,
    FencedRow,
    StaleTerm,
    claim_row,
    newest,
    pack_row,
    unpack_row,
    write_row,
)
from zactor.services.replication.fenced_store import next_seq
from zactor.services.replication.storage import Document, StorageError
from zactor.services.virtual.history import increments_out_of_order


def test_a_claim_raises_the_fence_and_a_lower_term_is_refused() -> None:
    row = claim_row(FencedRow(), 3)
    assert row == FencedRow(fence=3)
    with pytest.raises(StaleTerm) as caught:
        write_row(row, 2, 99, b"late")
    assert (caught.value.term, caught.value.current) == (2, 3)
    with pytest.raises(StaleTerm):
        claim_row(row, 2)
    assert claim_row(row, 3) is row


def test_writes_are_ordered_by_term_then_seq_never_by_arrival() -> None:
    row = write_row(FencedRow(), 2, 10, b"b")
    assert write_row(row, 2, 5, b"older") == row  # an older seq of the same term arrives late: ignored
    newer = write_row(row, 3, 1, b"c")
    assert newer == FencedRow(3, 3, 1, b"c")
    assert newest([FencedRow(0, 2, 10, b"b"), newer, FencedRow()]) == newer
    assert newest([]) == FencedRow()


def test_rows_round_trip_and_a_corrupt_row_is_a_storage_error() -> None:
    row = FencedRow(4, 3, 7, b"\x00state")
    assert unpack_row(pack_row(row)) == row
    assert unpack_row(pack_row(FencedRow())) == FencedRow()
    with pytest.raises(StorageError, match="does not decode"):
        unpack_row(b"\x93\x01")


def test_next_seq_grows_past_the_last_and_with_the_clock() -> None:
    assert next_seq(5, 0.0) == 6
    assert next_seq(5, 2.0) == 2_000_000_000


async def test_a_replica_keeps_its_rows_in_storage_across_a_restart() -> None:
    storage = MemoryStorage()
    registers = FencedRegisters(storage, lambda: HLCTimestamp(1, 0, "n"))
    rows = await asyncio.gather(*(registers.write("ks", "k", 1, seq, str(seq).encode()) for seq in range(1, 50)))
    assert rows[-1] == FencedRow(1, 1, 49, b"49")
    await registers.claim("ks", "k", 2)
    with pytest.raises(StaleTerm):
        await registers.write("ks", "k", 1, 100, b"stale")
    again = FencedRegisters(storage, lambda: HLCTimestamp(2, 0, "n"))  # as after a restart
    assert await again.get("ks", "k") == FencedRow(2, 1, 49, b"49")
    assert await storage.keyspaces() == [FENCED_PREFIX + "ks"]
    await storage.put(FENCED_PREFIX + "ks", Document("bad", HLCTimestamp(1, 0, "n"), b"junk"))
    with pytest.raises(StorageError):
        await again.claim("ks", "bad", 3)


def test_the_increments_checker() -> None:
    fine = [("k", 0.0, 1.0, 1), ("k", 1.5, 2.0, 2), ("k", 1.8, 3.0, 3), ("j", 0.0, 9.0, 1)]
    assert increments_out_of_order(fine) == []
    backwards = [*fine, ("k", 4.0, 5.0, 3)]
    assert increments_out_of_order(backwards) == [(("k", 1.8, 3.0, 3), ("k", 4.0, 5.0, 3))]
    lost = [("k", 0.0, 9.0, 2), ("k", 1.0, 2.0, 1), ("k", 1.5, 8.0, 2)]  # overlapping in time, one value twice
    assert increments_out_of_order(lost) == [(("k", 0.0, 9.0, 2), ("k", 1.5, 8.0, 2))]
