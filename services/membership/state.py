"""Scuttlebutt state: every node's versioned key-values, digests of them, and deltas between two views.

Each node owns a map of ``key -> (value, version)``; only the owner writes it, bumping a per-node version counter,
so "what is newer" is a version comparison and merging never conflicts. A node is identified by ``(node_id,
generation)``: a restarted process has a new generation (its start time) and its state replaces the old one's.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgpack

from zactor.errors import DecodeError

__all__ = [
    "NodeKey",
    "DigestEntry",
    "KeyValue",
    "DeltaEntry",
    "NodeState",
    "parse_digest",
    "parse_delta",
    "digest_of",
    "delta_for",
]

NodeKey = tuple[str, int]
DigestEntry = tuple[str, int, int, int]
"""One node in a digest: ``(node_id, generation, heartbeat, max_version)``."""
KeyValue = tuple[str, str | list[str], int]
"""One gossiped key: ``(key, value, version)``; a value is text or a list of texts."""
DeltaEntry = tuple[str, int, int, list[KeyValue]]
"""One node in a delta: ``(node_id, generation, heartbeat, [KeyValue, ...])``."""
MAX_KEYS_PER_NODE = 10_000
_MAX_INT = 2**63


def _is_count(value: int) -> bool:
    return 0 <= value < _MAX_INT


class NodeState:
    """One node's gossiped key-values, heartbeat and highest version.

    Attributes:
        key: ``(node_id, generation)``.
        heartbeat: the owner's heartbeat counter (bumped once per gossip round).
        kvs: ``{key: (value, version)}``; values are ``str`` or ``list[str]``.
        max_version: the highest version of any key.
    """

    __slots__ = ("key", "heartbeat", "kvs", "max_version")

    def __init__(self, key: NodeKey) -> None:
        self.key = key
        self.heartbeat = 0
        self.kvs: dict[str, tuple[Any, int]] = {}
        self.max_version = 0

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        entry = self.kvs.get(key)
        return default if entry is None else entry[0]

    def set_own(self, key: str, value: Any) -> None:
        """Owner's write: store ``value`` under the next version (no-op when the value is unchanged)."""
        current = self.kvs.get(key)
        if current is not None and current[0] == value:
            return
        self.max_version += 1
        self.kvs[key] = (value, self.max_version)

    def apply(self, heartbeat: int, entries: Iterable[tuple[str, Any, int]]) -> tuple[bool, bool]:
        """Merge what a peer sent about this node.

        Returns:
            ``(heartbeat_advanced, kvs_changed)``.
        """
        changed = False
        for key, value, version in entries:
            current = self.kvs.get(key)
            if current is None or version > current[1]:
                self.kvs[key] = (value, version)
                changed = True
                if version > self.max_version:
                    self.max_version = version
        advanced = heartbeat > self.heartbeat
        if advanced:
            self.heartbeat = heartbeat
        return advanced, changed

    def entries_after(self, version: int) -> list[KeyValue]:
        """``[(key, value, version), ...]`` of the keys newer than ``version``, oldest first."""
        newer = [(k, v, ver) for k, (v, ver) in self.kvs.items() if ver > version]
        newer.sort(key=lambda e: e[2])
        return newer


def digest_of(states: Iterable[NodeState]) -> list[DigestEntry]:
    """The digest of ``states``: ``[(node_id, generation, heartbeat, max_version), ...]``."""
    return [(s.key[0], s.key[1], s.heartbeat, s.max_version) for s in states]


def parse_digest(digest: Iterable[DigestEntry]) -> dict[NodeKey, tuple[int, int]]:
    """Check the counters of a received digest (its shape was checked at decode).

    Returns:
        ``{(node_id, generation): (heartbeat, max_version)}``.

    Raises:
        DecodeError: a counter is negative or not below 2**63.
    """
    parsed: dict[NodeKey, tuple[int, int]] = {}
    for node_id, generation, heartbeat, max_version in digest:
        if not (_is_count(generation) and _is_count(heartbeat) and _is_count(max_version)):
            raise DecodeError(f"impossible counters in the digest entry of {node_id!r}")
        parsed[(node_id, generation)] = (heartbeat, max_version)
    return parsed


def parse_delta(delta: Iterable[DeltaEntry]) -> list[tuple[NodeKey, int, list[KeyValue]]]:
    """Check the counters and sizes of a received delta (its shape was checked at decode).

    Returns:
        ``[((node_id, generation), heartbeat, [(key, value, version), ...]), ...]``.

    Raises:
        DecodeError: a counter out of range, a version below 1, or more than ``MAX_KEYS_PER_NODE`` keys for one node.
    """
    parsed = []
    for node_id, generation, heartbeat, entries in delta:
        if not (_is_count(generation) and _is_count(heartbeat)) or len(entries) > MAX_KEYS_PER_NODE:
            raise DecodeError(f"impossible counters or too many keys in the delta entry of {node_id!r}")
        for key, _value, version in entries:
            if not 1 <= version < _MAX_INT:
                raise DecodeError(f"impossible version {version} of {node_id!r}/{key!r}")
        parsed.append(((node_id, generation), heartbeat, entries))
    return parsed


def delta_for(
    states: Iterable[NodeState], peer_digest: dict[NodeKey, tuple[int, int]], max_bytes: int
) -> list[DeltaEntry]:
    """What the peer lacks, stalest nodes first, cut to about ``max_bytes`` of msgpack.

    A node's entry is sent when the peer knows an older heartbeat or version of it (or nothing). Keys go oldest
    first, and a node whose newer keys do not all fit is sent with as many as fit and ends the delta: the peer's
    view of each node stays a prefix of the owner's history, which is what lets a digest's ``max_version`` say
    "I have everything up to here" (scuttlebutt's reconciliation).
    """
    candidates = []
    for state in states:
        heartbeat, version = peer_digest.get(state.key, (0, 0))
        if state.heartbeat > heartbeat or state.max_version > version:
            candidates.append((state.max_version - version, state, version))
    candidates.sort(key=lambda c: -c[0])
    delta: list[DeltaEntry] = []
    budget = max_bytes
    for _gap, state, version in candidates:
        entries = state.entries_after(version)
        sent: list[KeyValue] = []
        cost = len(msgpack.packb([state.key[0], state.key[1], state.heartbeat, sent]))
        if cost > budget:
            break
        budget -= cost
        for entry in entries:
            entry_cost = len(msgpack.packb(entry))
            if entry_cost > budget:
                break
            sent.append(entry)
            budget -= entry_cost
        delta.append((state.key[0], state.key[1], state.heartbeat, sent))
        if len(sent) < len(entries):
            break
    return delta
