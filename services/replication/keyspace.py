"""A keyspace handle: the replicated store's operations bound to one keyspace."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from zactor.services.replication.storage import Key, StoredValue, Value
from zactor.services.selector import Consistency

if TYPE_CHECKING:
    from zactor.services.replication.store import ReplicatedStore

__all__ = ["KeyspaceHandle"]


class KeyspaceHandle:
    """The store's operations bound to one keyspace: ``kv = store.keyspace("users"); await kv.put("ada", b"...")``."""

    def __init__(self, store: ReplicatedStore, name: str) -> None:
        self.store = store
        self.name = name

    async def put(self, key: Key, value: Value, consistency: Consistency = Consistency.QUORUM) -> None:
        """As :meth:`ReplicatedStore.put` in this keyspace."""
        await self.store.put(self.name, key, value, consistency)

    async def put_many(self, items: Iterable[tuple[Key, Value]], consistency: Consistency = Consistency.QUORUM) -> None:
        """As :meth:`ReplicatedStore.put_many` in this keyspace."""
        await self.store.put_many(self.name, items, consistency)

    async def delete(self, key: Key, consistency: Consistency = Consistency.QUORUM) -> None:
        """As :meth:`ReplicatedStore.delete` in this keyspace."""
        await self.store.delete(self.name, key, consistency)

    async def delete_many(self, keys: Iterable[Key], consistency: Consistency = Consistency.QUORUM) -> None:
        """As :meth:`ReplicatedStore.delete_many` in this keyspace."""
        await self.store.delete_many(self.name, keys, consistency)

    async def get(self, key: Key, *, consistency: Consistency | None = None) -> StoredValue | None:
        """As :meth:`ReplicatedStore.get` in this keyspace."""
        return await self.store.get(self.name, key, consistency=consistency)

    async def get_many(self, keys: Sequence[Key]) -> dict[Key, StoredValue]:
        """As :meth:`ReplicatedStore.get_many` in this keyspace."""
        return await self.store.get_many(self.name, keys)
