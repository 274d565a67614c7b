"""Where replicated documents live: the ``Storage`` protocol and the in-memory implementation.

A keyspace is a named set of documents; a document is ``(key, timestamp, value)`` where the key is ``str`` or
``bytes`` and the value is bytes-like, or a tombstone (``value is None``) that remembers when the key was deleted.
The protocol follows datacake's ``Storage`` trait; every implementation must pass the suite in
:mod:`zactor.services.replication.testing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from zactor.errors import ActorError
from zactor.services.clock.hlc import HLCTimestamp

__all__ = ["Key", "Document", "Metadata", "Storage", "StorageError", "MemoryStorage", "check_key"]

Key = str | bytes
Value = bytes | bytearray | memoryview
"""What a store accepts as a value."""
StoredValue = bytes | memoryview
"""What a store returns as a value: ``bytes`` from storage, or a ``memoryview`` over a received frame for a large
value read from another replica."""


def check_key(key: Any) -> Key:
    """Return ``key`` when it is a ``str`` or ``bytes`` document key.

    Raises:
        TypeError: any other type.
    """
    if type(key) is not str and type(key) is not bytes:
        raise TypeError(f"a document key must be str or bytes, not {type(key).__name__}")
    return key


class Document(NamedTuple):
    """One stored document: a named tuple, so a batch of them is built and unpacked at C speed.

    Attributes:
        key: the document key (``str`` or ``bytes``).
        ts: the HLC timestamp of the write.
        value: the bytes-like value (``None`` only in metadata of tombstones).
    """

    key: Key
    ts: HLCTimestamp
    value: Any


Metadata = tuple[Key, HLCTimestamp, bool]
"""``(key, timestamp, is_tombstone)``: one row of :meth:`Storage.iter_metadata`."""


class StorageError(ActorError):
    """The storage cannot do what was asked (corrupt file, disk full, read-only database, ...).

    Attributes:
        path: the file concerned ("" for in-memory storage).
        reason: what went wrong.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or 'storage'}: {reason}")
        self.path = path
        self.reason = reason


@runtime_checkable
class Storage(Protocol):
    """The storage a :class:`~zactor.services.replication.store.ReplicatedStore` keeps its documents in.

    Every method is a coroutine and must not block the event loop. A write of a key replaces its previous document or
    tombstone; a tombstone of an unknown key is still recorded.
    """

    async def keyspaces(self) -> list[str]:
        """Names of the keyspaces holding at least one document or tombstone."""
        ...

    async def iter_metadata(self, keyspace: str) -> list[Metadata]:
        """``(key, ts, is_tombstone)`` of every document and tombstone of ``keyspace`` (empty when unknown)."""
        ...

    async def get(self, keyspace: str, key: Key) -> Document | None:
        """The live document, or ``None`` when absent or deleted."""
        ...

    async def get_many(self, keyspace: str, keys: Sequence[Key]) -> list[Document]:
        """The live documents among ``keys`` (absent and deleted ones are left out)."""
        ...

    async def put(self, keyspace: str, doc: Document) -> None:
        """Store ``doc``. Raises StorageError when it cannot be written durably."""
        ...

    async def put_many(self, keyspace: str, docs: Sequence[Document]) -> None:
        """Store ``docs`` in one batch (all or nothing). Raises StorageError."""
        ...

    async def mark_tombstone(self, keyspace: str, key: Key, ts: HLCTimestamp) -> None:
        """Replace ``key`` (known or not) by a tombstone at ``ts``. Raises StorageError."""
        ...

    async def mark_many_tombstones(self, keyspace: str, items: Sequence[tuple[Key, HLCTimestamp]]) -> None:
        """:meth:`mark_tombstone` for many keys in one batch. Raises StorageError."""
        ...

    async def remove_tombstones(self, keyspace: str, keys: Sequence[Key]) -> None:
        """Forget the tombstones of ``keys`` (live documents among them are kept). Raises StorageError."""
        ...

    async def close(self) -> None:
        """Release files and threads; idempotent."""
        ...


class MemoryStorage:
    """A :class:`Storage` in a dict; nothing survives the process."""

    def __init__(self) -> None:
        self._spaces: dict[str, dict[Key, tuple[HLCTimestamp, Any]]] = {}

    async def keyspaces(self) -> list[str]:
        return sorted(name for name, docs in self._spaces.items() if docs)

    async def iter_metadata(self, keyspace: str) -> list[Metadata]:
        return [(key, ts, value is None) for key, (ts, value) in self._spaces.get(keyspace, {}).items()]

    async def get(self, keyspace: str, key: Key) -> Document | None:
        found = self._spaces.get(keyspace, {}).get(key)
        if found is None or found[1] is None:
            return None
        return Document(key, found[0], found[1])

    async def get_many(self, keyspace: str, keys: Sequence[Key]) -> list[Document]:
        docs = self._spaces.get(keyspace, {})
        found = ((key, docs.get(key)) for key in keys)
        return [Document(key, entry[0], entry[1]) for key, entry in found if entry is not None and entry[1] is not None]

    async def put(self, keyspace: str, doc: Document) -> None:
        self._spaces.setdefault(keyspace, {})[doc.key] = (doc.ts, doc.value)

    async def put_many(self, keyspace: str, docs: Sequence[Document]) -> None:
        space = self._spaces.setdefault(keyspace, {})
        for doc in docs:
            space[doc.key] = (doc.ts, doc.value)

    async def mark_tombstone(self, keyspace: str, key: Key, ts: HLCTimestamp) -> None:
        self._spaces.setdefault(keyspace, {})[key] = (ts, None)

    async def mark_many_tombstones(self, keyspace: str, items: Sequence[tuple[Key, HLCTimestamp]]) -> None:
        space = self._spaces.setdefault(keyspace, {})
        for key, ts in items:
            space[key] = (ts, None)

    async def remove_tombstones(self, keyspace: str, keys: Iterable[Key]) -> None:
        space = self._spaces.get(keyspace, {})
        for key in keys:
            entry = space.get(key)
            if entry is not None and entry[1] is None:
                del space[key]

    async def close(self) -> None:
        """Nothing to release."""
