"""Outbound calls of one node: asks and tells, their deadlines, and matching replies to pending asks.

Every ask gets a request id and an entry in the pending map until its reply, its deadline or a failure; replies
that come back through the DEALER of an endpoint are matched by request id (and must come from the endpoint the
request went to). A local ask goes straight into the mailbox, never through the transport; with
``NodeConfig.serialize_local`` its message and reply are encoded and decoded on the way, as a remote ask's are.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zactor.deadlines import Deadlines
from zactor.errors import (
    ActorNotFound,
    ClockOffsetError,
    DecodeError,
    NodeUnavailable,
    RequestTimeout,
    SendTimeout,
    TransportClosed,
)
from zactor.ref import receiving
from zactor.replies import LocalAsk
from zactor.streams import Inbox, LocalStream, credit_batch, stream_flags
from zactor.transport.codec import decode_body, encode_body
from zactor.transport.envelope import Header, Kind, open_body, pack, unpack
from zactor.wire import open_reply

if TYPE_CHECKING:
    from zactor.node import Node

__all__ = ["Calls"]

log = logging.getLogger("zactor.node")


class Calls:
    """The pending asks of one node and how they end.

    Args:
        node: the owning node (its registry, transport, clock, config and stats are used).
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        # request id -> (future, endpoint or None for a local ask, actor name, timeout in s)
        self._pending: dict[int, tuple[asyncio.Future[Any], str | None, str, float]] = {}
        # request id -> (inbox, endpoint, actor name) of each streamed reply being received
        self._streams: dict[int, tuple[Inbox, str, str]] = {}
        self._request_ids = itertools.count(1)
        self._deadlines: Deadlines | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        """Start timing deadlines on the running loop."""
        self._deadlines = Deadlines(asyncio.get_running_loop(), self._pending, self._expire)

    def close(self, error: BaseException) -> None:
        """Fail every pending ask with ``error``, tell the nodes serving the remote ones that they are abandoned
        (a CANCEL each, flushed within the transport's linger as it closes), and stop timing deadlines."""
        for request_id, (fut, endpoint, name, _) in list(self._pending.items()):
            if not fut.done():
                fut.set_exception(error)
                if endpoint is not None:
                    self._send_cancel(endpoint, name, request_id)
        streams, self._streams = self._streams, {}
        for request_id, (inbox, endpoint, name) in streams.items():
            inbox.end(error)
            self._send_cancel(endpoint, name, request_id)
        if self._deadlines is not None:
            self._deadlines.close()
            self._deadlines = None

    def fail_endpoint(self, endpoint: str, error: BaseException | Callable[[str], BaseException]) -> None:
        """Fail the asks waiting on ``endpoint`` with ``error``, or with ``error(actor name)`` for each."""
        error_for = (lambda _name: error) if isinstance(error, BaseException) else error
        for fut, pending_endpoint, name, _ in list(self._pending.values()):
            if pending_endpoint == endpoint and not fut.done():
                fut.set_exception(error_for(name))
        for request_id, (inbox, stream_endpoint, name) in list(self._streams.items()):
            if stream_endpoint == endpoint:
                del self._streams[request_id]
                inbox.end(error_for(name))

    def _started_deadlines(self) -> Deadlines:
        if self._deadlines is None:
            raise NodeUnavailable(self._node.node_id, "this node is not started")
        return self._deadlines

    def _expire(self, request_id: int) -> None:
        fut, _endpoint, name, timeout_s = self._pending[request_id]
        if not fut.done():
            fut.set_exception(RequestTimeout(name, timeout_s))

    async def ask_local(self, name: str, msg: Any, timeout_s: float) -> Any:
        """Ask an actor of this node; see :meth:`zactor.ref.ActorRef.ask`."""
        mailbox = self._node.registry.get(name)
        if mailbox is None:
            raise ActorNotFound(name, self._node.node_id)
        deadlines = self._started_deadlines()
        serialize = self._node.config.serialize_local
        fut = deadlines.loop.create_future()
        ask = LocalAsk(fut, self._node.node_id)
        mailbox.put(self._through_wire(msg) if serialize else msg, ask)
        request_id = next(self._request_ids)
        self._pending[request_id] = (fut, None, name, timeout_s)
        deadlines.add(timeout_s, request_id)
        try:
            reply = await fut
            return self._through_wire(reply) if serialize else reply
        except (RequestTimeout, asyncio.CancelledError):
            mailbox.cancel(ask)
            raise
        finally:
            del self._pending[request_id]

    def tell_local(self, name: str, msg: Any) -> None:
        """Tell an actor of this node; see :meth:`zactor.ref.ActorRef.tell`."""
        mailbox = self._node.registry.get(name)
        if mailbox is None:
            raise ActorNotFound(name, self._node.node_id)
        mailbox.put(self._through_wire(msg) if self._node.config.serialize_local else msg, None)

    def _through_wire(self, msg: Any) -> Any:
        """``msg`` as a remote node would receive it: encoded, then decoded and checked (large fields as
        ``memoryview``).

        Raises:
            TypeError: ``msg`` is not a message, or holds a value the wire cannot carry.
            DecodeError: a field does not fit its annotation.
        """
        type_name, body, buffers = encode_body(msg, self._node.config.copy_threshold_bytes)
        return receiving(self._node, decode_body, type_name, body, [memoryview(b) for b in buffers])

    async def ask_remote(self, address: str, name: str, msg: Any, timeout_s: float) -> Any:
        """Ask an actor of the node at ``address``; see :meth:`zactor.ref.ActorRef.ask`."""
        node = self._node
        deadlines = self._started_deadlines()
        request_id = next(self._request_ids)
        frames = self._envelope(Kind.REQUEST, request_id, name, msg)
        fut = deadlines.loop.create_future()
        self._pending[request_id] = (fut, address, name, timeout_s)
        deadlines.add(timeout_s, request_id)
        try:
            await node.transport.send(address, frames, timeout_s)
            return await fut
        except SendTimeout:
            raise RequestTimeout(name, timeout_s) from None
        except (RequestTimeout, asyncio.CancelledError):
            self._send_cancel(address, name, request_id)
            raise
        finally:
            del self._pending[request_id]

    def _send_cancel(self, address: str, name: str, request_id: int) -> None:
        """Tell the node at ``address`` that the ask ``request_id`` is abandoned: a CANCEL envelope, sent at once or
        not at all (at the high-water mark, or with the transport closed, it is counted as ``cancel_failures``)."""
        node = self._node
        frames = self._envelope(Kind.CANCEL, request_id, name, None)
        try:
            sent = node.transport.send_nowait(address, frames)
        except (TransportClosed, ValueError):
            sent = False
        if not sent:
            node.stats["cancel_failures"] += 1

    async def tell_remote(self, address: str, name: str, msg: Any) -> None:
        """Tell an actor of the node at ``address``; see :meth:`zactor.ref.ActorRef.tell`."""
        node = self._node
        await node.transport.send(address, self._envelope(Kind.TELL, 0, name, msg), node.config.default_timeout_s)

    def _envelope(self, kind: Kind, request_id: int, name: str, msg: Any, flags: int = 0) -> list[Any]:
        """An outgoing envelope of this node: its clock stamp, its id and, for a cluster member, its cluster id.

        Raises:
            TypeError: ``msg`` is not a message, or holds a value the wire cannot carry.
        """
        node = self._node
        stamp, threshold = node.envelope_stamp(), node.config.copy_threshold_bytes
        return pack(kind, request_id, name, msg, stamp, threshold, node.node_id, node.envelope_cluster_id, flags)

    async def open_stream(
        self, address: str | None, name: str, msg: Any, window: int, timeout_s: float
    ) -> tuple[Inbox, Callable[[], None]]:
        """Start a streamed request (see :meth:`zactor.ref.ActorRef.stream`); returns its inbox and what cancels it.

        Raises:
            ValueError: ``window`` is outside 1..65536.
            ActorNotFound: (local actor) no actor of that name.
            MailboxFull: (local actor) its mailbox is full.
            RequestTimeout: the request could not be sent within ``timeout_s`` seconds.
            TypeError: ``msg`` is not a message, or holds a value the wire cannot carry.
        """
        node = self._node
        flags = stream_flags(window)
        if address is None:
            mailbox = node.registry.get(name)
            if mailbox is None:
                raise ActorNotFound(name, node.node_id)
            convert = self._through_wire if node.config.serialize_local else _same
            local = LocalStream(window, node.node_id, convert)
            mailbox.put(convert(msg), local)

            def cancel_local() -> None:
                mailbox.cancel(local)

            return local.inbox, cancel_local
        request_id = next(self._request_ids)
        half = credit_batch(window)

        def grant(taken: int) -> None:
            if taken % half == 0 and request_id in self._streams:
                self._send_credit(address, name, request_id, half)

        inbox = Inbox(grant, window)
        self._streams[request_id] = (inbox, address, name)
        try:
            await node.transport.send(address, self._envelope(Kind.REQUEST, request_id, name, msg, flags), timeout_s)
        except SendTimeout:
            del self._streams[request_id]
            raise RequestTimeout(name, timeout_s) from None
        except BaseException:
            del self._streams[request_id]
            raise

        def cancel() -> None:
            if self._streams.pop(request_id, None) is not None:
                self._send_cancel(address, name, request_id)

        return inbox, cancel

    def _send_credit(self, address: str, name: str, request_id: int, items: int) -> None:
        """Grant the producer of a streamed reply ``items`` more (a CREDIT envelope, sent at once or counted as
        ``credit_failures``: the producer then waits, and the consumer's deadline ends the stream)."""
        node = self._node
        try:
            sent = node.transport.send_nowait(address, self._envelope(Kind.CREDIT, request_id, name, None, items))
        except (TransportClosed, ValueError):
            sent = False
        if not sent:
            node.stats["credit_failures"] += 1

    def on_reply(self, endpoint: str, frames: list[Any]) -> None:
        """The transport's reply callback: resolve the pending ask the envelope answers."""
        stats = self._node.stats
        try:
            header = unpack(frames)
        except DecodeError as exc:
            stats["decode_errors"] += 1
            log.warning("undecodable reply from %s dropped: %s", endpoint, exc.reason)
            return
        entry = self._pending.get(header.request_id)
        if entry is None:
            if not self._on_stream_reply(endpoint, header, frames):
                stats["late_replies"] += 1
            return
        if entry[1] != endpoint or entry[0].done():
            stats["late_replies"] += 1
            return
        fut = entry[0]
        try:
            if header.hlc is not None:
                self._merge_clock(header.hlc, endpoint)
            ok, outcome = receiving(self._node, open_reply, header, frames)
            if ok:
                fut.set_result(outcome)
            else:
                fut.set_exception(outcome)
        except DecodeError as exc:
            stats["decode_errors"] += 1
            fut.set_exception(exc)

    def _on_stream_reply(self, endpoint: str, header: Header, frames: list[Any]) -> bool:
        """Hand an ITEM, or the final REPLY or ERROR, to the streamed request it belongs to; False when it belongs to
        none (late: the consumer closed the stream)."""
        request_id = header.request_id
        stream = self._streams.get(request_id)
        if stream is None or stream[1] != endpoint:
            return False
        inbox = stream[0]
        node = self._node
        try:
            self._merge_clock(header.hlc, endpoint)
            if header.kind is Kind.ITEM:
                if not inbox.push(receiving(node, open_body, header, frames)):
                    raise DecodeError(f"the stream of {stream[2]!r} sent more items than its credit allows")
                return True
            del self._streams[request_id]
            ok, outcome = receiving(node, open_reply, header, frames)
            if not ok:
                inbox.end(outcome)
                return True
            if outcome is not None:  # a plain handler's one reply: the stream's only item
                inbox.push(outcome)
            inbox.end()
        except DecodeError as exc:
            node.stats["decode_errors"] += 1
            if self._streams.pop(request_id, None) is not None:
                self._send_cancel(endpoint, stream[2], request_id)
            inbox.end(exc)
        return True

    def _merge_clock(self, hlc: Any, endpoint: str) -> None:
        try:
            self._node.merge_envelope_stamp(hlc)
        except ClockOffsetError as exc:  # the reply still counts; only the clock refuses to jump
            self._node.stats["clock_rejected"] += 1
            log.warning("reply from %s: %s", endpoint, exc)


def _same(value: Any) -> Any:
    return value
