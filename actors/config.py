"""Node configuration."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from typing import Any

import attrs

from zactor.transport.base import DEFAULT_MAX_MESSAGE_BYTES
from zactor.transport.codec import DEFAULT_COPY_THRESHOLD_BYTES

__all__ = ["DEFAULT_CLUSTER_ID", "SERIALIZE_LOCAL_ENV", "NodeConfig"]


#: The cluster id of every node, local cluster and command that is given none.
DEFAULT_CLUSTER_ID = "default"
SERIALIZE_LOCAL_ENV = "ZACTOR_SERIALIZE_LOCAL"
"""The environment variable that, set to ``1``, makes ``NodeConfig.serialize_local`` default to on."""


def _new_node_id() -> str:
    return f"node-{uuid.uuid4().hex[:8]}"


def _to_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class NodeConfig:
    """How a node runs. Every field has a default, so ``NodeConfig()`` is a working loopback node.

    Attributes:
        node_id: the node's unique id in its cluster (default: ``key_name`` with a keyring, else ``node-`` and 8
            random hex digits). On a secure cluster it is the name of the node's key, which its peers check.
        bind: the endpoint the node binds for what comes in (``tcp://HOST:PORT``; port 0 picks a free port).
        seeds: endpoints of nodes to join through (used by membership).
        cluster_id: nodes only talk cluster business with nodes of the same cluster id.
        data_center: the node's data center, for data-center-aware node selection.
        default_timeout_s: the deadline of an ask that gives none, in seconds.
        mailbox_size: the default bound of an actor's mailbox, in messages.
        max_message_bytes: the largest envelope sent or accepted, in bytes.
        copy_threshold_bytes: bytes-like fields at least this large travel as zero-copy frames, in bytes.
        linger_s: how long closing a socket may flush queued messages, in seconds.
        hwm: ZeroMQ send/receive high-water mark per connection, in messages.
        max_unread_bytes_per_peer: what the replies one peer has not read yet may hold, in bytes; replies past it
            are dropped and counted (a slow consumer costs only itself).
        stop_timeout_s: how long stopping waits for running handlers before cancelling them, in seconds.
        gossip_interval_s: seconds between membership gossip rounds (unless the membership service is given its
            own configuration).
        keyring_dir: a keyring made by ``zactor keys init`` (see :mod:`zactor.transport.security`): every
            connection is then encrypted and authenticated with CURVE and ZAP. ``None``: protected mode.
        key_name: this node's key in the keyring (``zactor keys add DIR NAME``); required with ``keyring_dir``.
        insecure: without a keyring, allow binding an address other hosts can reach (logged as a warning).
        asyncio_zmtp: without a keyring, speak ZMTP from the event loop (:mod:`zactor.transport.listener` for what
            comes in, :mod:`zactor.transport.dialer` for what goes out) rather than through a ROUTER and DEALERs: no
            libzmq thread on the path. A node with a keyring always uses libzmq's sockets, which speak CURVE.
        serialize_local: send local asks and tells, and their replies, through encode and decode as a remote one
            is (Akka's ``serialize-messages``), so a message the wire cannot carry fails in a one-process test too;
            costs an encode and a checked decode per message. Default: on when the environment variable
            ``ZACTOR_SERIALIZE_LOCAL`` is ``1`` (``zactor.testing.serialize_local`` sets it for a test).

    Raises:
        ValueError: ``keyring_dir`` without ``key_name``, or the other way round; a ``node_id`` other than
            ``key_name`` with a keyring.
    """

    node_id: str = ""
    bind: str = "tcp://127.0.0.1:0"
    seeds: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    cluster_id: str = DEFAULT_CLUSTER_ID
    data_center: str = "dc1"
    default_timeout_s: float = attrs.field(default=5.0, validator=_positive)
    mailbox_size: int = attrs.field(default=10_000, validator=_positive)
    max_message_bytes: int = attrs.field(default=DEFAULT_MAX_MESSAGE_BYTES, validator=_positive)
    copy_threshold_bytes: int = attrs.field(default=DEFAULT_COPY_THRESHOLD_BYTES, validator=_positive)
    linger_s: float = 0.1
    hwm: int = attrs.field(default=10_000, validator=_positive)
    max_unread_bytes_per_peer: int = attrs.field(default=64 * 1024 * 1024, validator=_positive)
    stop_timeout_s: float = attrs.field(default=5.0, validator=_positive)
    gossip_interval_s: float = attrs.field(default=0.2, validator=_positive)
    keyring_dir: str | None = None
    key_name: str | None = None
    insecure: bool = False
    asyncio_zmtp: bool = True
    serialize_local: bool = attrs.field(factory=lambda: os.environ.get(SERIALIZE_LOCAL_ENV) == "1")

    def __attrs_post_init__(self) -> None:
        if (self.keyring_dir is None) != (self.key_name is None):
            raise ValueError("keyring_dir and key_name go together: give both or neither")
        if not self.node_id:
            object.__setattr__(self, "node_id", self.key_name or _new_node_id())
        elif self.key_name is not None and self.node_id != self.key_name:
            raise ValueError(
                f"node_id {self.node_id!r} differs from key_name {self.key_name!r}: on a secure cluster a node's id "
                "is its key's name (peers refuse an envelope whose sender is not its connection's key)"
            )
