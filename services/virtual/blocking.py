"""Virtual actors from the blocking client: ``BlockingVirtualRef(zactor.connect(seeds=[...]), kind, key)``.

The client asks the ``zactor.virtual`` router of any live member (every cluster node runs one); a router that does
not own the key answers ``Redirect`` with the owner it knows or, on a node that does not host the kind, the host
likeliest to own it, and the client asks again there, within the ask's one deadline.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar, overload

from zactor.client import BlockingClient
from zactor.errors import NodeUnavailable, RequestTimeout
from zactor.ref import check_reply_type
from zactor.services.virtual.model import VIRTUAL_ACTOR, Redirect, VirtualAsk, VirtualTell
from zactor.transport.codec import Returns, reply_type_of

__all__ = ["BlockingVirtualRef"]

R = TypeVar("R")

_RETRY_S = 0.05


class BlockingVirtualRef:
    """The instance ``key`` of ``kind``, asked through a blocking client that has ``seeds``.

    Args:
        client: a :func:`zactor.connect` client made with ``seeds``.
        kind, key: the instance.
    """

    def __init__(self, client: BlockingClient, kind: str, key: str) -> None:
        self._client = client
        self.kind = kind
        self.key = key
        self._owner: str | None = None

    @overload
    def ask(self, msg: Returns[R], *, timeout_s: float | None = None) -> R: ...

    @overload
    def ask(self, msg: object, *, timeout_s: float | None = None) -> Any: ...

    def ask(self, msg: object, *, timeout_s: float | None = None) -> Any:
        """Send ``msg`` to the instance, activating it where it belongs, and block for the reply.

        Raises:
            RequestTimeout: no owner answered within ``timeout_s`` seconds (default: the client's).
            RemoteError, DecodeError, ...: as for :meth:`zactor.client.BlockingRef.ask`.
        """
        reply = self._send(VirtualAsk(kind=self.kind, key=self.key, msg=msg), timeout_s)
        return check_reply_type(f"{self.kind}/{self.key}", msg, reply, reply_type_of(type(msg)))

    def tell(self, msg: object, *, timeout_s: float | None = None) -> None:
        """Hand ``msg`` to the instance without waiting for its handling (its owner's queueing is awaited).

        Raises:
            RequestTimeout: as for :meth:`ask`.
        """
        self._send(VirtualTell(kind=self.kind, key=self.key, msg=msg), timeout_s)

    def _send(self, envelope: VirtualAsk | VirtualTell, timeout_s: float | None) -> Any:
        client = self._client
        timeout = client.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            owner = self._owner
            try:
                if owner is None:
                    reply = client.ask(VIRTUAL_ACTOR, envelope, left, any_host=True)
                else:
                    reply = client.ask(VIRTUAL_ACTOR, envelope, left, node_id=owner)
            except NodeUnavailable:
                self._owner = None
            else:
                if not isinstance(reply, Redirect):
                    return reply
                if reply.leader and reply.leader != owner:
                    self._owner = reply.leader
                    continue
                self._owner = None
            time.sleep(min(_RETRY_S, max(0.0, deadline - time.monotonic())))
        raise RequestTimeout(f"{self.kind}/{self.key}", timeout)
