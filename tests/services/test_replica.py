"""The replica's change log: what anti-entropy asks for with ``GetState(since=...)``."""

from __future__ import annotations

from typing import Any

import pytest

from zactor.services.clock import HLCTimestamp
from zactor.services.replication.digest import DIGEST_RANGES, range_digests
from zactor.services.replication.replica import LOCAL, REMOTE, Replica
from zactor.services.replication.storage import Document, MemoryStorage, StorageError


def _ts(ms: int) -> HLCTimestamp:
    return HLCTimestamp(ms, 0, "n1")


async def test_changed_since_gives_each_key_once_in_change_order() -> None:
    """A key changed again moves behind the later changes; ``since`` cuts at the change number, not at the key."""
    replica = Replica(MemoryStorage(), forgiveness_ms=0, epoch=1)
    await replica.put(
        "ks", [Document("a", _ts(1), b"1"), Document("b", _ts(2), b"2"), Document("c", _ts(3), b"3")], LOCAL
    )
    await replica.put("ks", [Document("a", _ts(4), b"4")], LOCAL)
    await replica.delete("ks", [("d", _ts(5))], LOCAL)
    assert replica.seq["ks"] == 5
    assert replica.changed_since("ks", 0) == ["b", "c", "a", "d"]
    assert replica.changed_since("ks", 2) == ["c", "a", "d"]
    assert replica.changed_since("ks", 3) == ["a", "d"]
    assert replica.changed_since("ks", 5) == []
    assert replica.changed_since("other", 0) == []


class _RefusingStorage(MemoryStorage):
    """Refuses writes while ``refuse``; a refused write first has the replica compute the keyspace's digests."""

    refuse = False
    replica: Replica

    async def put_many(self, keyspace: str, docs: Any) -> None:
        if self.refuse:
            self.replica.digests(keyspace)  # from the CRDT as it is while the write is pending
            raise StorageError("", "disk full")
        await super().put_many(keyspace, docs)


async def test_digests_follow_every_change_a_write_an_undone_write_and_a_purge() -> None:
    """The cached range digests are those of the CRDT after a put, a delete, a refused write (undone while a
    digest was computed from it) and a purge of tombstones."""
    storage = _RefusingStorage()
    replica = storage.replica = Replica(storage, forgiveness_ms=0, epoch=1)

    def fresh() -> list[int]:
        return range_digests(replica.crdt("ks"))

    assert replica.digests("ks") == fresh() == [0] * DIGEST_RANGES
    await replica.put("ks", [Document(f"k{i}", _ts(10 + i), b"v") for i in range(20)], LOCAL)
    assert replica.digests("ks") == fresh() != [0] * DIGEST_RANGES
    await replica.delete("ks", [("k1", _ts(100))], REMOTE)
    storage.refuse = True
    refused = replica.put("ks", [Document("new", _ts(200), b"v")], LOCAL)
    with pytest.raises(StorageError):
        await refused
    assert "new" not in replica.crdt("ks").entries and "k1" in replica.crdt("ks").dead
    assert replica.digests("ks") == fresh()
    storage.refuse = False
    await replica.put("ks", [Document("k2", _ts(300), b"v")], REMOTE)  # both sources seen past the tombstone
    assert replica.digests("ks") == fresh()
    assert await replica.purge("ks") == 1
    assert replica.digests("ks") == fresh()
