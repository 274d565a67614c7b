"""A blocking client for scripts, notebooks and threads: ``zactor.connect(address)`` and refs whose ``ask`` blocks.

Plain pyzmq sockets and the same envelope as a node, with no event loop on the call path (as Pyro5 and zerorpc
offer). Each thread that uses a client gets its own DEALER to the node (so a client is safe to share between
threads, and one thread's ask never waits behind another's); an ask sends one REQUEST and waits on that socket for
the REPLY with its request id, dropping the late replies of asks that timed out before. A client with a keyring
speaks CURVE like a node's DEALER, and a refused handshake raises ``HandshakeFailed`` when the ask gives up.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, TypeVar, overload

import zmq

from zactor.errors import RequestTimeout
from zactor.ref import check_reply_type
from zactor.transport.codec import DEFAULT_COPY_THRESHOLD_BYTES, Returns, reply_type_of
from zactor.transport.curve import MONITOR_EVENTS, SocketSecurity, handshake_failure, next_event
from zactor.transport.envelope import Kind, pack, unpack
from zactor.transport.security import Credentials
from zactor.transport.sockets import recv_envelope
from zactor.wire import open_reply

__all__ = ["BlockingClient", "BlockingRef", "connect"]

R = TypeVar("R")

_LINGER_MS = 100  # how long closing may wait to flush queued envelopes, in ms


def connect(
    address: str, *, keyring_dir: str | None = None, key_name: str | None = None, timeout_s: float = 5.0
) -> BlockingClient:
    """A blocking client of the node at ``address`` (``tcp://HOST:PORT``).

    Args:
        address: the node's endpoint.
        keyring_dir: a keyring (``zactor keys init``), for a secure node; with ``key_name``.
        key_name: this client's key in the keyring.
        timeout_s: the default deadline of an ask, in seconds.

    Raises:
        KeyringError: the keyring or the key is missing.
        ValueError: ``keyring_dir`` without ``key_name`` or the other way round.
    """
    if (keyring_dir is None) != (key_name is None):
        raise ValueError("keyring_dir and key_name go together: give both or neither")
    credentials = Credentials.load(keyring_dir, key_name) if keyring_dir and key_name else None
    return BlockingClient(address, credentials=credentials, timeout_s=timeout_s)


class _ThreadSocket:
    """One thread's DEALER to the node, its monitor, and the receive timeout last set on it (in ms)."""

    __slots__ = ("sock", "monitor", "_wait_ms")

    def __init__(self, sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes]) -> None:
        self.sock = sock
        self.monitor = monitor
        self._wait_ms = -1

    def set_wait(self, wait_ms: int) -> None:
        """Make the next blocking receive wait at most ``wait_ms`` ms (an option set only when it changes)."""
        if wait_ms != self._wait_ms:
            self.sock.setsockopt(zmq.RCVTIMEO, wait_ms)
            self._wait_ms = wait_ms


class BlockingClient:
    """Blocking asks and tells to the actors of one node (see the module docstring). Use as a context manager or
    call :meth:`close`.

    Args:
        address: the node's endpoint.
        credentials: CURVE keys for a secure node, or ``None``.
        timeout_s: the default deadline of an ask, in seconds.
        copy_threshold_bytes: bytes-like fields at least this large travel as zero-copy frames.
    """

    def __init__(
        self,
        address: str,
        *,
        credentials: Credentials | None = None,
        timeout_s: float = 5.0,
        copy_threshold_bytes: int = DEFAULT_COPY_THRESHOLD_BYTES,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._security = SocketSecurity(credentials, insecure=True)
        self._copy_threshold = copy_threshold_bytes
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._local = threading.local()
        self._sockets: list[_ThreadSocket] = []
        self._lock = threading.Lock()
        self._request_ids = itertools.count(1)
        self._closed = False

    def ref(self, name: str) -> BlockingRef:
        """A blocking reference to the actor ``name`` of the node."""
        return BlockingRef(self, name)

    def _socket(self) -> _ThreadSocket:
        own: _ThreadSocket | None = getattr(self._local, "socket", None)
        if own is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the client is closed")
                sock = self._ctx.socket(zmq.DEALER)
                sock.setsockopt(zmq.LINGER, 0)
                self._security.secure_dealer(sock)
                monitor = sock.get_monitor_socket(MONITOR_EVENTS)
                sock.connect(self.address)
                own = _ThreadSocket(sock, monitor)
                self._sockets.append(own)
            self._local.socket = own
        return own

    def ask(self, name: str, msg: Any, timeout_s: float | None = None) -> Any:
        """Ask the actor ``name`` and block until its reply; see :meth:`BlockingRef.ask`."""
        own = self._socket()
        sock = own.sock
        timeout = self.timeout_s if timeout_s is None else timeout_s
        request_id = next(self._request_ids)
        frames = pack(Kind.REQUEST, request_id, name, msg, None, self._copy_threshold)
        sock.send_multipart(frames, copy=len(frames) == 1)
        deadline = time.monotonic() + timeout
        wait_ms = int(timeout * 1000)
        try:
            while True:
                if wait_ms <= 0:
                    raise zmq.Again()
                own.set_wait(wait_ms)
                frames = recv_envelope(sock, block=True)
                header = unpack(frames)
                if header.request_id == request_id:
                    break
                wait_ms = int((deadline - time.monotonic()) * 1000)  # the late reply of an ask that gave up
        except zmq.Again:
            self._cancel(sock, name, request_id)
            self._raise_handshake_failure(own.monitor)
            raise RequestTimeout(name, timeout) from None
        except BaseException:  # KeyboardInterrupt, or the client closed under the ask
            self._cancel(sock, name, request_id)
            raise
        ok, outcome = open_reply(header, frames)
        if not ok:
            raise outcome
        return check_reply_type(name, msg, outcome, reply_type_of(type(msg)))

    @staticmethod
    def _cancel(sock: zmq.Socket[bytes], name: str, request_id: int) -> None:
        """Tell the node the ask ``request_id`` is abandoned (a CANCEL envelope; best effort, never blocks)."""
        try:
            sock.send(pack(Kind.CANCEL, request_id, name, None, None)[0], zmq.NOBLOCK)
        except zmq.ZMQError:  # at the high-water mark, or the socket is closed
            pass

    def tell(self, name: str, msg: Any) -> None:
        """Send ``msg`` to the actor ``name`` without waiting (queued by ZeroMQ until connected)."""
        sock = self._socket().sock
        frames = pack(Kind.TELL, 0, name, msg, None, self._copy_threshold)
        sock.send_multipart(frames, copy=len(frames) == 1)

    def _raise_handshake_failure(self, monitor: zmq.Socket[bytes]) -> None:
        while (event := next_event(monitor)) is not None:
            error = handshake_failure(self.address, event[0])
            if error is not None:
                raise error

    def close(self) -> None:
        """Close every thread's socket, flushing what is queued (such as a CANCEL) for up to 0.1 s. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for own in self._sockets:
                own.sock.disable_monitor()
                own.monitor.close(linger=0)
                own.sock.close(linger=_LINGER_MS)
            self._sockets.clear()
        self._ctx.term()

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BlockingRef:
    """A blocking handle to one actor of a :class:`BlockingClient`'s node."""

    __slots__ = ("_client", "name")

    def __init__(self, client: BlockingClient, name: str) -> None:
        self._client = client
        self.name = name

    @overload
    def ask(self, msg: Returns[R], *, timeout_s: float | None = None) -> R: ...

    @overload
    def ask(self, msg: object, *, timeout_s: float | None = None) -> Any: ...

    def ask(self, msg: object, *, timeout_s: float | None = None) -> Any:
        """Send ``msg`` and block until the reply (typed ``R`` for a ``Returns[R]`` message).

        Raises:
            RequestTimeout: no reply within ``timeout_s`` seconds (default: the client's).
            HandshakeFailed: the node refused this client's key, or one side encrypts and the other does not.
            RemoteError, ActorNotFound, HandlerNotFound, MailboxFull, NodeUnavailable, DecodeError: as for
                :meth:`zactor.ActorRef.ask`.
            TypeError: ``msg`` is not a ``@message`` instance, or holds a value that cannot be encoded.
            RuntimeError: the client is closed.
        """
        return self._client.ask(self.name, msg, timeout_s)

    def tell(self, msg: Any) -> None:
        """Send ``msg`` without waiting for it to be handled.

        Raises:
            TypeError: ``msg`` is not a ``@message`` instance, or holds a value that cannot be encoded.
            RuntimeError: the client is closed.
        """
        self._client.tell(self.name, msg)
