"""An in-memory transport with the ZeroMQ transport's interface, for fast deterministic tests.

Every envelope is still fully encoded: frames are copied to ``bytes`` on send (as if they crossed a wire) and
delivered on a later loop iteration, in order per link. An :class:`InMemoryNetwork` joins the transports and can cut
links (a partition) or drop a fraction of envelopes chosen by a seeded ``random.Random``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Sequence
from typing import Any

from zactor.transport.base import DEFAULT_MAX_MESSAGE_BYTES, ReplyHandler, RequestHandler, Transport

__all__ = ["InMemoryNetwork", "InMemoryTransport"]

log = logging.getLogger("zactor.transport")


class InMemoryNetwork:
    """The shared medium for :class:`InMemoryTransport` instances.

    Args:
        seed: seeds the random choice of which envelopes :attr:`loss_rate` drops.

    Attributes:
        loss_rate: the fraction (0.0 to 1.0) of envelopes dropped at random.
    """

    def __init__(self, seed: int = 0) -> None:
        self._endpoints: dict[str, InMemoryTransport] = {}
        self._cut: set[frozenset[str]] = set()
        self._names = itertools.count(1)
        self._rng = random.Random(seed)
        self.loss_rate = 0.0

    def transport(self, **kwargs: Any) -> InMemoryTransport:
        """A new transport attached to this network (keyword arguments as for :class:`InMemoryTransport`)."""
        return InMemoryTransport(self, **kwargs)

    def cut(self, a: str, b: str) -> None:
        """Drop every envelope between the endpoints ``a`` and ``b``, both ways, until :meth:`heal`."""
        self._cut.add(frozenset((a, b)))

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Restore the link between ``a`` and ``b``, or every link when called without arguments."""
        if a is None or b is None:
            self._cut.clear()
        else:
            self._cut.discard(frozenset((a, b)))

    def _bind(self, address: str, transport: InMemoryTransport) -> str:
        if address.endswith(":0") or address.endswith(":*"):
            address = f"{address.rsplit(':', 1)[0]}:{next(self._names)}"
        if address in self._endpoints:
            raise OSError(98, f"address in use: {address}")
        self._endpoints[address] = transport
        return address

    def _unbind(self, address: str) -> None:
        self._endpoints.pop(address, None)

    def _route(self, src: str, dst: str) -> InMemoryTransport | None:
        target = self._endpoints.get(dst)
        if target is None or frozenset((src, dst)) in self._cut:
            return None
        if self.loss_rate and self._rng.random() < self.loss_rate:
            return None
        return target


def _wire_copy(frames: Sequence[Any]) -> list[Any]:
    copied: list[Any] = [bytes(f) for f in frames[:1]]
    copied.extend(memoryview(bytes(f)) for f in frames[1:])
    return copied


class InMemoryTransport(Transport):
    """A :class:`~zactor.transport.base.Transport` over an :class:`InMemoryNetwork`.

    Endpoints are any string (``mem://a``); binding one that ends in ``:0`` picks a fresh unique name. A peer
    identity is the sender's bound endpoint, encoded as UTF-8. An envelope to an unbound endpoint, or over a cut
    link, is dropped and counted (as a real network would lose it).

    Args:
        network: the network to attach to.
        max_message_bytes: the largest envelope sent, in bytes.
    """

    def __init__(self, network: InMemoryNetwork, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        super().__init__(max_message_bytes)
        self.network = network

    async def start(self, bind: str, on_request: RequestHandler, on_reply: ReplyHandler) -> str:
        if self._address is not None:
            raise RuntimeError("transport already started")
        self._loop = asyncio.get_running_loop()
        self._on_request, self._on_reply = on_request, on_reply
        self._address = self.network._bind(bind, self)
        return self._address

    async def send(self, endpoint: str, frames: Sequence[Any], timeout_s: float) -> None:
        self.send_nowait(endpoint, frames)

    def send_nowait(self, endpoint: str, frames: Sequence[Any]) -> bool:
        self._outgoing(frames)
        src = self.address
        target = self.network._route(src, endpoint)
        if target is None:
            self.stats["dropped_unroutable"] += 1
            return True
        copied = _wire_copy(frames)
        peer = src.encode()
        target._later(lambda: target._deliver_request(peer, copied))
        return True

    def reply(self, peer: bytes, frames: Sequence[Any], timeout_s: float) -> bool:
        self._outgoing(frames)
        src = self.address
        target = self.network._route(src, peer.decode(errors="replace"))
        if target is None:
            self.stats["dropped_unroutable"] += 1
            log.warning("dropped a reply to %r: unreachable", peer)
            return False
        copied = _wire_copy(frames)
        target._later(lambda: target._deliver_reply(src, copied))
        return True

    def _later(self, deliver: Any) -> None:
        if self._address is not None and self._loop is not None:
            self._loop.call_soon(self._guarded, deliver)

    def _guarded(self, deliver: Any) -> None:
        if self._address is not None:
            deliver()

    def forget(self, endpoint: str) -> None:
        """Nothing to close in memory; kept for interface parity."""

    async def close(self) -> None:
        if self._address is not None:
            self.network._unbind(self._address)
            self._address = None
