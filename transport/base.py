"""The interface every zactor transport implements, and what both implementations share.

A transport moves envelopes (lists of frames) between nodes and knows nothing about actors:

- inbound (the ROUTER side): ``on_request(peer, frames)`` is called for every envelope received, where ``peer`` is
  the opaque routing identity (``bytes``) to answer to and ``frames`` is ``[head, *buffers]``;
- outbound (the DEALER side): :meth:`Transport.send` sends to an endpoint, and ``on_reply(endpoint, frames)`` is
  called for every envelope that comes back on that connection;
- :meth:`Transport.reply` sends an envelope back to a ``peer`` seen inbound.

Callbacks run on the event loop, synchronously, once per envelope; they must not block and must not raise (an
exception is logged and counted, and the transport goes on). Received frames are ``bytes`` for the head (the first
frame), and ``bytes``-like objects for the buffers (a ``memoryview`` over the received frame on ZeroMQ: no copy).
"""

from __future__ import annotations

import abc
import asyncio
import collections
import logging
from collections.abc import Callable, Sequence
from typing import Any

from zactor.transport.errors import HandshakeFailed, MessageTooLarge, TransportClosed

__all__ = ["Transport", "RequestHandler", "ReplyHandler", "DEFAULT_MAX_MESSAGE_BYTES", "check_size"]

log = logging.getLogger("zactor.transport")

RequestHandler = Callable[[bytes, list[Any]], None]
ReplyHandler = Callable[[str, list[Any]], None]

DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def check_size(frames: Sequence[Any], limit_bytes: int) -> int:
    """Refuse an outbound envelope larger than ``limit_bytes`` (all frames together); returns its size in bytes.

    Raises:
        MessageTooLarge: the frames add up to more than ``limit_bytes`` bytes.
    """
    size = 0
    for frame in frames:
        size += len(frame) if type(frame) is not memoryview else frame.nbytes
    if size > limit_bytes:
        raise MessageTooLarge(size, limit_bytes)
    return size


def _not_started(_source: object, _frames: list[Any]) -> None:
    """The callback of a transport not started yet: nothing can arrive then."""


class Transport(abc.ABC):
    """Moves envelopes between nodes; see the module docstring for the callback contract.

    Args:
        max_message_bytes: the largest envelope sent, in bytes (all frames together).

    Attributes:
        stats: counters by event name (``envelopes_in``/``_out``, ``bytes_in``/``_out``, ``dropped_unroutable``,
            ``callback_errors``, ...), for logs, metrics and tests.
        on_handshake_failed: called as ``on_handshake_failed(endpoint, error)`` when the security handshake of an
            outbound connection fails (the node fails the asks waiting on it at once).
        on_peer_gone: called as ``on_peer_gone(peer)`` when the inbound connection of ``peer`` (a routing identity
            seen by ``on_request``) closes: the peer process died or closed its socket, or the ZMTP heartbeat timed
            out. Nothing more will arrive from that identity, and nothing sent to it will be read.
    """

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self._stats: collections.Counter[str] = collections.Counter()
        self._envelopes_in = self._bytes_in = self._envelopes_out = self._bytes_out = 0  # folded into stats when read
        self.max_message_bytes = max_message_bytes
        self._on_request: RequestHandler = _not_started
        self._on_reply: ReplyHandler = _not_started
        self._address: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_handshake_failed: Callable[[str, HandshakeFailed], None] | None = None
        self.on_peer_gone: Callable[[bytes], None] | None = None

    @property
    def address(self) -> str:
        """The bound endpoint (with the real port when bound to port 0).

        Raises:
            TransportClosed: the transport is not started.
        """
        if self._address is None:
            raise TransportClosed("transport is not started")
        return self._address

    @abc.abstractmethod
    async def start(self, bind: str, on_request: RequestHandler, on_reply: ReplyHandler) -> str:
        """Bind the inbound side and start delivering envelopes to the callbacks.

        Args:
            bind: the endpoint to bind, e.g. ``tcp://127.0.0.1:0`` (port 0: any free port).
            on_request: called as ``on_request(peer, frames)`` for each inbound envelope.
            on_reply: called as ``on_reply(endpoint, frames)`` for each envelope received on an outbound connection.

        Returns:
            The bound endpoint.

        Raises:
            OSError: the endpoint cannot be bound (in use, bad address).
        """

    @abc.abstractmethod
    async def send(self, endpoint: str, frames: Sequence[Any], timeout_s: float) -> None:
        """Send ``[head, *buffers]`` to the node bound at ``endpoint``, connecting on first use.

        Buffers are sent without copying: the caller must not mutate them afterwards.

        Raises:
            MessageTooLarge: the envelope exceeds ``max_message_bytes``.
            SendTimeout: the connection stayed at its high-water mark for ``timeout_s`` seconds.
            TransportClosed: the transport is closed, or its socket failed.
            ValueError: ``endpoint`` is not an address the transport can connect to.
        """

    @abc.abstractmethod
    def send_nowait(self, endpoint: str, frames: Sequence[Any]) -> bool:
        """Send ``[head, *buffers]`` to the node bound at ``endpoint`` if it can go without waiting (connecting on
        first use); for what is worth sending only at once, such as a CANCEL. Queued envelopes are still flushed
        when the transport closes, within its linger.

        Returns:
            True when sent or queued; False when the connection is at its high-water mark (nothing was sent).

        Raises:
            MessageTooLarge: the envelope exceeds ``max_message_bytes``.
            TransportClosed: the transport is closed.
            ValueError: ``endpoint`` is not an address the transport can connect to.
        """

    def reply_room(self, peer: bytes, nbytes: int) -> bool:
        """Whether a reply of ``nbytes`` bytes to the inbound ``peer`` fits its byte budget now (:meth:`reply` would
        not drop it for the budget); a producer that can wait, as a stream's, waits for room instead."""
        return True

    @abc.abstractmethod
    def reply(self, peer: bytes, frames: Sequence[Any], timeout_s: float) -> bool:
        """Send ``[head, *buffers]`` back to the inbound ``peer`` and return at once, never waiting on the
        peer: an envelope that finds no room waits in the peer's bounded outbox for up to ``timeout_s`` seconds (then
        is dropped and counted), while the caller goes on.

        Returns:
            True when sent or queued; False when the peer is gone or its unread replies fill its byte budget (the
            envelope is dropped, logged and counted).

        Raises:
            MessageTooLarge: the envelope exceeds ``max_message_bytes``.
            TransportClosed: the transport is closed.
        """

    def principal_of(self, peer: bytes) -> str | None:
        """The name of the key the inbound ``peer`` authenticated with (ZAP), or ``None``: an unauthenticated
        transport, or a peer it does not know (yet, or any more)."""
        return None

    @abc.abstractmethod
    def forget(self, endpoint: str) -> None:
        """Close the outbound connection to ``endpoint``, if any; what it had queued is discarded."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop delivering, close every socket and release the port. Idempotent; returns promptly."""

    def _handshake_failed(self, endpoint: str, error: HandshakeFailed) -> None:
        """Report a failed security handshake on the outbound connection to ``endpoint`` (see
        :attr:`on_handshake_failed`)."""
        if self.on_handshake_failed is not None:
            self.on_handshake_failed(endpoint, error)

    def _gone(self, peer: bytes) -> None:
        """Report that the inbound connection of ``peer`` closed (see :attr:`on_peer_gone`)."""
        if self.on_peer_gone is not None:
            try:
                self.on_peer_gone(peer)
            except Exception:
                self.stats["callback_errors"] += 1
                log.exception("peer-gone handler failed")

    @property
    def stats(self) -> collections.Counter[str]:
        """The counters (see the class docstring). Envelopes and bytes are counted in plain integers on the way in
        and out, a third of the cost of a ``Counter`` increment, and folded in here."""
        stats = self._stats
        if self._envelopes_in or self._envelopes_out:
            stats["envelopes_in"] += self._envelopes_in
            stats["bytes_in"] += self._bytes_in
            stats["envelopes_out"] += self._envelopes_out
            stats["bytes_out"] += self._bytes_out
            self._envelopes_in = self._bytes_in = self._envelopes_out = self._bytes_out = 0
        return stats

    def _outgoing(self, frames: Sequence[Any]) -> int:
        """Check an outgoing envelope's size and count it (``envelopes_out``, ``bytes_out``); returns its bytes.

        Raises:
            MessageTooLarge: it exceeds ``max_message_bytes``.
        """
        nbytes = check_size(frames, self.max_message_bytes)
        self._envelopes_out += 1
        self._bytes_out += nbytes
        return nbytes

    def _deliver_request(self, peer: bytes, frames: list[Any]) -> None:
        self._envelopes_in += 1
        self._bytes_in += sum(map(len, frames))
        try:
            self._on_request(peer, frames)
        except Exception:
            self.stats["callback_errors"] += 1
            log.exception("inbound envelope handler failed")

    def _deliver_reply(self, endpoint: str, frames: list[Any]) -> None:
        self._envelopes_in += 1
        self._bytes_in += sum(map(len, frames))
        try:
            self._on_reply(endpoint, frames)
        except Exception:
            self.stats["callback_errors"] += 1
            log.exception("reply handler failed")
