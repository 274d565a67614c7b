"""Replication: an eventually consistent key-value store on an ORSWOT CRDT with HLC timestamps.

Public names: :class:`ReplicatedStore` (the extension), :class:`MemoryStorage`, :class:`SQLiteStorage`, the
:class:`Storage` protocol, :class:`ConsistencyFailure`, :class:`ValueTooLarge`, :class:`StorageError`; the reusable
storage test suite is :mod:`services.replication.testing`.
"""

from services.replication.sqlite import SQLiteStorage
from services.replication.storage import Document, MemoryStorage, Storage, StorageError
from services.replication.store import ConsistencyFailure, KeyspaceHandle, ReplicatedStore, ValueTooLarge

__all__ = [
    "ConsistencyFailure",
    "Document",
    "KeyspaceHandle",
    "MemoryStorage",
    "ReplicatedStore",
    "SQLiteStorage",
    "Storage",
    "StorageError",
    "ValueTooLarge",
]
