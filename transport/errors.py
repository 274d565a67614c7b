"""The root of zactor's error tree and the errors raised by the transport layer.

``ActorError`` lives here so that ``transport/`` stays free of imports from ``actors/``; users import every error
from :mod:`zactor.errors`, which re-exports these classes unchanged.
"""

from __future__ import annotations

__all__ = [
    "ActorError",
    "DecodeError",
    "HandshakeFailed",
    "InsecureBind",
    "KeyringError",
    "MessageTooLarge",
    "TransportClosed",
    "SendTimeout",
]


class ActorError(Exception):
    """Base class of every error zactor raises to its users."""


class DecodeError(ActorError, ValueError):
    """Bytes received from a peer are not a valid zactor envelope or message.

    Attributes:
        reason: what is wrong, for logs and counters.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageTooLarge(ActorError, ValueError):
    """An envelope is larger than the configured ``max_message_bytes``.

    Attributes:
        size_bytes: the size of the envelope (all frames) in bytes.
        limit_bytes: the configured limit in bytes.
    """

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(f"message of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class TransportClosed(ActorError, ConnectionError):
    """The transport was closed (or never started) when a send was attempted."""


class SendTimeout(ActorError, TimeoutError):
    """A send stayed blocked at the high-water mark past its deadline.

    Attributes:
        endpoint: the endpoint or peer the send was for.
        timeout_s: how long the send waited, in seconds.
    """

    def __init__(self, endpoint: str, timeout_s: float) -> None:
        super().__init__(f"send to {endpoint} blocked at the high-water mark for {timeout_s:.3f} s")
        self.endpoint = endpoint
        self.timeout_s = timeout_s


class HandshakeFailed(ActorError, ConnectionError):
    """The security handshake with a peer failed: it refused this node's key, or one side encrypts and the other
    does not. Asks waiting on that connection fail with it at once.

    Attributes:
        endpoint: the peer's endpoint.
        reason: what failed, in words.
    """

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(f"security handshake with {endpoint} failed: {reason}")
        self.endpoint = endpoint
        self.reason = reason


class InsecureBind(ActorError, ValueError):
    """A node without a keyring was asked to bind an address other hosts can reach (protected mode refuses it).

    Attributes:
        endpoint: the endpoint refused.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(
            f"refusing to bind {endpoint} without a keyring: other hosts could call this node unauthenticated; give"
            " a keyring (keyring_dir/key_name, --keyring/--key-name), bind a loopback address, or pass insecure=True"
            " (--insecure)"
        )
        self.endpoint = endpoint


class KeyringError(ActorError, ValueError):
    """A keyring directory is missing, incomplete, or asked for something it cannot do (a bad or unknown name)."""
