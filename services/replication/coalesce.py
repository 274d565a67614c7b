"""Write coalescing: concurrent single-document writes bound for the same replicas travel as one ``PutMany``.

With many writes in flight, sending each one alone costs a message, a reply and two event-loop hops per replica per
document. Writes submitted during one event-loop iteration are grouped by ``(keyspace, replicas)`` and sent together
on the next; each writer is handed the per-replica sends of the batch that carries it and counts their
acknowledgements against its own consistency level.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from zactor.services.replication.fanout import Sends
from zactor.services.replication.messages import PutMany, WireDoc

__all__ = ["WriteCoalescer"]

Send = Callable[[Sequence[str], Any], Sends]


class WriteCoalescer:
    """Groups small writes per ``(keyspace, replicas)`` for one event-loop iteration.

    Args:
        send: ``send(node_ids, msg) -> Sends``, the store's fan-out (starts one ask per replica).
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._groups: dict[tuple[str, tuple[str, ...]], list[tuple[WireDoc, asyncio.Future[Sends]]]] = {}
        self._is_scheduled = False

    def submit(self, keyspace: str, replicas: tuple[str, ...], doc: WireDoc) -> asyncio.Future[Sends]:
        """Queue ``doc`` (``(key, ts, value)``) for ``replicas``; the future gives the sends of its batch."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Sends] = loop.create_future()
        self._groups.setdefault((keyspace, replicas), []).append((doc, fut))
        if not self._is_scheduled:
            self._is_scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._is_scheduled = False
        groups, self._groups = self._groups, {}
        for (keyspace, replicas), entries in groups.items():
            msg = PutMany(keyspace=keyspace, docs=[doc for doc, _ in entries])
            try:
                sends = self._send(replicas, msg)
            except Exception as exc:
                for _, fut in entries:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for _, fut in entries:
                if not fut.done():
                    fut.set_result(sends)
