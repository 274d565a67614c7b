"""A blocking client for scripts, notebooks and threads: ``zactor.connect(...)`` and refs whose ``ask`` blocks.

The same envelope as a node, with no event loop on the call path (as Pyro5 and zerorpc offer). Each thread that uses
a client gets its own connection per node (so a client is safe to share between threads, and one thread's ask never
waits behind another's); an ask sends one REQUEST and waits on that connection for the REPLY with its request id,
dropping the late replies of asks that gave up before (each of which sent a CANCEL, so the node stopped working on
it). Asks and tells to an unencrypted node speak ZMTP on a plain socket (:class:`~zactor.connection.PlainConnection`:
no libzmq I/O thread, about a third less CPU per call); streams, and every connection of a client with a keyring, use
a libzmq DEALER, which answers the node's heartbeat between reads and speaks CURVE. A refused handshake raises
``HandshakeFailed``.

Given ``seeds``, the client reads the cluster's actor directory from any seed (:mod:`zactor.directory`, refreshed at
most every ``directory_ttl_s``) and reaches every node: ``ref(name, node_id=...)`` one node's actor, ``ref_any(name)``
any live host of it. An ask that was never delivered (its node refused the connection, or answered that the actor is
not there) goes to the next host, the socket that held it closed so that it cannot arrive late; one that may have
been delivered is never sent twice.

A node's death is noticed without waiting for the deadline: a refused connection, or a connection that closes while
an ask waits (the node died, or stopped answering the ZMTP heartbeat for ``3 * heartbeat_s``), raises
``NodeUnavailable``.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, overload

import zmq

from zactor.connection import EVENTS, LINGER_MS, Connection, NotDelivered, PlainConnection
from zactor.directory import MEMBERSHIP_ACTOR, GetMembers, MemberRows, hosts_of
from zactor.errors import ActorNotFound, NodeUnavailable, RequestTimeout
from zactor.ref import check_reply_type
from zactor.streams import DEFAULT_WINDOW, credit_batch, stream_flags
from zactor.transport.codec import DEFAULT_COPY_THRESHOLD_BYTES, Returns, Streams, reply_type_of
from zactor.transport.curve import SocketSecurity
from zactor.transport.endpoint import check_endpoint
from zactor.transport.envelope import Header, Kind, open_body, pack, unpack
from zactor.transport.security import Credentials
from zactor.transport.zerocopy import prepare_zero_copy
from zactor.wire import open_reply

__all__ = ["BlockingClient", "BlockingRef", "connect"]

R = TypeVar("R")

_SLICE_S = 0.25  # how often a waiting ask looks at its connection's events, in seconds
AnyConnection = Connection | PlainConnection


def connect(
    address: str | None = None,
    *,
    seeds: Sequence[str] = (),
    keyring_dir: str | None = None,
    key_name: str | None = None,
    timeout_s: float = 5.0,
) -> BlockingClient:
    """A blocking client of the node at ``address`` (``tcp://HOST:PORT``), or of the cluster that ``seeds`` belong
    to (any of them will do; see the module docstring).

    Args:
        address: one node's endpoint; its actors are reached with ``ref(name)``.
        seeds: endpoints of cluster members, for ``ref(name, node_id=...)`` and ``ref_any(name)``.
        keyring_dir: a keyring (``zactor keys init``), for a secure cluster; with ``key_name``.
        key_name: this client's key in the keyring.
        timeout_s: the default deadline of an ask, in seconds.

    Raises:
        ValueError: neither ``address`` nor ``seeds``, a malformed endpoint, or ``keyring_dir`` without
            ``key_name`` (or the other way round).
        KeyringError: the keyring or the key is missing.
    """
    if (keyring_dir is None) != (key_name is None):
        raise ValueError("keyring_dir and key_name go together: give both or neither")
    credentials = Credentials.load(keyring_dir, key_name) if keyring_dir and key_name else None
    return BlockingClient(address, seeds=seeds, credentials=credentials, timeout_s=timeout_s)


class BlockingClient:
    """Blocking asks and tells to the actors of one node, or of a cluster found through seeds (see the module
    docstring). Use as a context manager or call :meth:`close`.

    Args:
        address: one node's endpoint (``None`` with ``seeds``).
        seeds: endpoints of cluster members.
        credentials: CURVE keys for a secure cluster, or ``None``.
        timeout_s: the default deadline of an ask, in seconds.
        copy_threshold_bytes: bytes-like fields at least this large travel as zero-copy frames.
        heartbeat_s: the ZMTP heartbeat interval; a node silent for 3 intervals counts as gone, in seconds.
        directory_ttl_s: how long a member table read from a seed is used before it is read again, in seconds.
        libzmq: speak through libzmq even to unencrypted nodes (see the module docstring).

    Raises:
        ValueError: neither ``address`` nor ``seeds``, or a malformed endpoint.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        seeds: Sequence[str] = (),
        credentials: Credentials | None = None,
        timeout_s: float = 5.0,
        copy_threshold_bytes: int = DEFAULT_COPY_THRESHOLD_BYTES,
        heartbeat_s: float = 1.0,
        directory_ttl_s: float = 1.0,
        libzmq: bool = False,
    ) -> None:
        if address is None and not seeds:
            raise ValueError("give a node's address, or seeds of its cluster")
        self.address = check_endpoint(address) if address is not None else None
        self.seeds = tuple(check_endpoint(seed) for seed in seeds)
        self.timeout_s = timeout_s
        self._security = SocketSecurity(credentials, insecure=True)
        self._copy_threshold = copy_threshold_bytes
        self._heartbeat_ms = int(heartbeat_s * 1000)
        self._plain = credentials is None and not libzmq
        self._ttl_s = directory_ttl_s
        prepare_zero_copy()  # threads sharing this client send zero-copy frames
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._local = threading.local()
        self._sockets: list[AnyConnection] = []
        self._lock = threading.Lock()
        self._request_ids = itertools.count(1)
        self._table: MemberRows | None = None
        self._table_at = -math.inf
        self._closed = False

    def ref(self, name: str, *, node_id: str | None = None) -> BlockingRef:
        """A blocking reference to the actor ``name``: of the node at ``address``, or of the member ``node_id``
        (found through the seeds)."""
        return BlockingRef(self, name, node_id=node_id)

    def ref_any(self, name: str) -> BlockingRef:
        """A blocking reference to the actor ``name`` on any live member that hosts it (found through the seeds);
        each ask picks a host, and one that was never delivered moves on to the next."""
        return BlockingRef(self, name, any_host=True)

    def members(self, *, refresh: bool = False) -> MemberRows:
        """The live members as a seed sees them (cached for ``directory_ttl_s``; ``refresh`` reads it anew).

        Raises:
            NodeUnavailable: no seed answered.
            RuntimeError: the client has no seeds.
        """
        if not self.seeds:
            raise RuntimeError("this client was given an address, not seeds: it knows no member table")
        if not refresh and self._table is not None and time.monotonic() - self._table_at < self._ttl_s:
            return self._table
        errors = []
        for seed in self.seeds:
            try:
                deadline = time.monotonic() + min(self.timeout_s, 2.0)
                table: MemberRows = self._ask_at(seed, MEMBERSHIP_ACTOR, GetMembers(include_down=False), deadline)
            except (NotDelivered, NodeUnavailable, RequestTimeout) as exc:
                errors.append(f"{seed}: {exc}")
                continue
            self._table, self._table_at = table, time.monotonic()
            return table
        raise NodeUnavailable(", ".join(self.seeds), "no seed answered (" + "; ".join(errors) + ")")

    def _endpoints(self, name: str, node_id: str | None, any_host: bool, refresh: bool) -> list[str]:
        """Where an ask of ``name`` may go, in order of preference (a cached member table that has none is read
        again once before giving up)."""
        if node_id is None and not any_host:
            if self.address is None:
                raise ValueError(f"this client has seeds: use ref({name!r}, node_id=...) or ref_any({name!r})")
            return [self.address]
        for again in (refresh, True):
            table = self.members(refresh=again)
            if node_id is not None:
                hosts = [row[1] for row in table.rows if row[0] == node_id and row[3] == "live"]
            else:
                hosts = list(hosts_of(table, name).values())
            if hosts or again:
                break
        if hosts:
            return hosts
        if node_id is not None:
            raise NodeUnavailable(node_id, "not a live member")
        raise ActorNotFound(name, "any live member")

    def ask(
        self, name: str, msg: Any, timeout_s: float | None = None, *, node_id: str | None = None, any_host: bool = False
    ) -> Any:
        """Ask the actor ``name`` and block until its reply; see :meth:`BlockingRef.ask`."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        tried: set[str] = set()
        while True:
            endpoints = [e for e in self._endpoints(name, node_id, any_host, bool(tried)) if e not in tried]
            if not endpoints:
                raise NodeUnavailable(", ".join(sorted(tried)), f"no host of {name!r} could be reached")
            try:
                reply = self._ask_at(endpoints[0], name, msg, deadline)
            except NotDelivered as exc:
                if not any_host:
                    raise exc.error from None
                tried.add(endpoints[0])
                continue
            return check_reply_type(name, msg, reply, reply_type_of(type(msg)))

    def _ask_at(self, endpoint: str, name: str, msg: Any, deadline: float) -> Any:
        """One ask to the node at ``endpoint``, answered by ``deadline`` (monotonic, in s).

        Raises:
            NotDelivered: the node refused the connection or has no actor ``name``: it never handled the ask.
            NodeUnavailable: the connection closed while the ask waited (it may have been handled in part).
            RequestTimeout: no reply by the deadline.
        """
        own = self._connection(endpoint, self._plain, deadline)
        request_id = next(self._request_ids)
        own.send(pack(Kind.REQUEST, request_id, name, msg, None, self._copy_threshold))
        header, frames = self._receive(own, name, request_id, deadline)
        ok, outcome = open_reply(header, frames)
        if ok:
            return outcome
        if isinstance(outcome, ActorNotFound):
            raise NotDelivered(outcome)
        raise outcome

    def _connection(self, endpoint: str, plain: bool, deadline: float | None = None) -> AnyConnection:
        """This thread's connection of that kind to ``endpoint``, made anew when the last one was lost (connecting
        until ``deadline``, monotonic s; default: the client's timeout from now).

        Raises:
            NotDelivered: (plain) no connection could be made.
        """
        own = self._socket(endpoint, plain, deadline)
        if own.stale():  # closed before this ask: a fresh connection tells whether the node is still there
            self._drop(own)
            own = self._socket(endpoint, plain, deadline)
        return own

    def _receive(self, own: AnyConnection, name: str, request_id: int, deadline: float) -> tuple[Header, list[Any]]:
        """The next envelope for ``request_id`` on ``own``, by ``deadline`` (monotonic, in s); others are the late
        replies of asks that gave up, and are dropped. A failed wait abandons the request (CANCEL) or, when the
        connection failed, drops the socket with what it queued.

        Raises:
            NotDelivered, NodeUnavailable, RequestTimeout: as :meth:`_ask_at`.
        """
        timeout = max(0.0, deadline - time.monotonic())
        try:
            while True:
                wait_s = deadline - time.monotonic()
                if wait_s <= 0:
                    raise RequestTimeout(name, timeout)
                frames = own.receive(min(wait_s, _SLICE_S))
                if frames is None:
                    own.check()
                    continue
                header = unpack(frames)
                if header.request_id == request_id:
                    return header, frames
        except (NotDelivered, NodeUnavailable):
            self._drop(own)  # what it queued goes with the socket: a request never delivered cannot arrive late
            raise
        except BaseException:  # the deadline, KeyboardInterrupt, or the client closed under the ask
            self._cancel(own, name, request_id)
            raise

    def stream(
        self, name: str, msg: Any, window: int, timeout_s: float | None, *, node_id: str | None, any_host: bool
    ) -> Iterator[Any]:
        """Stream from the actor ``name``, blocking for each item; see :meth:`BlockingRef.stream`."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        flags = stream_flags(window)
        # a libzmq connection: its I/O thread answers the node's heartbeat while the caller works between items
        own = self._connection(self._endpoints(name, node_id, any_host, False)[0], plain=False)
        request_id = next(self._request_ids)
        own.send(pack(Kind.REQUEST, request_id, name, msg, None, self._copy_threshold, flags=flags))
        half, taken, ended = credit_batch(window), 0, False
        try:
            while True:
                try:
                    header, frames = self._receive(own, name, request_id, time.monotonic() + timeout)
                except NotDelivered as exc:
                    ended = True
                    raise exc.error from None
                if header.kind is not Kind.ITEM:
                    ended = True
                    ok, outcome = open_reply(header, frames)
                    if not ok:
                        raise outcome
                    if outcome is not None:  # a plain handler's reply: the stream's only item
                        yield outcome
                    return
                yield open_body(header, frames)
                taken += 1
                if taken % half == 0:
                    own.send_nowait(pack(Kind.CREDIT, request_id, name, None, None, flags=half)[0])
        finally:
            if not ended:
                self._cancel(own, name, request_id)

    @staticmethod
    def _cancel(own: AnyConnection, name: str, request_id: int) -> None:
        """Tell the node the ask ``request_id`` is abandoned (a CANCEL envelope; best effort, never blocks)."""
        own.send_nowait(pack(Kind.CANCEL, request_id, name, None, None)[0])

    def tell(self, name: str, msg: Any, *, node_id: str | None = None, any_host: bool = False) -> None:
        """Send ``msg`` to the actor ``name`` without waiting (queued by ZeroMQ until connected)."""
        endpoint = self._endpoints(name, node_id, any_host, False)[0]
        frames = pack(Kind.TELL, 0, name, msg, None, self._copy_threshold)
        try:
            self._connection(endpoint, self._plain).send(frames)
        except NotDelivered as exc:
            raise exc.error from None

    def _socket(self, endpoint: str, plain: bool, deadline: float | None = None) -> AnyConnection:
        """This thread's connection of that kind to ``endpoint``, made when there is none.

        Raises:
            NotDelivered: (plain) no connection could be made.
            RuntimeError: the client is closed.
        """
        sockets: dict[tuple[str, bool], AnyConnection] | None = getattr(self._local, "sockets", None)
        if sockets is None:
            sockets = self._local.sockets = {}
        own = sockets.get((endpoint, plain))
        if own is None and plain:
            if self._closed:
                raise RuntimeError("the client is closed")
            connect_s = self.timeout_s if deadline is None else max(1e-3, deadline - time.monotonic())
            own = PlainConnection(endpoint, connect_s, self._heartbeat_ms / 1000)
            with self._lock:
                if self._closed:
                    own.close(0)
                    raise RuntimeError("the client is closed")
                self._sockets.append(own)
            sockets[(endpoint, plain)] = own
        elif own is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the client is closed")
                sock = self._ctx.socket(zmq.DEALER)
                sock.setsockopt(zmq.LINGER, 0)
                if self._heartbeat_ms > 0:
                    sock.setsockopt(zmq.HEARTBEAT_IVL, self._heartbeat_ms)
                    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * self._heartbeat_ms)
                self._security.secure_dealer(sock)
                own = Connection(sock, sock.get_monitor_socket(EVENTS), endpoint)
                sock.connect(endpoint)
                self._sockets.append(own)
            sockets[(endpoint, plain)] = own
        return own

    def _drop(self, own: AnyConnection) -> None:
        """Close a thread's socket to a node whose connection failed; the next ask to it connects anew."""
        self._local.sockets.pop((own.endpoint, isinstance(own, PlainConnection)), None)
        with self._lock:
            if own in self._sockets:
                self._sockets.remove(own)
                own.close(0)  # what it queued never reached the node, and must not reach it later

    def close(self) -> None:
        """Close every thread's socket, flushing what is queued (such as a CANCEL) for up to 0.1 s. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for own in self._sockets:
                own.close(LINGER_MS)
            self._sockets.clear()
        self._ctx.term()

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BlockingRef:
    """A blocking handle to one actor: of a :class:`BlockingClient`'s node, of one member, or of any host."""

    __slots__ = ("_client", "name", "node_id", "any_host")

    def __init__(
        self, client: BlockingClient, name: str, *, node_id: str | None = None, any_host: bool = False
    ) -> None:
        self._client = client
        self.name = name
        self.node_id = node_id
        self.any_host = any_host

    @overload
    def ask(self, msg: Returns[R], *, timeout_s: float | None = None) -> R: ...

    @overload
    def ask(self, msg: object, *, timeout_s: float | None = None) -> Any: ...

    def ask(self, msg: object, *, timeout_s: float | None = None) -> Any:
        """Send ``msg`` and block until the reply (typed ``R`` for a ``Returns[R]`` message).

        Raises:
            RequestTimeout: no reply within ``timeout_s`` seconds (default: the client's); the node is told to
                stop working on it (CANCEL).
            NodeUnavailable: the node refused the connection, its connection closed while the ask waited, or (by
                ``node_id``) it is not a live member; for ``ref_any``, every host was tried.
            ActorNotFound: no such actor there (for ``ref_any``: on no live member).
            HandshakeFailed: the node refused this client's key, or one side encrypts and the other does not.
            RemoteError, HandlerNotFound, MailboxFull, DecodeError: as for :meth:`zactor.ActorRef.ask`.
            TypeError: ``msg`` is not a ``@message`` instance, or holds a value that cannot be encoded.
            RuntimeError: the client is closed.
        """
        return self._client.ask(self.name, msg, timeout_s, node_id=self.node_id, any_host=self.any_host)

    @overload
    def stream(
        self, msg: Streams[R], *, window: int = DEFAULT_WINDOW, timeout_s: float | None = None
    ) -> Iterator[R]: ...

    @overload
    def stream(self, msg: object, *, window: int = DEFAULT_WINDOW, timeout_s: float | None = None) -> Iterator[Any]: ...

    def stream(self, msg: object, *, window: int = DEFAULT_WINDOW, timeout_s: float | None = None) -> Iterator[Any]:
        """Send ``msg`` to a streaming handler and iterate over its items, blocking for each: ``for item in
        ref.stream(Count(n=10)):``. Credit, the end and errors are as for :meth:`zactor.ActorRef.stream`; leaving the
        loop early (or closing the iterator) cancels the producing handler.

        Raises:
            RequestTimeout: no item (nor the end) within ``timeout_s`` seconds; the stream is cancelled.
            ValueError: ``window`` is outside 1..65536.
            NodeUnavailable, ActorNotFound, RemoteError, ...: as for :meth:`ask`.
        """
        return self._client.stream(self.name, msg, window, timeout_s, node_id=self.node_id, any_host=self.any_host)

    def tell(self, msg: Any) -> None:
        """Send ``msg`` without waiting for it to be handled.

        Raises:
            TypeError: ``msg`` is not a ``@message`` instance, or holds a value that cannot be encoded.
            NodeUnavailable, ActorNotFound: as for :meth:`ask`, when the actor is found through the seeds.
            RuntimeError: the client is closed.
        """
        self._client.tell(self.name, msg, node_id=self.node_id, any_host=self.any_host)
