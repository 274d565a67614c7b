"""Replication: an eventually consistent key-value store on an ORSWOT CRDT with HLC timestamps.

Public names: :class:`ReplicatedStore` (the extension), :class:`MemoryStorage`, :class:`SQLiteStorage`,
:class:`LMDBStorage` (with the ``lmdb`` extra: ``pip install 'zactor[lmdb]'``), the
:class:`Storage` protocol, :class:`ConsistencyFailure`, :class:`ValueTooLarge`, :class:`StorageError`; the reusable
storage test suite is :mod:`zactor.services.replication.testing`.
"""

from zactor.services.replication.keyspace import KeyspaceHandle
from zactor.services.replication.lmdb_storage import LMDBStorage
from zactor.services.replication.sqlite import SQLiteStorage
from zactor.services.replication.storage import Document, MemoryStorage, Storage, StorageError
from zactor.services.replication.store import ConsistencyFailure, ReplicatedStore, ValueTooLarge

__all__ = [
    "ConsistencyFailure",
    "Document",
    "KeyspaceHandle",
    "LMDBStorage",
    "MemoryStorage",
    "ReplicatedStore",
    "SQLiteStorage",
    "Storage",
    "StorageError",
    "ValueTooLarge",
]
