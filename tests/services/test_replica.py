"""The replica's change log: what anti-entropy asks for with ``GetState(since=...)``."""

from __future__ import annotations

from zactor.services.clock import HLCTimestamp
from zactor.services.replication.replica import LOCAL, Replica
from zactor.services.replication.storage import Document, MemoryStorage


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
