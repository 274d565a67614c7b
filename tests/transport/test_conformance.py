"""One conformance suite, run against both transports: what every Transport must do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support import wait_until

from zactor.transport import InMemoryNetwork, MessageTooLarge, Transport, TransportClosed, ZmqTransport


class Endpoint:
    """A started transport that records what it receives."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.requests: list[tuple[bytes, list[Any]]] = []
        self.replies: list[tuple[str, list[Any]]] = []

    async def start(self, bind: str) -> Endpoint:
        await self.transport.start(bind, self._on_request, self._on_reply)
        return self

    def _on_request(self, peer: bytes, frames: list[Any]) -> None:
        self.requests.append((peer, [bytes(f) for f in frames]))

    def _on_reply(self, endpoint: str, frames: list[Any]) -> None:
        self.replies.append((endpoint, [bytes(f) for f in frames]))


Factory = tuple[Callable[..., Transport], str]


@pytest.fixture(params=["zmq", "memory"])
def factory(request: pytest.FixtureRequest) -> Factory:
    if request.param == "zmq":
        return ZmqTransport, "tcp://127.0.0.1:0"
    network = InMemoryNetwork()
    return network.transport, "mem://node:0"


async def _pair(factory: Factory, **kwargs: Any) -> tuple[Endpoint, Endpoint]:
    make, bind = factory
    server = await Endpoint(make(**kwargs)).start(bind)
    client = await Endpoint(make(**kwargs)).start(bind)
    return server, client


async def test_request_and_reply_round_trip(factory: Factory) -> None:
    """Frames sent to an endpoint arrive intact; a reply to the peer comes back on the sender's connection."""
    server, client = await _pair(factory)
    try:
        address = server.transport.address
        await client.transport.send(address, [b"h", b"b", b"buf1", b"\x00" * 100_000], 1.0)
        await wait_until(lambda: server.requests, what="request")
        peer, frames = server.requests[0]
        assert frames == [b"h", b"b", b"buf1", b"\x00" * 100_000]
        assert server.transport.reply(peer, [b"rh", b"rb"], 1.0) is True
        await wait_until(lambda: client.replies, what="reply")
        assert client.replies[0] == (address, [b"rh", b"rb"])
    finally:
        await client.transport.close()
        await server.transport.close()


async def test_order_is_kept_per_link(factory: Factory) -> None:
    """Envelopes on one link arrive in the order they were sent."""
    server, client = await _pair(factory)
    try:
        for i in range(200):
            await client.transport.send(server.transport.address, [str(i).encode(), b""], 1.0)
        await wait_until(lambda: len(server.requests) == 200, what="200 requests")
        assert [int(frames[0]) for _, frames in server.requests] == list(range(200))
    finally:
        await client.transport.close()
        await server.transport.close()


async def test_replies_reach_the_right_client(factory: Factory) -> None:
    """With two clients, each reply goes to the peer it is addressed to."""
    make, bind = factory
    server = await Endpoint(make()).start(bind)
    clients = [await Endpoint(make()).start(bind) for _ in range(2)]
    try:
        for i, client in enumerate(clients):
            await client.transport.send(server.transport.address, [b"from", str(i).encode()], 1.0)
        await wait_until(lambda: len(server.requests) == 2, what="2 requests")
        for peer, frames in server.requests:
            server.transport.reply(peer, [b"to", frames[1]], 1.0)
        await wait_until(lambda: all(c.replies for c in clients), what="both replies")
        assert [c.replies[0][1][1] for c in clients] == [b"0", b"1"]
    finally:
        for endpoint in (*clients, server):
            await endpoint.transport.close()


async def test_oversized_envelope_is_refused_before_sending(factory: Factory) -> None:
    """An envelope over max_message_bytes raises MessageTooLarge and nothing is delivered."""
    server, client = await _pair(factory, max_message_bytes=1000)
    try:
        with pytest.raises(MessageTooLarge) as info:
            await client.transport.send(server.transport.address, [b"h", b"x" * 1000], 1.0)
        assert info.value.size_bytes == 1001 and info.value.limit_bytes == 1000
        await client.transport.send(server.transport.address, [b"h", b"ok"], 1.0)
        await wait_until(lambda: server.requests, what="the small request")
        assert [frames for _, frames in server.requests] == [[b"h", b"ok"]]
    finally:
        await client.transport.close()
        await server.transport.close()


async def test_reply_to_unknown_peer_is_dropped_and_counted(factory: Factory) -> None:
    """A reply to a peer that is not connected returns False and is counted, never raising."""
    server, client = await _pair(factory)
    try:
        assert server.transport.reply(b"nobody-here", [b"h", b"b"], 0.1) is False
        assert server.transport.stats["dropped_unroutable"] == 1
    finally:
        await client.transport.close()
        await server.transport.close()


async def test_failing_callback_does_not_stop_delivery(factory: Factory) -> None:
    """An exception in the inbound callback is counted and later envelopes still arrive."""
    make, bind = factory
    seen: list[bytes] = []

    def on_request(peer: bytes, frames: list[Any]) -> None:
        if frames[0] == b"boom":
            raise RuntimeError("boom")
        seen.append(bytes(frames[0]))

    server = make()
    await server.start(bind, on_request, lambda e, f: None)
    client = await Endpoint(make()).start(bind)
    try:
        await client.transport.send(server.address, [b"boom", b""], 1.0)
        await client.transport.send(server.address, [b"fine", b""], 1.0)
        await wait_until(lambda: seen, what="the second envelope")
        assert seen == [b"fine"] and server.stats["callback_errors"] == 1
    finally:
        await client.transport.close()
        await server.close()


async def test_close_is_idempotent_and_sending_after_close_fails(factory: Factory) -> None:
    """Closing twice is fine; a closed transport refuses to send with TransportClosed."""
    server, client = await _pair(factory)
    address = server.transport.address
    await server.transport.close()
    await server.transport.close()
    await client.transport.close()
    with pytest.raises(TransportClosed):
        await client.transport.send(address, [b"h", b"b"], 0.1)


async def test_close_releases_the_address(factory: Factory) -> None:
    """After close, the same address can be bound again."""
    make, bind = factory
    first = await Endpoint(make()).start(bind)
    address = first.transport.address
    await first.transport.close()
    second = await Endpoint(make()).start(address)
    assert second.transport.address == address
    await second.transport.close()
