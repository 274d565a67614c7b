"""``VirtualRef``: a reference to a virtual actor by kind and key, valid wherever (and whether) it is active.

An ask goes to the node believed to lead the key's shard: first the one a previous answer named, else the host of the
kind that ranks first for the shard's group (the rendezvous order the election derives its voters from). A
``NotOwner`` answer names the leader its node knows, and the ask is sent again there; a node that is gone or knows
no leader yet is retried after a short pause. Every retry stays within the ask's one deadline, so a message sent
during a move is delivered once its new owner holds the shard, or fails with ``RequestTimeout``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar, overload

from zactor.errors import ActorNotFound, ActorTerminated, NodeUnavailable, RequestTimeout
from zactor.ref import check_reply_type
from zactor.services.election.model import rank
from zactor.services.virtual.model import (
    META_PREFIX,
    VIRTUAL_ACTOR,
    Redirect,
    VirtualAsk,
    VirtualTell,
    group_of,
    shard_of,
)
from zactor.transport.codec import Returns, reply_type_of

if TYPE_CHECKING:
    from zactor.services.cluster.node import ClusterNode

__all__ = ["VirtualRef"]

R = TypeVar("R")

#: The pause before asking again when no node could take the message (no leader known yet, or one gone), in seconds.
_RETRY_S = 0.05


class VirtualRef:
    """The instance ``key`` of ``kind``, addressed through the cluster (``cluster.virtual(kind, key)``).

    Attributes:
        kind, key: what it names.
    """

    __slots__ = ("_node", "kind", "key")

    def __init__(self, node: ClusterNode, kind: str, key: str) -> None:
        self._node = node
        self.kind = kind
        self.key = key

    def __repr__(self) -> str:
        return f"VirtualRef({self.kind!r}, {self.key!r})"

    @overload
    async def ask(self, msg: Returns[R], *, timeout_s: float | None = None) -> R: ...

    @overload
    async def ask(self, msg: object, *, timeout_s: float | None = None) -> Any: ...

    async def ask(self, msg: object, *, timeout_s: float | None = None) -> Any:
        """Send ``msg`` to the instance, activating it on its owner if needed, and wait for the reply.

        Raises:
            RequestTimeout: no owner answered within ``timeout_s`` seconds (default: the node's
                ``default_timeout_s``), moves and retries included.
            ActorNotFound: no live member hosts ``kind``.
            RemoteError, HandlerNotFound, DecodeError, ...: as for :meth:`zactor.ActorRef.ask`.
        """
        reply = await self._send(VirtualAsk(kind=self.kind, key=self.key, msg=msg), timeout_s)
        return check_reply_type(f"{self.kind}/{self.key}", msg, reply, reply_type_of(type(msg)))

    async def tell(self, msg: object, *, timeout_s: float | None = None) -> None:
        """Send ``msg`` without waiting for its handling; it is delivered once an owner took it (that part is
        awaited, within ``timeout_s``).

        Raises:
            RequestTimeout, ActorNotFound: as for :meth:`ask`.
        """
        await self._send(VirtualTell(kind=self.kind, key=self.key, msg=msg), timeout_s)

    async def _send(self, envelope: VirtualAsk | VirtualTell, timeout_s: float | None) -> Any:
        node = self._node
        timeout = node.config.default_timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            shard, owner, hosts = self._owner()
            try:
                reply = await node.ref(VIRTUAL_ACTOR, address=node.membership.address_of(owner)).ask(
                    envelope, timeout_s=left
                )
            except (NodeUnavailable, ActorTerminated):  # the owner is gone: the shard moves
                node.virtual_owners.pop(shard, None)
            else:
                if not isinstance(reply, Redirect):
                    return reply
                if reply.leader != owner and reply.leader in hosts:
                    node.virtual_owners[shard] = reply.leader
                    continue
                node.virtual_owners.pop(shard, None)
            await asyncio.sleep(min(_RETRY_S, max(0.0, deadline - loop.time())))
        raise RequestTimeout(f"{self.kind}/{self.key}", timeout)

    def _owner(self) -> tuple[tuple[str, int], str, dict[str, str]]:
        """The key's shard, the node to ask (the last one named as its leader, else the host of the kind that ranks
        first for the shard's group), and the kind's live hosts.

        Raises:
            ActorNotFound: no live member hosts the kind.
        """
        node = self._node
        hosts = node.membership.hosts_with_meta(META_PREFIX + self.kind)
        if not hosts:
            raise ActorNotFound(f"{self.kind}/{self.key}", "any member")
        shard = (self.kind, shard_of(self.key, int(next(iter(hosts.values())))))
        owner = node.virtual_owners.get(shard)
        if owner is None or owner not in hosts:
            group = group_of(*shard)
            owner = max(hosts, key=lambda node_id: rank(group, node_id))
        return shard, owner, hosts
