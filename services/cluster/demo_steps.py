"""Building blocks of ``zactor demo``: the data set, a writer that keeps going while nodes die, and verification."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import sysconfig
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zactor.errors import ActorError
from zactor.node import Node
from zactor.services.replication.frontend import KV_ACTOR, KvDigest, KvKeys, KvPutMany

__all__ = ["stdlib_files", "Progress", "Writer", "digests_of", "count_keys", "sha256_of"]


def stdlib_files() -> list[tuple[str, bytes]]:
    """Every ``.py`` file of the running Python's standard library (site-packages excluded), as
    ``(relative path, content)`` sorted by path."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts and relative.parts[0] in ("site-packages", "dist-packages"):
            continue
        try:
            files.append((relative.as_posix(), path.read_bytes()))
        except OSError:
            continue
    return files


class Progress:
    """A single status line rewritten in place (on a terminal) or printed at the end (otherwise)."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self._is_tty = sys.stdout.isatty()
        self._last = 0.0

    def update(self, done: int) -> None:
        """Show ``done`` of ``total`` (on a terminal, at most 10 times a second)."""
        now = time.monotonic()
        if self._is_tty and (now - self._last > 0.1 or done >= self.total):
            print(f"\r   {self.label}: {done:,}/{self.total:,}   ", end="", flush=True)
            self._last = now

    def finish(self, text: str) -> None:
        """Replace the status line by its final ``text``."""
        if self._is_tty:
            print("\r", end="")
        print(f"   {self.label}: {text}" + " " * 10, flush=True)


class Writer:
    """Writes documents in batches through the ``zactor.kv`` actors of the live nodes, several batches in flight.

    A batch whose node does not answer (killed) is retried on another node, so no document is lost.

    Args:
        node: the demo's own node (a member of the cluster).
        addresses: the kv endpoints to spread batches over; :meth:`drop` removes a dead one.
        keyspace: where to write.
        consistency: the level, by name.
        batch: documents per batch.
        in_flight: batches in flight at once.
    """

    def __init__(
        self,
        node: Node,
        addresses: list[str],
        keyspace: str,
        consistency: str,
        batch: int = 64,
        in_flight: int = 4,
    ) -> None:
        self._node = node
        self.addresses = list(addresses)
        self._keyspace = keyspace
        self._consistency = consistency
        self._batch = batch
        self._in_flight = in_flight
        self.retries = 0

    def drop(self, address: str) -> None:
        """Stop sending to ``address``."""
        if address in self.addresses and len(self.addresses) > 1:
            self.addresses.remove(address)

    async def write(self, docs: Sequence[tuple[str, bytes]], progress: Progress) -> float:
        """Write ``docs`` (``(key, value)`` pairs); returns the seconds it took.

        Raises:
            RuntimeError: a batch failed on every node, three attempts each.
        """
        batches = [docs[i : i + self._batch] for i in range(0, len(docs), self._batch)]
        queue: asyncio.Queue[Sequence[tuple[str, bytes]]] = asyncio.Queue()
        for batch in batches:
            queue.put_nowait(batch)
        done = 0
        start = time.monotonic()

        async def worker(index: int) -> None:
            nonlocal done
            while not queue.empty():
                batch = queue.get_nowait()
                for attempt in range(len(self.addresses) * 3 + 1):
                    address = self.addresses[(index + attempt) % len(self.addresses)]
                    msg = KvPutMany(keyspace=self._keyspace, items=list(batch), consistency=self._consistency)
                    try:
                        await self._node.ref(KV_ACTOR, address=address).ask(msg, timeout_s=3.0)
                        break
                    except ActorError:
                        self.retries += 1
                        if attempt >= 2:
                            self.drop(address)
                else:
                    raise RuntimeError("a batch could not be written on any node")
                done += len(batch)
                progress.update(done)

        await asyncio.gather(*(worker(i) for i in range(self._in_flight)))
        return time.monotonic() - start


async def digests_of(node: Node, address: str, keyspace: str) -> dict[Any, str]:
    """``{key: sha256 hex}`` of every live document of ``keyspace`` on the node at ``address``."""
    reply = await node.ref(KV_ACTOR, address=address).ask(KvDigest(keyspace=keyspace), timeout_s=30.0)
    return reply.digests


async def count_keys(node: Node, address: str, keyspace: str) -> int:
    """How many live keys ``keyspace`` has on the node at ``address`` (-1 when it does not answer)."""
    try:
        reply = await node.ref(KV_ACTOR, address=address).ask(KvKeys(keyspace=keyspace), timeout_s=2.0)
    except ActorError:
        return -1
    return len(reply.keys)


def sha256_of(docs: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """``{key: sha256 hex}`` of local documents."""
    return {key: hashlib.sha256(value).hexdigest() for key, value in docs}
