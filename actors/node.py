"""The node: one process's actor registry behind one transport (a bound ROUTER and a DEALER per peer).

Inbound envelopes are decoded and put into the target actor's mailbox from the transport's callback, with no task per
message; replies are matched to pending asks by request id. A local ask never touches a socket.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any, Self, TypeVar

from zactor.actor import Actor, Sender
from zactor.calls import Calls
from zactor.config import NodeConfig
from zactor.deathwatch import Terminated, Unwatch
from zactor.errors import (
    ActorNotFound,
    ClockOffsetError,
    ClusterMismatch,
    DecodeError,
    ForgedSender,
    HandshakeFailed,
    MailboxFull,
    MessageTooLarge,
    NodeUnavailable,
)
from zactor.extensions import EnvelopeClock, Extension, Extensions
from zactor.ref import RECEIVER, ActorRef, receiving
from zactor.registry import Registry
from zactor.replies import RemoteAsk
from zactor.streams import STREAM, RemoteStream, window_of
from zactor.supervision import Restart, RestartPolicy, as_policy
from zactor.timesource import SystemTime, TimeSource
from zactor.transport.base import Transport
from zactor.transport.envelope import Kind, open_body, pack, unpack
from zactor.transport.ratelog import RateLimitedLogger
from zactor.transport.security import Credentials
from zactor.transport.sockets import ZmqTransport
from zactor.wire import error_info

__all__ = ["Node"]

log = logging.getLogger("zactor.node")

H = TypeVar("H")
E = TypeVar("E")


def _credentials(config: NodeConfig) -> Credentials | None:
    if config.keyring_dir is None or config.key_name is None:
        return None
    return Credentials.load(config.keyring_dir, config.key_name)


class Node:
    """One zactor node: hosts actors and talks to other nodes. This is the bare runtime, with no cluster service;
    :class:`zactor.services.cluster.ClusterNode` is a node composed with clock, membership and selector.

    Use as ``async with Node(NodeConfig(...)) as node:``; :meth:`start` and :meth:`stop` are the explicit forms.

    Args:
        config: the node's configuration (default: ``NodeConfig()``, a loopback node on a free port).
        transport: the transport to use (default: a :class:`~zactor.transport.sockets.ZmqTransport` built from
            ``config``; tests pass an :class:`~zactor.transport.memory.InMemoryTransport`). A transport passed in keeps
            its own limits: ``config.max_message_bytes``, ``linger_s``, ``hwm`` and ``max_unread_bytes_per_peer`` only
            shape the default one.
        extensions: the extensions to start with the node, in order (default: none).
        time_source: the clocks the services read (default: :class:`~zactor.timesource.SystemTime`); tests pass a
            :class:`zactor.testing.FakeClock`.
        rng: the randomness the services draw from (peer choice, jitter, a store's epoch); each service seeds its
            own ``random.Random`` from it when it starts (default: an unseeded ``random.Random``). Seed it for a
            reproducible run.

    Attributes:
        config: the configuration.
        time_source: the clocks given (or ``SystemTime()``).
        rng: the randomness given (or an unseeded ``random.Random``).
        stats: counters of notable events (``decode_errors``, ``unknown_actor``, ``mailbox_full``,
            ``late_replies``, ...), for logs and tests.
    """

    def __init__(
        self,
        config: NodeConfig | None = None,
        *,
        transport: Transport | None = None,
        extensions: Sequence[Extension[Any]] = (),
        time_source: TimeSource | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or NodeConfig()
        self.time_source: TimeSource = time_source or SystemTime()
        self.rng = rng or random.Random()
        self._transport = transport or ZmqTransport(
            max_message_bytes=self.config.max_message_bytes,
            linger_s=self.config.linger_s,
            hwm=self.config.hwm,
            max_unread_bytes_per_peer=self.config.max_unread_bytes_per_peer,
            credentials=_credentials(self.config),
            insecure=self.config.insecure,
            asyncio_zmtp=self.config.asyncio_zmtp,
        )
        self._transport.on_handshake_failed = self._on_handshake_failed
        self._transport.on_peer_gone = self._on_peer_gone
        self._registry = Registry(self, self.config.mailbox_size, self.config.stop_timeout_s)
        self._calls = Calls(self)
        self._address: str | None = None
        self._is_stopping = False
        self._clock: EnvelopeClock | None = None
        self._extensions = Extensions(self, extensions)
        self.stats: collections.Counter[str] = collections.Counter()
        self._peer_log = RateLimitedLogger(log)
        self._secure = self.config.keyring_dir is not None
        self._senders: dict[tuple[str | None, str | None, str | None], Sender] = {}
        self._responder = self._respond  # one bound method for every RemoteAsk (they compare equal by it)
        self._streams: dict[tuple[bytes, int], RemoteStream] = {}  # streamed requests being answered, by peer and id

    # ----------------------------------------------------------------------------------------------- lifecycle

    @property
    def node_id(self) -> str:
        """This node's id."""
        return self.config.node_id

    @property
    def address(self) -> str:
        """The bound endpoint, with the real port (after :meth:`start`).

        Raises:
            RuntimeError: the node is not started.
        """
        if self._address is None:
            raise RuntimeError("node is not started")
        return self._address

    @property
    def transport(self) -> Transport:
        """The transport this node sends and receives through."""
        return self._transport

    async def start(self) -> Self:
        """Bind the ROUTER and start serving.

        Raises:
            OSError: the bind endpoint cannot be bound.
            RuntimeError: the node was already started.
        """
        if self._address is not None:
            raise RuntimeError("node already started")
        self._calls.start()
        # the transport's callbacks run in the context they were registered in: there, this node is the receiver
        # of the references in what arrives, without a context variable set per envelope
        callbacks = contextvars.copy_context()
        callbacks.run(RECEIVER.set, self)
        starting = self._transport.start(self.config.bind, self._on_request, self._calls.on_reply)
        self._address = await asyncio.get_running_loop().create_task(starting, context=callbacks)
        try:
            await self._extensions.start_initial()
        except BaseException:
            await self.stop()
            raise
        log.info("node %r listening on %s", self.node_id, self._address)
        return self

    async def stop(self) -> None:
        """Remove every actor (running ``on_stop``), fail pending asks with ``NodeUnavailable``, close sockets.

        Idempotent. Returns within about ``stop_timeout_s`` plus the socket linger.
        """
        if self._address is None or self._is_stopping:
            return
        self._is_stopping = True
        try:
            await self._extensions.stop_all()
            await self._registry.remove_all()
            self._calls.close(NodeUnavailable(self.node_id, "this node stopped"))
            await self._transport.close()
        finally:
            self._address = None
            self._is_stopping = False
        log.info("node %r stopped", self.node_id)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------------------------ registry

    async def add_actor(
        self,
        name: str,
        actor: Actor | Callable[[], Actor],
        *,
        restart: RestartPolicy | Restart | None = None,
    ) -> ActorRef:
        """Host an actor under ``name`` (runs its ``on_start`` first) and return a local reference to it.

        Args:
            name: the name to register.
            actor: an :class:`Actor` instance, or a factory of them (the class, or a function of no arguments),
                which a restart policy needs.
            restart: how to supervise it (a :class:`~zactor.supervision.RestartPolicy`, or a
                :class:`~zactor.supervision.Restart` mode with the policy's defaults); ``None``: never restarted, and
                a handler's exception is only its caller's error.

        Raises:
            ActorExists: ``name`` is in use; remove the old actor first.
            TypeError: ``actor`` is not an :class:`Actor` or a factory of one, a handler is malformed, or a restart
                policy was given with an instance.
            ValueError: the restart policy has a negative count, window or delay, or a jitter outside 0..1.
            Exception: whatever ``on_start`` (or the factory) raised (the actor is then not added).
        """
        policy = as_policy(restart)
        factory: Callable[[], Actor] | None = None
        if not isinstance(actor, Actor):
            if not callable(actor):
                raise TypeError(f"{actor!r} is neither an Actor nor a factory of one")
            factory = actor
            actor = factory()
        elif policy is not None:
            raise TypeError("a restart policy needs a factory: pass the class (or a function that builds the actor)")
        await self._registry.add(name, actor, factory=factory, policy=policy)
        return ActorRef(self, name, None)

    async def remove_actor(self, name: str, *, timeout_s: float | None = None) -> None:
        """Stop hosting ``name``: queued and later asks fail with ``ActorNotFound``; running handlers finish first
        (cancelled after ``timeout_s`` seconds, default ``NodeConfig.stop_timeout_s``), then ``on_stop`` runs.

        Raises:
            ActorNotFound: no actor of that name.
        """
        await self._registry.remove(name, timeout_s=timeout_s)

    def actors(self) -> list[str]:
        """The names of the actors hosted here, sorted."""
        return self._registry.names()

    @property
    def registry(self) -> Registry:
        """This node's actor registry."""
        return self._registry

    def watch(self, ref: ActorRef) -> asyncio.Future[Terminated]:
        """Watch the actor of ``ref``, on this node: the future resolves with one
        :class:`~zactor.deathwatch.Terminated` when it is removed, stops, or fails for good; at once when it is gone
        already. Cancelling the future cancels the watch.

        Raises:
            TypeError: ``ref`` names an actor of another node and this node is no cluster member.
        """
        future: asyncio.Future[Terminated] = asyncio.get_running_loop().create_future()
        unwatch = self.watch_with(ref, lambda terminated: None if future.done() else future.set_result(terminated))
        future.add_done_callback(lambda f: unwatch() if f.cancelled() else None)
        return future

    def watch_with(self, ref: ActorRef, callback: Callable[[Terminated], None]) -> Unwatch:
        """As :meth:`watch`, calling ``callback(terminated)`` once instead; returns what cancels the watch.

        Raises:
            TypeError: ``ref`` names an actor of another node and this node is no cluster member.
        """
        if ref.address is not None and ref.address != self._address:
            return self.watch_remote(ref, callback)
        return self._registry.watch(ref.name, callback)

    def watch_remote(self, ref: ActorRef, callback: Callable[[Terminated], None]) -> Unwatch:
        """Watch an actor of another node (a cluster node does, through membership); a plain node cannot.

        Raises:
            TypeError: always, on a plain node.
        """
        raise TypeError(f"cannot watch {ref!r}: a plain node watches only its own actors (a ClusterNode watches all)")

    def ref(self, name: str, *, address: str | None = None) -> ActorRef:
        """A reference to the actor ``name``: on this node by default, or on the node bound at ``address`` (this
        node's own address gives a local reference)."""
        if address is not None and address == self._address:
            address = None
        return ActorRef(self, name, address)

    # -------------------------------------------------------------------------------------------- extensions

    async def add_extension(self, extension: Extension[H]) -> H:
        """Start a service (an object with ``name``, ``async start(node) -> handle`` and ``async stop()``) on this
        running node; returns what its ``start`` returned, typed as ``start`` declares it.

        Raises:
            ValueError: an extension of the same name is installed.
            Exception: whatever the extension's ``start`` raised (it is then not installed).
        """
        return await self._extensions.add(extension)

    async def remove_extension(self, name: str) -> None:
        """Stop and remove the extension named ``name``; the other extensions and actors are untouched.

        Raises:
            KeyError: no extension of that name.
        """
        await self._extensions.remove(name)

    def extension(self, kind: type[E]) -> E:
        """The installed extension that is an instance of ``kind``, e.g. ``node.extension(MembershipService)``.

        Raises:
            LookupError: no such extension is installed.
        """
        return self._extensions.get(kind)

    def extensions(self) -> list[str]:
        """The names of the installed extensions, in start order."""
        return self._extensions.names()

    def set_envelope_clock(self, clock: EnvelopeClock | None) -> None:
        """Stamp outgoing envelopes with ``clock`` and merge incoming stamps into it (``None``: no stamping)."""
        self._clock = clock

    @property
    def calls(self) -> Calls:
        """This node's outbound calls: pending asks and reply matching."""
        return self._calls

    @property
    def envelope_cluster_id(self) -> str | None:
        """The cluster id this node's envelopes name: ``None`` for a plain node, a client of any cluster (whose
        messages cluster services refuse); a :class:`~zactor.services.cluster.ClusterNode` names its own."""
        return None

    def envelope_stamp(self) -> Any:
        """The HLC slot of an outgoing envelope header: a fresh stamp, or ``None`` without a clock."""
        clock = self._clock
        return None if clock is None else clock.stamp()

    def merge_envelope_stamp(self, hlc: Any) -> None:
        """Merge the HLC slot of an incoming envelope header (nothing to do for ``None`` or without a clock).

        Raises:
            ClockOffsetError: the stamp is too far ahead; the clock is unchanged.
            DecodeError: the stamp is malformed.
        """
        if hlc is not None and self._clock is not None:
            self._clock.merge(hlc)

    def _on_handshake_failed(self, endpoint: str, error: HandshakeFailed) -> None:
        self.stats["handshake_failures"] += 1
        self._peer_log.warning("%s", error)
        self.forget(endpoint, error)

    def forget(self, address: str, error: BaseException | Callable[[str], BaseException] | None = None) -> None:
        """Close the connection to ``address`` and fail the asks waiting on it with ``error`` (default:
        ``NodeUnavailable``), or with ``error(actor name)`` for each when it is a function."""
        self._transport.forget(address)
        self._calls.fail_endpoint(address, error or NodeUnavailable(address, "connection closed"))

    # ----------------------------------------------------------------------------------------------- inbound

    def _on_request(self, peer: bytes, frames: list[Any]) -> None:
        try:
            header = unpack(frames)
        except DecodeError as exc:  # no trustworthy request id: nothing to answer
            self.stats["decode_errors"] += 1
            self._peer_log.warning("undecodable envelope from peer %s dropped: %s", peer.hex(), exc.reason)
            return
        kind = header.kind
        inline = True
        if kind is Kind.REQUEST:
            if header.flags & STREAM:
                reply_to: RemoteAsk | None = self._open_stream(peer, header.request_id, header.flags)
                inline = False
            else:
                reply_to = _remote_ask((peer, header.request_id, self._responder))
        elif kind is Kind.TELL:
            reply_to = None
        elif kind is Kind.CANCEL:
            self._cancel(header.target, _remote_ask((peer, header.request_id, self._responder)))
            return
        elif kind is Kind.CREDIT:
            stream = self._streams.get((peer, header.request_id))
            if stream is not None:
                stream.credit.grant(header.flags)
            return
        else:
            self.stats["unexpected_kind"] += 1
            self._peer_log.warning("a %s envelope from peer %s dropped", kind.name, peer.hex())
            return
        target = header.target
        try:
            if self._is_stopping:
                raise NodeUnavailable(self.node_id, "node is stopping")
            sender = self._sender_of(peer, header.sender, header.cluster_id)
            if header.hlc is not None:
                self.merge_envelope_stamp(header.hlc)
            mailbox = self._registry.get(target)
            if mailbox is None:
                raise ActorNotFound(target, self.node_id)
            mailbox.put(receiving(self, open_body, header, frames), reply_to, inline=inline, sender=sender)
        except _REFUSED as exc:
            self.stats[_STAT_BY_ERROR[type(exc)]] += 1
            if reply_to is None:
                self._peer_log.log(
                    logging.DEBUG if self._is_stopping else logging.WARNING,
                    "a tell for %r was dropped: %s",
                    target,
                    exc,
                )
            else:
                self._peer_log.log(logging.INFO, "a request for %r was refused: %s", target, exc)
                self._respond(reply_to, None, exc, target)

    def _sender_of(self, peer: bytes, node_id: str | None, cluster_id: str | None) -> Sender:
        """Who sent an envelope: its ``sender`` item and, on a secure cluster, its connection's key name.

        Raises:
            ClusterMismatch: the envelope names another cluster.
            ForgedSender: on a secure cluster, it names a sender other than its key's name.
        """
        if cluster_id is not None and cluster_id != self.config.cluster_id:
            raise ClusterMismatch(self.config.cluster_id, cluster_id)
        principal = self._transport.principal_of(peer) if self._secure else None
        if principal is not None and node_id is not None and node_id != principal:
            raise ForgedSender(node_id, principal)
        key = (node_id, principal, cluster_id)
        sender = self._senders.get(key)
        if sender is None:
            if len(self._senders) >= _SENDERS_KEPT:
                self._senders.clear()
            sender = self._senders[key] = Sender(node_id, principal, cluster_id)
        return sender

    def _cancel(self, target: str, reply_to: RemoteAsk) -> None:
        """A caller abandoned its ask (cancelled, or past its deadline): drop it from the mailbox or cancel its
        handler; a cancel for an ask already answered is ignored."""
        self._streams.pop((reply_to.peer, reply_to.request_id), None)
        mailbox = self._registry.get(target)
        if mailbox is not None and mailbox.cancel(reply_to):
            self.stats["cancelled"] += 1

    def _on_peer_gone(self, peer: bytes) -> None:
        """An inbound peer's connection closed: its asks, queued or running, can never be answered, so they are
        dropped or cancelled as if it had sent a CANCEL for each."""
        for key in [key for key in self._streams if key[0] == peer]:
            del self._streams[key]
        for name in self._registry.names():
            mailbox = self._registry.get(name)
            if mailbox is not None:
                self.stats["cancelled_peer_gone"] += mailbox.cancel_peer(peer)

    def _respond(self, reply_to: RemoteAsk, result: Any, error: BaseException | None, actor: str) -> None:
        """Hand a REPLY (or an ERROR for ``error``) for a remote asker to the transport, which never waits on the
        peer; never raises."""
        peer, request_id, _ = reply_to
        try:
            if error is None:
                try:
                    self._send_reply(peer, request_id, Kind.REPLY, result)
                    return
                except (MessageTooLarge, TypeError) as exc:
                    error = exc
            self._send_reply(peer, request_id, Kind.ERROR, error_info(error, self.node_id, actor))
        except Exception:
            self.stats["reply_errors"] += 1
            log.exception("could not reply to peer %s for actor %r", peer.hex(), actor)

    def _open_stream(self, peer: bytes, request_id: int, flags: int) -> RemoteStream:
        return RemoteStream(peer, request_id, self._responder, window_of(flags), self._send_item, self._streams)

    async def _send_item(self, stream: RemoteStream, item: Any) -> None:
        """Hand one ITEM of a streamed reply to the transport once the consumer's byte budget has room for it (the
        producer waits, up to ``default_timeout_s``, rather than have it dropped), queued past the high-water mark as
        replies are.

        Raises:
            TypeError, MessageTooLarge: the item cannot travel (the stream then ends with that error).
            NodeUnavailable: the consumer's connection is gone, or its unread replies filled its budget throughout.
        """
        frames = pack(Kind.ITEM, stream.request_id, "", item, self.envelope_stamp(), self.config.copy_threshold_bytes)
        transport, timeout_s = self._transport, self.config.default_timeout_s
        if not transport.reply_room(stream.peer, nbytes := sum(len(frame) for frame in frames)):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while not transport.reply_room(stream.peer, nbytes) and loop.time() < deadline:
                await asyncio.sleep(_ROOM_POLL_S)
        if not transport.reply(stream.peer, frames, timeout_s):
            raise NodeUnavailable(
                stream.peer.hex(), "the stream's consumer is gone, or its unread replies fill a budget"
            )

    def _send_reply(self, peer: bytes, request_id: int, kind: Kind, msg: Any) -> bool:
        frames = pack(kind, request_id, "", msg, self.envelope_stamp(), self.config.copy_threshold_bytes)
        return self._transport.reply(peer, frames, self.config.default_timeout_s)


_remote_ask = functools.partial(tuple.__new__, RemoteAsk)  # a RemoteAsk from a (peer, id, responder) tuple, in C
_ROOM_POLL_S = 0.005  # how often a stream waiting for its consumer's byte budget looks again, in seconds
_SENDERS_KEPT = 4096  # distinct (node id, principal, cluster id) whose Sender is kept for reuse

_STAT_BY_ERROR = {
    ClusterMismatch: "wrong_cluster",
    ForgedSender: "forged_sender",
    DecodeError: "decode_errors",
    ActorNotFound: "unknown_actor",
    MailboxFull: "mailbox_full",
    NodeUnavailable: "refused_stopping",
    ClockOffsetError: "clock_rejected",
}
_REFUSED: tuple[type[Exception], ...] = tuple(_STAT_BY_ERROR)
"""What refuses an inbound envelope before (or instead of) its handler: answered as an ERROR, counted by type."""
