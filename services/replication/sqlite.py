"""``SQLiteStorage``: replicated documents in one SQLite file per node (datacake-sqlite's layout).

One table, ``zactor_documents(keyspace, key, physical_ms, logical, node_id, value)``, keyed by ``(keyspace, key)``
(a rowid table: values are usually far larger than the 1/20 of a page where WITHOUT ROWID pays off);
``value`` is NULL for a tombstone; keys keep their type (TEXT for ``str``, BLOB for ``bytes``). The database runs in
WAL mode with ``synchronous=NORMAL``. Writes are group-committed: the writes waiting while a transaction runs go into
the next one together, each under its own savepoint (a refused write fails alone), and each caller returns once its
write is committed. Every statement runs on one dedicated worker thread, so the event loop never blocks on disk.

Opening checks the file first (``PRAGMA quick_check``) and refuses a corrupt or foreign file with a
:class:`~zactor.services.replication.storage.StorageError` naming it, before writing anything to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.replication.storage import Document, Key, Metadata, StorageError

__all__ = ["SQLiteStorage"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS zactor_documents (
    keyspace TEXT NOT NULL,
    key NOT NULL,
    physical_ms INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    node_id TEXT NOT NULL,
    value BLOB,
    PRIMARY KEY (keyspace, key)
)
"""
_UPSERT = (
    "INSERT INTO zactor_documents (keyspace, key, physical_ms, logical, node_id, value) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (keyspace, key) DO UPDATE SET physical_ms = excluded.physical_ms, logical = excluded.logical, "
    "node_id = excluded.node_id, value = excluded.value"
)


class SQLiteStorage:
    """A :class:`~zactor.services.replication.storage.Storage` in the SQLite file at ``path`` (created when missing).

    Args:
        path: the database file.

    Raises:
        StorageError: the file exists but is not a healthy SQLite database (corrupt, truncated, foreign), or
            cannot be opened; the file is left untouched.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="zactor-sqlite")
        self._queue: list[tuple[str, Sequence[tuple[Any, ...]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        try:
            self._db = self._pool.submit(self._open).result()
        except BaseException:
            self._pool.shutdown(wait=False)
            raise

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(self.path, f"cannot open: {exc}") from None
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise StorageError(self.path, f"the database is corrupt: {verdict}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            db.close()
            raise StorageError(self.path, f"not a usable SQLite database: {exc}") from None
        except StorageError:
            db.close()
            raise
        return db

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            try:
                return fn(self._db)
            except Exception as exc:  # sqlite3's errors, and a value it cannot bind (OverflowError, TypeError, ...)
                if self._db.in_transaction:
                    self._db.rollback()
                raise StorageError(self.path, _describe(exc)) from None

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def _write(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Queue a write and wait until it is committed; concurrent writes share one transaction (group commit)."""
        if self._pool is None:
            raise StorageError(self.path, "the storage is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((sql, rows, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            group, self._queue = self._queue, []
            try:
                errors = await loop.run_in_executor(self._pool, self._commit, [(sql, rows) for sql, rows, _ in group])
            except Exception as exc:  # the worker itself failed: fail this group, keep serving the next
                errors = [StorageError(self.path, _describe(exc))] * len(group)
            for (_, _, fut), error in zip(group, errors, strict=True):
                if fut.done():
                    continue
                if error is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(error)

    def _commit(self, items: list[tuple[str, Sequence[tuple[Any, ...]]]]) -> list[StorageError | None]:
        """One transaction for the whole group; a savepoint per write, so one refused write fails alone."""
        db = self._db
        results: list[StorageError | None] = []
        try:
            db.execute("BEGIN")
            for sql, rows in items:
                db.execute("SAVEPOINT one_write")
                try:
                    db.executemany(sql, rows)
                    results.append(None)
                except Exception as exc:  # sqlite3's errors, or a value it cannot bind: this write fails alone
                    db.execute("ROLLBACK TO one_write")
                    results.append(StorageError(self.path, _describe(exc)))
                db.execute("RELEASE one_write")
            db.execute("COMMIT")
        except Exception as exc:
            if db.in_transaction:
                db.rollback()
            return [StorageError(self.path, _describe(exc))] * len(items)
        return results

    async def keyspaces(self) -> list[str]:
        rows = await self._run(lambda db: db.execute("SELECT DISTINCT keyspace FROM zactor_documents").fetchall())
        return sorted(r[0] for r in rows)

    async def iter_metadata(self, keyspace: str) -> list[Metadata]:
        sql = "SELECT key, physical_ms, logical, node_id, value IS NULL FROM zactor_documents WHERE keyspace = ?"
        rows = await self._run(lambda db: db.execute(sql, (keyspace,)).fetchall())
        return [(key, HLCTimestamp(ms, logical, node), bool(dead)) for key, ms, logical, node, dead in rows]

    async def get(self, keyspace: str, key: Key) -> Document | None:
        docs = await self.get_many(keyspace, [key])
        return docs[0] if docs else None

    async def get_many(self, keyspace: str, keys: Sequence[Key]) -> list[Document]:
        def read(db: sqlite3.Connection) -> list[Document]:
            found = []
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                sql = (
                    "SELECT key, physical_ms, logical, node_id, value FROM zactor_documents "
                    f"WHERE keyspace = ? AND key IN ({marks}) AND value IS NOT NULL"
                )
                found += [
                    Document(k, HLCTimestamp(ms, lg, n), v) for k, ms, lg, n, v in db.execute(sql, (keyspace, *chunk))
                ]
            return found

        return await self._run(read)

    async def put(self, keyspace: str, doc: Document) -> None:
        await self.put_many(keyspace, [doc])

    async def put_many(self, keyspace: str, docs: Sequence[Document]) -> None:
        rows = [(keyspace, key, ms, logical, node_id, value) for key, (ms, logical, node_id), value in docs]
        await self._write(_UPSERT, rows)

    async def mark_tombstone(self, keyspace: str, key: Key, ts: HLCTimestamp) -> None:
        await self.mark_many_tombstones(keyspace, [(key, ts)])

    async def mark_many_tombstones(self, keyspace: str, items: Sequence[tuple[Key, HLCTimestamp]]) -> None:
        rows = [(keyspace, key, ts.physical_ms, ts.logical, ts.node_id, None) for key, ts in items]
        await self._write(_UPSERT, rows)

    async def remove_tombstones(self, keyspace: str, keys: Sequence[Key]) -> None:
        sql = "DELETE FROM zactor_documents WHERE keyspace = ? AND key = ? AND value IS NULL"
        await self._write(sql, [(keyspace, key) for key in keys])

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._pool is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._db.close)
            self._pool.shutdown(wait=True)
            self._pool = None  # type: ignore[assignment]


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, sqlite3.Error) else f"{type(exc).__name__}: {exc}"
