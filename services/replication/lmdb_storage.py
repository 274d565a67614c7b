"""``LMDBStorage``: replicated documents in one LMDB environment per node (datacake-lmdb's layout, with its weak
points mended).

Two databases in one environment, as datacake-lmdb keeps per keyspace: ``meta`` maps a document to its HLC timestamp
and whether it is a tombstone, ``values`` maps a live document to its value; a put writes both, a tombstone deletes
the value and keeps the timestamp, a purge deletes the ``meta`` row. Both share one key layout instead of two
databases per keyspace (LMDB's count of named databases is fixed when the environment opens):
``len(keyspace) (2 bytes, big-endian) + keyspace (UTF-8) + type (1: bytes, 2: str) + key``, so every keyspace is one
contiguous range and, inside it, byte order is key order (LMDB compares keys as bytes). Keyspaces are listed by
jumping a cursor from one keyspace's range to the next; metadata is read by one cursor over the keyspace's range of
``meta``, never touching the values.

Writes run on one writer thread and are group-committed: the writes waiting while a transaction commits go into the
next one together, each in its own nested transaction (a refused write fails alone), and each caller returns once its
write is committed. Each commit flushes its data pages to disk (LMDB's ``sync`` on) but not the meta page
(``metasync`` off, one flush per commit instead of two): a killed process loses no committed write, and a power loss
may undo at most the latest commit without corrupting the environment, the promise SQLite's WAL mode with
``synchronous=NORMAL`` gives :class:`~zactor.services.replication.SQLiteStorage`. A full map is grown (doubled)
and the group retried; a full disk fails the group's writes with
:class:`~zactor.services.replication.storage.StorageError`. Reads run on a pool of reader threads, concurrently
(LMDB readers do not block each other or the writer).

Opening refuses, with a ``StorageError`` naming the file, a file that is not an LMDB environment or that is shorter
than its own metadata says (truncated: reading past its end would kill the process with SIGBUS).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.replication.storage import Document, Key, Metadata, StorageError

__all__ = ["LMDBStorage"]

try:
    import lmdb
except ImportError:  # the optional extra: LMDBStorage says so when made
    lmdb = None  # type: ignore[assignment]

T = TypeVar("T")

_META = struct.Struct(">QIB")  # physical_ms, logical, is_tombstone; then the node id (UTF-8)
_KEYSPACE_LEN = struct.Struct(">H")
_BYTES, _STR = b"\x01", b"\x02"
_READERS = 4


def _prefix(keyspace: str) -> bytes:
    name = keyspace.encode()
    return _KEYSPACE_LEN.pack(len(name)) + name


def _encode(prefix: bytes, key: Key) -> bytes:
    return prefix + (_STR + key.encode() if isinstance(key, str) else _BYTES + key)


def _decode_key(raw: bytes, start: int) -> Key:
    kind, body = raw[start : start + 1], raw[start + 1 :]
    return body.decode() if kind == _STR else bytes(body)


def _pack_meta(ts: HLCTimestamp, tombstone: bool) -> bytes:
    return _META.pack(ts.physical_ms, ts.logical, tombstone) + ts.node_id.encode()


def _unpack_meta(raw: bytes | memoryview) -> tuple[HLCTimestamp, bool]:
    physical_ms, logical, tombstone = _META.unpack_from(raw)
    return HLCTimestamp(physical_ms, logical, bytes(raw[_META.size :]).decode()), bool(tombstone)


def _after(prefix: bytes) -> bytes | None:
    """The smallest key above every key starting with ``prefix`` (``None``: none)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else None


class LMDBStorage:
    """A :class:`~zactor.services.replication.storage.Storage` in the LMDB environment at the directory ``path``
    (created when missing).

    Args:
        path: the environment's directory (``data.mdb`` and ``lock.mdb`` in it).
        map_size: the initial size of the memory map, in bytes (it grows by doubling when full; an existing
            environment keeps its larger size).
        sync: flush the data to disk at each commit (the default; see the module docstring); ``False`` leaves it to
            the OS: a killed process still loses nothing, a power loss may lose the latest commits.

    Raises:
        StorageError: the directory holds a file that is not an LMDB environment, or a truncated one, or cannot be
            opened; nothing is written to it.
    """

    def __init__(self, path: str | Path, map_size: int = 64 << 20, *, sync: bool = True) -> None:
        if lmdb is None:
            raise ImportError("LMDBStorage needs the lmdb package: pip install 'zactor[lmdb]'")
        self.path = str(path)
        self._sync = sync
        self._data_file = os.path.join(self.path, "data.mdb")
        self._writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="zactor-lmdb-write")
        self._readers = concurrent.futures.ThreadPoolExecutor(_READERS, thread_name_prefix="zactor-lmdb-read")
        self._pending: list[tuple[Callable[[Any], None], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._env = self._open(map_size)
        self._meta = self._env.open_db(b"meta")
        self._values = self._env.open_db(b"values")

    def _open(self, map_size: int) -> lmdb.Environment:
        if os.path.exists(self._data_file):
            self._check_file()
        try:
            os.makedirs(self.path, exist_ok=True)
            return lmdb.open(self.path, map_size=map_size, max_dbs=2, sync=self._sync, metasync=False, readahead=False)
        except lmdb.Error as exc:
            raise StorageError(self._data_file, f"cannot open the LMDB environment: {exc}") from None
        except OSError as exc:
            raise StorageError(self.path, f"cannot create the directory: {exc.strerror}") from None

    def _check_file(self) -> None:
        """Refuse a data file that is not LMDB's, or shorter than the pages its newest meta page says it holds."""
        try:
            env = lmdb.open(self.path, readonly=True, lock=False, max_dbs=2)
        except lmdb.Error as exc:
            raise StorageError(self._data_file, f"not a healthy LMDB environment: {exc}") from None
        try:
            info, page_size = env.info(), env.stat()["psize"]
        finally:
            env.close()
        needed = (info["last_pgno"] + 1) * page_size
        size = os.path.getsize(self._data_file)
        if size < needed:
            raise StorageError(self._data_file, f"truncated: {size} bytes, but its pages need {needed}")

    # ------------------------------------------------------------------------------------------------ reads

    async def _read(self, fn: Callable[[lmdb.Transaction], T]) -> T:
        def call() -> T:
            try:
                with self._env.begin(buffers=True) as txn:
                    return fn(txn)
            except lmdb.Error as exc:
                raise StorageError(self._data_file, str(exc)) from None

        return await asyncio.get_running_loop().run_in_executor(self._readers, call)

    async def keyspaces(self) -> list[str]:
        def read(txn: lmdb.Transaction) -> list[str]:
            names = []
            with txn.cursor(self._meta) as cursor:
                found = cursor.first()
                while found:
                    raw = bytes(cursor.key())
                    (length,) = _KEYSPACE_LEN.unpack_from(raw)
                    prefix = raw[: _KEYSPACE_LEN.size + length]
                    names.append(prefix[_KEYSPACE_LEN.size :].decode())
                    after = _after(prefix)
                    found = after is not None and cursor.set_range(after)
            return names

        return await self._read(read)

    async def iter_metadata(self, keyspace: str) -> list[Metadata]:
        prefix = _prefix(keyspace)
        start = len(prefix)

        def read(txn: lmdb.Transaction) -> list[Metadata]:
            rows: list[Metadata] = []
            with txn.cursor(self._meta) as cursor:
                if not cursor.set_range(prefix):
                    return rows
                for raw, meta in cursor:
                    if bytes(raw[:start]) != prefix:
                        break
                    ts, tombstone = _unpack_meta(meta)
                    rows.append((_decode_key(bytes(raw), start), ts, tombstone))
            return rows

        return await self._read(read)

    async def get(self, keyspace: str, key: Key) -> Document | None:
        found = await self.get_many(keyspace, [key])
        return found[0] if found else None

    async def get_many(self, keyspace: str, keys: Sequence[Key]) -> list[Document]:
        prefix = _prefix(keyspace)

        def read(txn: lmdb.Transaction) -> list[Document]:
            docs = []
            for key in keys:
                encoded = _encode(prefix, key)
                value, meta = txn.get(encoded, db=self._values), txn.get(encoded, db=self._meta)
                if value is not None and meta is not None:  # written together, in one transaction
                    docs.append(Document(key, _unpack_meta(meta)[0], bytes(value)))
            return docs

        return await self._read(read)

    # ------------------------------------------------------------------------------------------------ writes

    async def _write(self, fn: Callable[[Any], None]) -> None:
        """Run ``fn(txn)`` in the next group commit; returns once it is committed.

        Raises:
            StorageError: ``fn`` failed, or the group could not be committed (disk full, I/O error).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="zactor-lmdb-commit")
        await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            group, self._pending = self._pending, []
            try:
                errors = await loop.run_in_executor(self._writer, self._commit, [fn for fn, _ in group])
            except StorageError as exc:
                errors = [exc] * len(group)
            for (_, future), error in zip(group, errors, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    def _commit(self, writes: list[Callable[[Any], None]]) -> list[StorageError | None]:
        """One write transaction for the group, each write in a nested one; the map doubles when it fills."""
        while True:
            errors: list[StorageError | None] = []
            try:
                with self._env.begin(write=True) as txn:
                    for fn in writes:
                        try:
                            with self._env.begin(write=True, parent=txn) as child:
                                fn(child)
                            errors.append(None)
                        except lmdb.MapFullError:
                            raise
                        except (lmdb.Error, ValueError, TypeError) as exc:
                            errors.append(StorageError(self._data_file, f"write refused: {exc}"))
                return errors
            except lmdb.MapFullError:
                self._env.set_mapsize(self._env.info()["map_size"] * 2)
            except lmdb.Error as exc:
                raise StorageError(self._data_file, f"commit failed: {exc}") from None

    async def put(self, keyspace: str, doc: Document) -> None:
        await self.put_many(keyspace, [doc])

    async def put_many(self, keyspace: str, docs: Sequence[Document]) -> None:
        prefix = _prefix(keyspace)
        rows = [(_encode(prefix, key), _pack_meta(ts, False), value) for key, ts, value in docs]

        def write(txn: lmdb.Transaction) -> None:
            for key, meta, value in rows:
                txn.put(key, meta, db=self._meta)
                txn.put(key, value, db=self._values)

        await self._write(write)

    async def mark_tombstone(self, keyspace: str, key: Key, ts: HLCTimestamp) -> None:
        await self.mark_many_tombstones(keyspace, [(key, ts)])

    async def mark_many_tombstones(self, keyspace: str, items: Sequence[tuple[Key, HLCTimestamp]]) -> None:
        prefix = _prefix(keyspace)
        rows = [(_encode(prefix, key), _pack_meta(ts, True)) for key, ts in items]

        def write(txn: lmdb.Transaction) -> None:
            for key, meta in rows:
                txn.put(key, meta, db=self._meta)
                txn.delete(key, db=self._values)

        await self._write(write)

    async def remove_tombstones(self, keyspace: str, keys: Sequence[Key]) -> None:
        prefix = _prefix(keyspace)
        encoded = [_encode(prefix, key) for key in keys]

        def write(txn: lmdb.Transaction) -> None:
            for key in encoded:
                meta = txn.get(key, db=self._meta)
                if meta is not None and _unpack_meta(meta)[1]:
                    txn.delete(key, db=self._meta)

        await self._write(write)

    async def close(self) -> None:
        """Finish the pending writes, then close the environment; idempotent."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self._env.close)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
