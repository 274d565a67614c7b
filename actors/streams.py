"""Streamed replies: a handler written as an async generator streams its items to the caller, under credit.

The flow control is Reactive Streams' ``request(n)`` (as gRPC and HTTP/2 windows do it): the consumer grants the
producer credit for ``window`` items up front and more as it consumes them, so at most ``window`` items are in
flight or queued at the consumer, whatever their pace; a producer without credit is suspended at its ``yield``.

Over the wire (see :mod:`zactor.transport.envelope`): the caller sends a REQUEST with the :data:`STREAM` flag and
its window in the flags; the producer sends each item as an ITEM envelope with the request's id; the consumer sends
CREDIT envelopes (the flags carry how many items they grant) after consuming half its window; the stream ends with
the REPLY (nil body, or a plain handler's one reply, which is the stream's only item) or an ERROR, on the same
connection after the last ITEM, so in order. Either side stops the other: a consumer that closes its iterator (or
passes its deadline) sends CANCEL, which cancels the producing handler (its generator is closed, its ``finally``
runs); a producer that fails or is removed sends ERROR, which the consumer raises.

Between two actors of one node a :class:`LocalStream` is the whole channel: the same credit, no envelope.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from zactor.replies import RemoteAsk, Responder, as_caller_error
from zactor.transport.codec import is_message

__all__ = [
    "DEFAULT_WINDOW",
    "END",
    "MAX_WINDOW",
    "STREAM",
    "Credit",
    "credit_batch",
    "Inbox",
    "LocalStream",
    "RemoteStream",
    "pump",
    "stream_flags",
    "window_of",
]

STREAM = 1
"""The REQUEST flag bit of a streamed request."""
_WINDOW_SHIFT = 8
DEFAULT_WINDOW = 32
"""Items a consumer lets the producer send ahead, by default."""
MAX_WINDOW = 1 << 16

END: Any = object()
"""What :meth:`Inbox.next` returns once the stream has ended."""


def stream_flags(window: int) -> int:
    """The flags of a streamed REQUEST with ``window`` items of credit.

    Raises:
        ValueError: ``window`` is not within 1..65536.
    """
    if not 1 <= window <= MAX_WINDOW:
        raise ValueError(f"a stream's window is 1..{MAX_WINDOW} items, not {window}")
    return STREAM | (window << _WINDOW_SHIFT)


def credit_batch(window: int) -> int:
    """How many items a consumer takes before it grants that many again: half its window (at least 1), so the
    producer never waits a round trip while the consumer keeps up."""
    return max(window // 2, 1)


def window_of(flags: int) -> int:
    """The credit a streamed REQUEST's flags grant (at least 1, at most :data:`MAX_WINDOW`)."""
    return min(max(flags >> _WINDOW_SHIFT, 1), MAX_WINDOW)


class Credit:
    """How many more items a producer may send; :meth:`take` waits at zero."""

    __slots__ = ("left", "_waiter")

    def __init__(self, window: int) -> None:
        self.left = window
        self._waiter: asyncio.Future[None] | None = None

    def grant(self, n: int) -> None:
        """Allow ``n`` more items (a consumer's CREDIT); ``n`` is capped at :data:`MAX_WINDOW`."""
        if n <= 0:
            return
        self.left = min(self.left + n, MAX_WINDOW)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> None:
        """Use one unit of credit, waiting for a grant while there is none."""
        while self.left <= 0:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        self.left -= 1


async def pump(agen: AsyncGenerator[Any, None], reply_to: object) -> None:
    """Run a streaming handler's generator to its end, handing each item to ``reply_to`` under its credit.

    Raises:
        TypeError: ``reply_to`` is no stream (the handler was asked or told, not streamed), or an item is not a
            ``@message`` instance.
        Exception: whatever the generator raised.
    """
    put: Callable[[Any], Any] | None = getattr(reply_to, "put", None)
    try:
        if put is None:
            raise TypeError("this handler streams its reply: call it with ref.stream(...), not ask or tell")
        async for item in agen:
            if not is_message(item):
                raise TypeError(f"a stream handler yielded {type(item).__name__}; yield @message instances")
            await put(item)
    finally:
        await agen.aclose()


class RemoteStream(RemoteAsk):
    """A streamed request from another node or client: its ask (it equals the :class:`RemoteAsk` of the same peer
    and request id, so a CANCEL finds it) and its credit.

    Args:
        peer, request_id, respond: as :class:`RemoteAsk`.
        window: the credit the request granted.
        send_item: sends one ITEM envelope (``await send_item(stream, item)``).
        table: the node's open streams by ``(peer, request_id)``; the stream leaves it when it ends.
    """

    credit: Credit
    _send_item: Callable[[RemoteStream, Any], Awaitable[None]]
    _table: dict[tuple[bytes, int], RemoteStream]

    def __new__(
        cls,
        peer: bytes,
        request_id: int,
        respond: Responder,
        window: int,
        send_item: Callable[[RemoteStream, Any], Awaitable[None]],
        table: dict[tuple[bytes, int], RemoteStream],
    ) -> RemoteStream:
        self = tuple.__new__(cls, (peer, request_id, respond))
        self.credit = Credit(window)
        self._send_item = send_item
        self._table = table
        table[(peer, request_id)] = self
        return self

    async def put(self, item: Any) -> None:
        """Send ``item`` once credit allows."""
        await self.credit.take()
        await self._send_item(self, item)

    def answer(self, result: Any, error: BaseException | None, actor: str) -> None:
        """End the stream: the REPLY (``result``: ``None``, or a plain handler's one reply) or the ERROR."""
        self._table.pop((self.peer, self.request_id), None)
        self.respond(self, result, error, actor)


class Inbox:
    """The consumer's end of one stream: items in arrival order, then the end or the error.

    Args:
        on_consumed: called with the number of items taken so far each time one is taken (credit is granted from it).
        limit: the most items that may wait unread (the credit granted): a producer that sends more breaks the
            protocol, and :meth:`push` refuses the item.
    """

    __slots__ = ("_items", "_waiter", "_ended", "_error", "_on_consumed", "_taken", "_limit")

    def __init__(self, on_consumed: Callable[[int], None], limit: int = MAX_WINDOW) -> None:
        self._limit = limit
        self._items: collections.deque[Any] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._error: BaseException | None = None
        self._on_consumed = on_consumed
        self._taken = 0

    @property
    def done(self) -> bool:
        """The end or an error has arrived."""
        return self._ended

    def push(self, item: Any) -> bool:
        """One more item (ignored after the end); False, the item dropped, when ``limit`` items wait unread."""
        if self._ended:
            return True
        if len(self._items) >= self._limit:
            return False
        self._items.append(item)
        self._wake()
        return True

    def end(self, error: BaseException | None = None) -> None:
        """The stream ended, by ``error`` when given; later items and ends are ignored."""
        if not self._ended:
            self._ended, self._error = True, error
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self, timeout_s: float) -> Any:
        """The next item, or :data:`END`.

        Raises:
            TimeoutError: nothing arrived for ``timeout_s`` seconds.
            Exception: the error the stream ended with (after every item that came before it).
        """
        while not self._items:
            if self._ended:
                if self._error is not None:
                    raise self._error
                return END
            self._waiter = asyncio.get_running_loop().create_future()
            async with asyncio.timeout(timeout_s):
                await self._waiter
        self._taken += 1
        self._on_consumed(self._taken)
        return self._items.popleft()


class LocalStream:
    """A stream between an actor and a caller of the same node: the producer's reply-to and the consumer's
    :class:`Inbox` in one object, with credit granted item by item.

    Args:
        window: the credit.
        node_id: this node's id (named in the errors the consumer gets).
        convert: applied to each item and reply (through encode and decode with ``serialize_local``).
    """

    __slots__ = ("inbox", "credit", "node_id", "convert")
    peer = None

    def __init__(self, window: int, node_id: str, convert: Callable[[Any], Any]) -> None:
        self.credit = Credit(window)
        self.inbox = Inbox(lambda _taken: self.credit.grant(1), window)
        self.node_id = node_id
        self.convert = convert

    async def put(self, item: Any) -> None:
        """Queue ``item`` for the consumer once credit allows."""
        await self.credit.take()
        self.inbox.push(self.convert(item))

    def answer(self, result: Any, error: BaseException | None, actor: str) -> None:
        """End the stream (a plain handler's reply first, as the stream's only item)."""
        if error is not None:
            self.inbox.end(as_caller_error(error, self.node_id, actor))
            return
        if result is not None:
            self.inbox.push(self.convert(result))
        self.inbox.end()
