"""How the ZeroMQ transport applies security: CURVE on every socket, ZAP on the ROUTER, protected mode without keys.

With :class:`~zactor.transport.security.Credentials` that can serve (the cluster's secret key), the ROUTER is a CURVE
server whose handshakes ZAP checks against the authorized keys (pyzmq's ``ThreadAuthenticator``, domain
``zactor``, domain enforced), and every DEALER is a CURVE client with this principal's key pair. A plaintext peer,
an unknown key and a revoked key all fail the handshake: the node counts them (``refused_handshakes``) and logs them
rate-limited; the refused side's DEALER monitor reports the failure at once (``HandshakeFailed``).

Without credentials (or with a client keyring, which cannot serve) the node is in **protected mode**: it binds only
loopback addresses (127.0.0.0/8, ``::1``, ``localhost``, ``ipc://``, ``inproc://``), so only processes on its own
host reach it, unless ``insecure=True`` is given, which logs a warning.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import parse_monitor_message

from zactor.transport.errors import HandshakeFailed, InsecureBind, KeyringError
from zactor.transport.security import AuthorizedKeys, Credentials

__all__ = ["SocketSecurity", "is_loopback_endpoint", "handshake_failure", "next_event", "refusal_reason"]

log = logging.getLogger("zactor.security")

ZAP_DOMAIN = "zactor"
#: Monitor events that mean a handshake failed, by what they mean.
HANDSHAKE_FAILURES = {
    int(zmq.EVENT_HANDSHAKE_FAILED_AUTH): "the peer refused this node's key (unknown or revoked)",
    int(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL): "security mismatch (plaintext on one side, CURVE on the other)",
    int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL): "the handshake failed (plaintext on one side, or another cluster key)",
}
MONITOR_EVENTS = sum(HANDSHAKE_FAILURES)
#: The same events seen by the ROUTER, about the peer it refused.
REFUSALS = {
    int(zmq.EVENT_HANDSHAKE_FAILED_AUTH): "the peer's key is unknown or revoked",
    int(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL): "the peer does not encrypt with CURVE (plaintext or a mismatch)",
    int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL): "the handshake failed (a plaintext peer, or a different cluster key)",
}


def next_event(monitor: zmq.Socket[bytes]) -> tuple[int, int] | None:
    """The next event waiting on a socket monitor, without blocking, as ``(event, value)`` (the value is the
    connection's file descriptor for connect, accept and disconnect events); ``None`` when there is none."""
    try:
        parsed = parse_monitor_message(monitor.recv_multipart(zmq.NOBLOCK))
    except zmq.ZMQError:  # Again: nothing waiting; anything else: the monitor is closing
        return None
    return int(parsed["event"]), int(parsed["value"])


def handshake_failure(endpoint: str, event: int) -> HandshakeFailed | None:
    """The error for a DEALER monitor ``event`` on the connection to ``endpoint``, or ``None`` for other events."""
    reason = HANDSHAKE_FAILURES.get(event)
    return HandshakeFailed(endpoint, reason) if reason is not None else None


def refusal_reason(event: int) -> str | None:
    """Why the ROUTER refused a peer, for a monitor ``event``, or ``None`` for other events."""
    return REFUSALS.get(event)


def is_loopback_endpoint(endpoint: str) -> bool:
    """Whether binding ``endpoint`` admits only this host's processes (loopback TCP, ipc, inproc)."""
    parts = urlsplit(endpoint)
    if parts.scheme in ("ipc", "inproc"):
        return True
    host = (parts.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SocketSecurity:
    """The security of one transport's sockets (see the module docstring).

    Args:
        credentials: the keys, or ``None`` for protected mode.
        insecure: allow a plaintext node to bind a non-loopback address (logged as a warning).

    Raises:
        KeyringError: ``credentials`` hold the cluster's secret key but no ``authorized_dir``.
    """

    def __init__(self, credentials: Credentials | None, insecure: bool) -> None:
        self.credentials = credentials
        self.insecure = insecure
        self.keys: AuthorizedKeys | None = None
        if credentials is not None and credentials.server_secret_key is not None:
            if credentials.authorized_dir is None:
                raise KeyringError("credentials that can serve need the keyring's authorized/ folder")
            self.keys = AuthorizedKeys(credentials.authorized_dir)
        self.serves = self.keys is not None
        self._authenticator: ThreadAuthenticator | None = None

    def check_bind(self, bind: str) -> None:
        """Refuse a plaintext bind that other hosts could reach, unless insecure.

        Raises:
            InsecureBind: ``bind`` is not a loopback endpoint, no keyring can serve, and ``insecure`` is off.
        """
        if self.serves or is_loopback_endpoint(bind):
            return
        if not self.insecure:
            raise InsecureBind(bind)
        log.warning(
            "binding %s WITHOUT encryption or authentication (insecure): anyone who reaches it may call it", bind
        )

    def start(self, ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
        """Start the ZAP handler of ``ctx`` (a serving node only)."""
        if self.keys is None:
            return
        authenticator = ThreadAuthenticator(ctx, log=logging.getLogger("zactor.security.zap"))
        authenticator.start()
        authenticator.configure_curve_callback(ZAP_DOMAIN, self.keys)
        self._authenticator = authenticator

    def stop(self) -> None:
        """Stop the ZAP handler, before the context terminates."""
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

    def secure_router(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` a CURVE server checked by ZAP (a serving node only)."""
        credentials = self.credentials
        if not self.serves or credentials is None or credentials.server_secret_key is None:
            return
        sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, credentials.server_public_key)
        sock.setsockopt(zmq.CURVE_SECRETKEY, credentials.server_secret_key)

    def secure_dealer(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` a CURVE client with this principal's key pair (any node with credentials)."""
        credentials = self.credentials
        if credentials is None:
            return
        sock.setsockopt(zmq.CURVE_SERVERKEY, credentials.server_public_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, credentials.public_key)
        sock.setsockopt(zmq.CURVE_SECRETKEY, credentials.secret_key)
