"""``VirtualRef``: a reference to a virtual actor by kind and key, valid wherever (and whether) it is active.

An ask to a key whose owner a previous answer named goes straight to the activation there, as a plain ask (the
router is not on the path); one that finds no activation, and every first ask and tell, goes to the node's
``zactor.virtual`` router, which activates the key or redirects. An ask goes to the node believed to lead the key's
shard: first the one a previous answer named, else the host of the
kind that ranks first for the shard's group (the rendezvous order the election derives its voters from). A
``NotOwner`` answer names the leader its node knows, and the ask is sent again there; a node that is gone or knows
no leader yet, or a redirect back to a node asked already (as while a shard is handed off), is retried after a
short pause. Every retry stays within the ask's one deadline, so a message sent
during a move is delivered once its new owner holds the shard, or fails with ``RequestTimeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, TypeVar, overload

from zactor.errors import ActorNotFound, ActorTerminated, NodeUnavailable, RequestTimeout
from zactor.ref import check_reply_type
from zactor.services.virtual.model import (
    META_PREFIX,
    VIRTUAL_ACTOR,
    Redirect,
    VirtualAsk,
    VirtualTell,
    first_guess,
    instance_name,
    shard_of,
)
from zactor.transport.codec import Returns, reply_type_of

if TYPE_CHECKING:
    from zactor.ref import ActorRef
    from zactor.services.cluster.node import ClusterNode

__all__ = ["VirtualRef"]

R = TypeVar("R")

_NODE_GONE = ("node_dead", "node_left")

#: The pause before asking again when no node could take the message (no leader known yet, or one gone), in seconds.
_RETRY_S = 0.05


class VirtualRef:
    """The instance ``key`` of ``kind``, addressed through the cluster (``cluster.virtual(kind, key)``).

    Attributes:
        kind, key: what it names.
    """

    __slots__ = ("_node", "kind", "key", "_shard_key")

    def __init__(self, node: ClusterNode, kind: str, key: str) -> None:
        self._node = node
        self.kind = kind
        self.key = key
        self._shard_key: tuple[str, int] | None = None

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
        owners = node.virtual_actors.owners
        visited: set[str] = set()  # nodes asked since the last pause: a redirect back to one waits first
        while (left := deadline - loop.time()) > 0:
            shard = self._shard()
            cached = owners.get(shard)
            owner, router = cached or self._first_guess(shard)
            try:
                if cached is not None and isinstance(envelope, VirtualAsk):
                    with contextlib.suppress(_NotActive):
                        return await self._ask_active(router, envelope.msg, left)
                    left = deadline - loop.time()
                reply = await router.ask(envelope, timeout_s=left)
            except (NodeUnavailable, ActorTerminated):  # the owner is gone: the shard moves
                owners.pop(shard, None)
            else:
                if not isinstance(reply, Redirect):
                    owners[shard] = (owner, router)
                    return reply
                owners.pop(shard, None)
                visited.add(owner)
                hosts = node.membership.hosts_with_meta(META_PREFIX + self.kind)
                if reply.leader != owner and reply.leader in hosts:
                    owners[shard] = (reply.leader, self._router(reply.leader))
                    if reply.leader not in visited:
                        continue
            visited.clear()
            await asyncio.sleep(min(_RETRY_S, max(0.0, deadline - loop.time())))
        raise RequestTimeout(f"{self.kind}/{self.key}", timeout)

    async def _ask_active(self, router: ActorRef, msg: Any, timeout_s: float) -> Any:
        """Ask the activation at the router's node directly, as any actor is asked (no hop through the router).

        Raises:
            _NotActive: it is not active there (never was, deactivated, or moved): the router activates or redirects.
        """
        instance = self._node.ref(instance_name(self.kind, self.key), address=router.address)
        try:
            return await instance.ask(msg, timeout_s=timeout_s)
        except ActorNotFound as exc:
            if exc.actor != instance.name or (isinstance(exc, ActorTerminated) and exc.reason in _NODE_GONE):
                raise  # a handler's own lookup failed, or the node is gone: not "inactive"
            raise _NotActive from None

    def _shard(self) -> tuple[str, int]:
        """The key's shard (the kind's shard count is read from its hosts' meta once per ref).

        Raises:
            ActorNotFound: no live member hosts the kind.
        """
        if self._shard_key is None:
            hosts = self._node.membership.hosts_with_meta(META_PREFIX + self.kind)
            if not hosts:
                raise ActorNotFound(f"{self.kind}/{self.key}", "any member")
            self._shard_key = (self.kind, shard_of(self.key, int(next(iter(hosts.values())))))
        return self._shard_key

    def _first_guess(self, shard: tuple[str, int]) -> tuple[str, ActorRef]:
        """The host of the kind that ranks first for the shard's group (the election's voters come in that order).

        Raises:
            ActorNotFound: no live member hosts the kind.
        """
        hosts = self._node.membership.hosts_with_meta(META_PREFIX + self.kind)
        if not hosts:
            raise ActorNotFound(f"{self.kind}/{self.key}", "any member")
        owner = first_guess(self.kind, self.key, hosts)
        return owner, self._router(owner)

    def _router(self, node_id: str) -> ActorRef:
        return self._node.ref(VIRTUAL_ACTOR, address=self._node.membership.address_of(node_id))


class _NotActive(Exception):
    """The key is not active at the node asked directly."""
