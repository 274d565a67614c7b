"""A reusable test suite that every :class:`~zactor.services.replication.storage.Storage` must pass.

Subclass it in a test module under a name pytest collects, and say how to build the storage::

    from zactor.services.replication.testing import StorageTestSuite

    class TestMyStorage(StorageTestSuite):
        is_durable = True                      # the reopen test runs too

        def make_storage(self, directory):     # called with a fresh, per-test directory (pathlib.Path)
            return MyStorage(directory / "db")

The tests are plain functions running their own event loop, so no pytest plugin is needed. They cover datacake's
storage suite (keyspace semantics, basic persistence, basic metadata, the exact keyspace list, a put after a purge)
and zactor's additions (``str`` and ``bytes`` keys, empty and large values, durability across a reopen).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from zactor.loops import run as run_loop
from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.replication.storage import Document, Storage

__all__ = ["StorageTestSuite"]


def _ts(ms: int, node: str = "n1") -> HLCTimestamp:
    return HLCTimestamp(ms, 0, node)


class StorageTestSuite:
    """The storage conformance tests; subclasses define :meth:`make_storage` (see the module docstring).

    Attributes:
        is_durable: True when a storage made again on the same directory sees what the previous one wrote.
    """

    is_durable = False

    def make_storage(self, directory: Path) -> Storage:
        """Build the storage under test in ``directory``."""
        raise NotImplementedError("StorageTestSuite subclasses define make_storage(directory)")

    def _check(self, directory: Path, check: Callable[[Storage], Awaitable[None]]) -> None:
        async def run() -> None:
            storage = self.make_storage(directory)
            try:
                await check(storage)
            finally:
                await storage.close()

        run_loop(run())

    def test_keyspace_semantics(self, tmp_path: Path) -> None:
        """Keyspaces appear when written to, stay isolated, and an unknown one reads as empty."""

        async def check(s: Storage) -> None:
            assert await s.keyspaces() == []
            assert await s.iter_metadata("missing") == [] and await s.get("missing", "k") is None
            await s.put("ks1", Document("k", _ts(1), b"one"))
            await s.put("ks2", Document("k", _ts(2), b"two"))
            await s.mark_tombstone("ks3", "gone", _ts(3))
            assert await s.keyspaces() == ["ks1", "ks2", "ks3"]
            assert (await s.get("ks1", "k")).value == b"one"  # type: ignore[union-attr]
            assert (await s.get("ks2", "k")).value == b"two"  # type: ignore[union-attr]
            await s.mark_tombstone("ks1", "k", _ts(4))
            assert await s.get("ks1", "k") is None and (await s.get("ks2", "k")) is not None

        self._check(tmp_path, check)

    def test_basic_persistence(self, tmp_path: Path) -> None:
        """put, put_many, get, get_many (missing keys left out) and overwrite by a later write."""

        async def check(s: Storage) -> None:
            await s.put("ks", Document("a", _ts(1), b"A"))
            await s.put_many("ks", [Document(f"k{i}", _ts(10 + i), bytes([i])) for i in range(100)])
            assert (await s.get("ks", "a")) == Document("a", _ts(1), b"A")
            docs = await s.get_many("ks", ["k3", "nope", "k7", "a"])
            assert sorted((d.key, bytes(d.value)) for d in docs) == [("a", b"A"), ("k3", b"\x03"), ("k7", b"\x07")]
            await s.put("ks", Document("a", _ts(200, "n2"), b"A2"))
            assert (await s.get("ks", "a")) == Document("a", _ts(200, "n2"), b"A2")
            assert len(await s.get_many("ks", [f"k{i}" for i in range(1000)])) == 100

        self._check(tmp_path, check)

    def test_basic_metadata(self, tmp_path: Path) -> None:
        """Metadata lists documents and tombstones; tombstoning an unknown key records it; removal forgets it."""

        async def check(s: Storage) -> None:
            await s.put_many("ks", [Document("a", _ts(1), b"1"), Document("b", _ts(2), b"2")])
            await s.mark_tombstone("ks", "a", _ts(3))
            await s.mark_tombstone("ks", "never-written", _ts(4))
            await s.mark_many_tombstones("ks", [("c", _ts(5)), ("d", _ts(6))])
            meta = {key: (ts, dead) for key, ts, dead in await s.iter_metadata("ks")}
            assert meta == {
                "a": (_ts(3), True),
                "b": (_ts(2), False),
                "never-written": (_ts(4), True),
                "c": (_ts(5), True),
                "d": (_ts(6), True),
            }
            await s.remove_tombstones("ks", ["a", "b", "c", "never-written"])
            left = {key: dead for key, _, dead in await s.iter_metadata("ks")}
            assert left == {"b": False, "d": True}, "remove_tombstones must keep live documents"

        self._check(tmp_path, check)

    def test_keyspace_list_is_exact_and_a_purged_key_can_be_written_again(self, tmp_path: Path) -> None:
        """A keyspace whose last tombstone is purged is listed no more; a purged key written again is live, and
        keys of one keyspace never leak into another whose name is a prefix of it."""

        async def check(s: Storage) -> None:
            await s.mark_many_tombstones("gone", [("x", _ts(1)), ("y", _ts(2))])
            await s.put_many("kept", [Document("k", _ts(3), b"v")])
            await s.put_many("kept2", [Document("k", _ts(4), b"w")])
            assert await s.keyspaces() == ["gone", "kept", "kept2"]
            await s.remove_tombstones("gone", ["x", "y"])
            assert await s.keyspaces() == ["kept", "kept2"]
            await s.put("gone", Document("x", _ts(5), b"back"))
            assert await s.get("gone", "x") == Document("x", _ts(5), b"back")
            assert await s.iter_metadata("gone") == [("x", _ts(5), False)]
            assert await s.iter_metadata("kept") == [("k", _ts(3), False)]

        self._check(tmp_path, check)

    def test_str_and_bytes_keys_are_distinct(self, tmp_path: Path) -> None:
        """The key "k" and the key b"k" are two documents, and each comes back with its own type."""

        async def check(s: Storage) -> None:
            await s.put_many("ks", [Document("k", _ts(1), b"text"), Document(b"k", _ts(2), b"bytes")])
            assert (await s.get("ks", "k")).value == b"text"  # type: ignore[union-attr]
            assert (await s.get("ks", b"k")).value == b"bytes"  # type: ignore[union-attr]
            assert sorted((type(k).__name__, k) for k, _, _ in await s.iter_metadata("ks")) == [
                ("bytes", b"k"),
                ("str", "k"),
            ]

        self._check(tmp_path, check)

    def test_empty_and_large_values(self, tmp_path: Path) -> None:
        """An empty value is a live document (not a tombstone); a 4 MiB memoryview is stored intact."""

        async def check(s: Storage) -> None:
            big = memoryview(bytes(range(256)) * 16384)
            await s.put_many("ks", [Document("empty", _ts(1), b""), Document("big", _ts(2), big)])
            empty = await s.get("ks", "empty")
            assert empty is not None and bytes(empty.value) == b""
            assert bytes((await s.get("ks", "big")).value) == big  # type: ignore[union-attr]

        self._check(tmp_path, check)

    def test_reopen_keeps_documents(self, tmp_path: Path) -> None:
        """(Durable storages) documents and tombstones written before a close are there after reopening."""
        if not self.is_durable:
            import pytest  # the suite only ever runs under pytest; the package itself does not depend on it

            pytest.skip("the storage is not durable")

        async def write(s: Storage) -> None:
            await s.put_many("ks", [Document("a", _ts(1), b"1"), Document("b", _ts(2), b"2")])
            await s.mark_tombstone("ks", "b", _ts(3))

        async def read(s: Storage) -> None:
            assert (await s.get("ks", "a")) == Document("a", _ts(1), b"1")
            assert sorted((k, d) for k, _, d in await s.iter_metadata("ks")) == [("a", False), ("b", True)]

        self._check(tmp_path, write)
        self._check(tmp_path, read)
