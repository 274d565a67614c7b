"""The storages a node can keep its documents in, by name: what ``zactor node --storage`` chooses from."""

from __future__ import annotations

from pathlib import Path

from zactor.services.replication.lmdb_storage import LMDBStorage
from zactor.services.replication.sqlite import SQLiteStorage
from zactor.services.replication.storage import Storage

__all__ = ["STORAGES", "open_storage"]

STORAGES = ("sqlite", "lmdb")
"""The storage names :func:`open_storage` knows."""


def open_storage(kind: str, directory: Path, node_id: str) -> Storage:
    """The storage ``kind`` of node ``node_id`` in ``directory``: the SQLite file ``<node_id>.db`` or the LMDB
    environment ``<node_id>.lmdb``.

    Raises:
        ValueError: ``kind`` is not one of :data:`STORAGES`.
        StorageError: the file or environment there is corrupt, truncated or cannot be opened.
        ImportError: ``lmdb`` without the ``lmdb`` package installed.
    """
    if kind == "sqlite":
        return SQLiteStorage(directory / f"{node_id}.db")
    if kind == "lmdb":
        return LMDBStorage(directory / f"{node_id}.lmdb")
    raise ValueError(f"unknown storage {kind!r}; choose one of {', '.join(STORAGES)}")
