"""Every storage passes the reusable suite; SQLite and LMDB refuse corrupt files and report failed writes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from zactor.services.clock import HLCTimestamp
from zactor.services.replication.lmdb_storage import LMDBStorage
from zactor.services.replication.sqlite import SQLiteStorage
from zactor.services.replication.storage import Document, MemoryStorage, Storage, StorageError, check_key
from zactor.services.replication.testing import StorageTestSuite


class TestMemoryStorage(StorageTestSuite):
    def make_storage(self, directory: Path) -> Storage:
        return MemoryStorage()


class TestSQLiteStorage(StorageTestSuite):
    is_durable = True

    def make_storage(self, directory: Path) -> Storage:
        return SQLiteStorage(directory / "node.db")


class TestLMDBStorage(StorageTestSuite):
    is_durable = True

    def make_storage(self, directory: Path) -> Storage:
        return LMDBStorage(directory / "lmdb", map_size=1 << 20)  # small: the 4 MiB value grows the map


@pytest.mark.parametrize("content", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 200])
def test_corrupt_or_truncated_file_is_refused_and_left_untouched(tmp_path: Path, content: bytes) -> None:
    """Opening a foreign or truncated file raises StorageError naming the file and does not modify it."""
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    with pytest.raises(StorageError) as info:
        SQLiteStorage(path)
    assert str(path) in str(info.value) and info.value.path == str(path)
    assert path.read_bytes() == content


async def _fill(storage: Storage) -> None:
    """500 documents of 2,000 random bytes (about 1 MiB on disk), then close."""
    await storage.put_many("ks", [Document(f"k{i}", HLCTimestamp(i, 0, "n"), os.urandom(2000)) for i in range(500)])
    await storage.close()


def test_truncated_real_database_is_refused(tmp_path: Path) -> None:
    """A real database cut short is refused at open, not discovered later."""
    path = tmp_path / "node.db"
    asyncio.run(_fill(SQLiteStorage(path)))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StorageError):
        SQLiteStorage(path)


def test_write_to_a_read_only_database_fails_clearly(tmp_path: Path) -> None:
    """A write the disk refuses raises StorageError (the caller must not acknowledge it)."""
    path = tmp_path / "node.db"

    async def run() -> None:
        storage = SQLiteStorage(path)
        await storage.put("ks", Document("a", HLCTimestamp(1, 0, "n"), b"1"))
        storage._db.execute("PRAGMA query_only = ON")
        with pytest.raises(StorageError):
            await storage.put("ks", Document("b", HLCTimestamp(2, 0, "n"), b"2"))
        storage._db.execute("PRAGMA query_only = OFF")
        assert await storage.get("ks", "b") is None
        await storage.close()

    asyncio.run(run())


def test_keys_must_be_str_or_bytes() -> None:
    """Any other key type is a TypeError."""
    assert check_key("k") == "k" and check_key(b"k") == b"k"
    for bad in (1, None, ("a",), bytearray(b"k")):
        with pytest.raises(TypeError):
            check_key(bad)


async def test_a_write_failing_outside_sqlite_rolls_back_alone(tmp_path: Path) -> None:
    """A row SQLite cannot bind (an int over 64 bits) fails its own write with StorageError; the writes grouped
    with it commit, the next write succeeds, and nothing stays half-written."""
    storage = SQLiteStorage(tmp_path / "node.db")
    try:
        bad = Document("bad", HLCTimestamp(2**64, 0, "x"), b"v")
        good = [Document(f"k{i}", HLCTimestamp(1, i, "x"), b"v") for i in range(3)]
        results = await asyncio.wait_for(
            asyncio.gather(
                storage.put("ks", good[0]), storage.put("ks", bad), storage.put("ks", good[1]), return_exceptions=True
            ),
            timeout=5.0,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], StorageError)
        await asyncio.wait_for(storage.put("ks", good[2]), timeout=5.0)
        assert sorted(d.key for d in await storage.get_many("ks", ["k0", "k1", "k2", "bad"])) == ["k0", "k1", "k2"]
        assert sorted(k for k, _, _ in await storage.iter_metadata("ks")) == ["k0", "k1", "k2"]
    finally:
        await storage.close()


def test_lmdb_refuses_a_foreign_or_truncated_environment_untouched(tmp_path: Path) -> None:
    """A data.mdb that is not LMDB's, or a real one cut short, is refused at open with a StorageError naming it
    (reading past a truncated map's end would kill the process); neither file is changed."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.mdb").write_bytes(b"not an lmdb file" * 1000)
    with pytest.raises(StorageError, match="data.mdb"):
        LMDBStorage(foreign)
    assert (foreign / "data.mdb").read_bytes() == b"not an lmdb file" * 1000

    real = tmp_path / "real"
    asyncio.run(_fill(LMDBStorage(real)))
    data = (real / "data.mdb").read_bytes()
    (real / "data.mdb").write_bytes(data[: len(data) // 2])
    with pytest.raises(StorageError, match="truncated"):
        LMDBStorage(real)
    assert len((real / "data.mdb").read_bytes()) == len(data) // 2


async def test_lmdb_groups_concurrent_writes_and_a_refused_one_fails_alone(tmp_path: Path) -> None:
    """Writes issued together commit together; a write LMDB refuses (a key over its 511-byte limit) fails with
    StorageError while the writes grouped with it commit."""
    storage = LMDBStorage(tmp_path / "env")
    try:
        good = [storage.put("ks", Document(f"k{i}", HLCTimestamp(1, i, "x"), b"v")) for i in range(50)]
        bad = storage.put("ks", Document("x" * 600, HLCTimestamp(2, 0, "x"), b"v"))
        results = await asyncio.gather(*good, bad, return_exceptions=True)
        assert results[:50] == [None] * 50 and isinstance(results[50], StorageError)
        assert len(await storage.iter_metadata("ks")) == 50
    finally:
        await storage.close()
