"""Per-range digests of an ORSWOT: how two replicas find which parts of a keyspace differ without exchanging it.

The keys of a keyspace fall into ``DIGEST_RANGES`` ranges by a stable hash of the key (CRC-32, the same in every
process, unlike Python's ``hash``). A range's digest is the 64-bit BLAKE2b hash of its ``(key, timestamp, live or
tombstone)`` entries, each encoded with the lengths of its key and node id (so the concatenation has one reading),
in sorted order: the order they are held in does not matter, and any changed timestamp, added or removed key, or key
turned tombstone changes it (up to a 2**-64 chance). One hash per range rather than one per entry: about 0.6 us per
entry. Replicas compare the ``DIGEST_RANGES`` digests
(8 bytes each) and exchange the ORSWOT state only of the ranges that differ: Dynamo's and Cassandra's Merkle-tree
repair, one level deep.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Hashable

from zactor.services.replication.crdt import ORSWOT

__all__ = ["DIGEST_RANGES", "range_of", "range_digests", "pack_digests", "unpack_digests", "differing_ranges"]

DIGEST_RANGES = 128


def _key_bytes(key: Hashable) -> bytes:
    """A key's bytes with its type, so ``1``, ``"1"`` and ``b"1"`` differ."""
    if isinstance(key, str):
        return b"s" + key.encode()
    if isinstance(key, bytes):
        return b"b" + key
    return b"i" + str(key).encode()


def range_of(key: Hashable) -> int:
    """The range (``0 <= r < DIGEST_RANGES``) of a key: stable across processes and runs."""
    return _range(_key_bytes(key))


def _range(key_bytes: bytes) -> int:
    return zlib.crc32(key_bytes) % DIGEST_RANGES


def range_digests(crdt: ORSWOT) -> list[int]:
    """The ``DIGEST_RANGES`` digests of ``crdt``'s live keys and tombstones (see the module docstring)."""
    crc32 = zlib.crc32
    ranges: list[list[bytes]] = [[] for _ in range(DIGEST_RANGES)]
    for marker, items in ((b"+", crdt.entries.items()), (b"-", crdt.dead.items())):
        for key, (physical_ms, logical, node_id) in items:
            raw = b"s" + key.encode() if type(key) is str else _key_bytes(key)
            node = node_id.encode()
            entry = b"%d %s %d %d %d %s%s" % (len(raw), raw, physical_ms, logical, len(node), node, marker)
            ranges[crc32(raw) % DIGEST_RANGES].append(entry)
    return [_hash(entries) for entries in ranges]


def _hash(entries: list[bytes]) -> int:
    if not entries:
        return 0
    entries.sort()
    return int.from_bytes(hashlib.blake2b(b"".join(entries), digest_size=8).digest(), "big")


def pack_digests(digests: list[int]) -> bytes:
    """The wire form of ``range_digests``: 8 bytes big-endian per range, ``8 * DIGEST_RANGES`` bytes."""
    return b"".join(d.to_bytes(8, "big") for d in digests)


def unpack_digests(data: bytes) -> list[int]:
    """The digests of :func:`pack_digests`' output.

    Raises:
        ValueError: ``data`` is not ``8 * DIGEST_RANGES`` bytes.
    """
    if len(data) != 8 * DIGEST_RANGES:
        raise ValueError(f"range digests are {8 * DIGEST_RANGES} bytes, got {len(data)}")
    return [int.from_bytes(data[i : i + 8], "big") for i in range(0, len(data), 8)]


def differing_ranges(local: list[int], remote: list[int]) -> list[int]:
    """The ranges whose digests differ."""
    return [r for r, (mine, theirs) in enumerate(zip(local, remote, strict=True)) if mine != theirs]
