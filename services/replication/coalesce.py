"""Write coalescing: concurrent single-document writes bound for the same replicas travel as one ``PutMany``.

With many writes in flight, sending each one alone costs a message, a reply and two event-loop hops per replica per
document. Writes submitted during one event-loop iteration are grouped by ``(keyspace, replicas)`` and sent together
on the next; each writer still waits for, and is told, how many replicas acknowledged the batch that carried it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.replication.messages import PutMany

__all__ = ["WriteCoalescer"]

Send = Callable[[Sequence[str], Any], Awaitable[int]]


class WriteCoalescer:
    """Groups small writes per ``(keyspace, replicas)`` for one event-loop iteration.

    Args:
        send: ``await send(node_ids, msg) -> acknowledgements``, the store's fan-out.
        cluster_id: stamped on the ``PutMany`` messages.
    """

    def __init__(self, send: Send, cluster_id: str) -> None:
        self._send = send
        self._cluster_id = cluster_id
        self._groups: dict[tuple[str, tuple[str, ...]], list[tuple[list[Any], asyncio.Future[int]]]] = {}
        self._is_scheduled = False
        self._sending: set[asyncio.Task[None]] = set()

    def submit(self, keyspace: str, replicas: tuple[str, ...], doc: list[Any]) -> asyncio.Future[int]:
        """Queue ``doc`` (``[key, ts, value]``) for ``replicas``; the future gives the acknowledgement count."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        self._groups.setdefault((keyspace, replicas), []).append((doc, fut))
        if not self._is_scheduled:
            self._is_scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._is_scheduled = False
        groups, self._groups = self._groups, {}
        for (keyspace, replicas), entries in groups.items():
            task = asyncio.ensure_future(self._send_group(keyspace, replicas, entries))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send_group(
        self, keyspace: str, replicas: tuple[str, ...], entries: list[tuple[list[Any], asyncio.Future[int]]]
    ) -> None:
        msg = PutMany(cluster_id=self._cluster_id, keyspace=keyspace, docs=[doc for doc, _ in entries])
        try:
            acked = await self._send(replicas, msg)
        except BaseException as exc:
            for _, fut in entries:
                if not fut.done():
                    fut.set_exception(exc)
            raise
        for _, fut in entries:
            if not fut.done():
                fut.set_result(acked)
