"""Per-range digests of an ORSWOT: how two replicas find which parts of a keyspace differ without exchanging it.

The keys of a keyspace fall into ``DIGEST_RANGES`` ranges by a stable hash of the key (CRC-32, the same in every
process, unlike Python's ``hash``). A range's digest is the sum, modulo 2**64, of a 64-bit BLAKE2b hash of each of its
``(key, timestamp, live or tombstone)`` entries: order does not matter, and any changed timestamp, added or removed
key, or key turned tombstone changes it (up to a 2**-64 chance). Replicas compare the ``DIGEST_RANGES`` digests
(8 bytes each) and exchange the ORSWOT state only of the ranges that differ: Dynamo's and Cassandra's Merkle-tree
repair, one level deep.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Hashable, Iterable

from zactor.services.clock.hlc import HLCTimestamp
from zactor.services.replication.crdt import ORSWOT

__all__ = ["DIGEST_RANGES", "range_of", "range_digests", "pack_digests", "unpack_digests", "differing_ranges"]

DIGEST_RANGES = 128
_MASK = (1 << 64) - 1


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


def _add(sums: list[int], items: Iterable[tuple[Hashable, HLCTimestamp]], marker: bytes) -> None:
    for key, ts in items:
        raw = _key_bytes(key)
        entry = b"%s\x00%d\x00%d\x00%s\x00%s" % (raw, ts.physical_ms, ts.logical, ts.node_id.encode(), marker)
        r = _range(raw)
        sums[r] = (sums[r] + int.from_bytes(hashlib.blake2b(entry, digest_size=8).digest(), "big")) & _MASK


def range_digests(crdt: ORSWOT) -> list[int]:
    """The ``DIGEST_RANGES`` digests of ``crdt``'s live keys and tombstones (see the module docstring)."""
    sums = [0] * DIGEST_RANGES
    _add(sums, crdt.entries.items(), b"+")
    _add(sums, crdt.dead.items(), b"-")
    return sums


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
