"""A reusable test suite that every :class:`~zactor.transport.base.Transport` must pass.

Subclass it in a test module under a name pytest collects, and say how to build the transport::

    from zactor.testing import TransportTestSuite
    from zactor.transport import InMemoryNetwork

    class TestInMemoryTransport(TransportTestSuite):
        bind_address = "mem://node:0"

        def setup_method(self) -> None:          # one network per test: its transports must reach each other
            self.network = InMemoryNetwork()

        def make_transport(self, **limits):
            return self.network.transport(**limits)

The tests are plain methods running their own event loop, so no pytest plugin is needed. They cover delivery and
reply routing, order per link, size limits, unroutable replies, failing callbacks, and closing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from zactor.loops import run as run_loop
from zactor.testing.waiting import wait_until
from zactor.transport.base import Transport
from zactor.transport.errors import MessageTooLarge, TransportClosed

__all__ = ["TransportTestSuite"]


class _Endpoint:
    """A started transport that records what it receives."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.requests: list[tuple[bytes, list[bytes]]] = []
        self.replies: list[tuple[str, list[bytes]]] = []

    async def start(self, bind: str) -> _Endpoint:
        await self.transport.start(bind, self._on_request, self._on_reply)
        return self

    @property
    def address(self) -> str:
        return self.transport.address

    def _on_request(self, peer: bytes, frames: list[Any]) -> None:
        self.requests.append((peer, [bytes(f) for f in frames]))

    def _on_reply(self, endpoint: str, frames: list[Any]) -> None:
        self.replies.append((endpoint, [bytes(f) for f in frames]))


class TransportTestSuite:
    """The transport conformance tests; subclasses set :attr:`bind_address` and define :meth:`make_transport`.

    Attributes:
        bind_address: an endpoint every transport of the test can bind, picking a free port or name (``:0``).
        event_loop: the event loop the tests run on (``"auto"``, ``"uvloop"`` or ``"asyncio"``; ``None``: as
            :func:`zactor.loops.loop_kind` picks by default).
    """

    bind_address = "tcp://127.0.0.1:0"
    event_loop: str | None = None

    def make_transport(self, **limits: Any) -> Transport:
        """Build an unstarted transport; ``limits`` are keyword arguments such as ``max_message_bytes``. The
        transports built within one test must reach each other."""
        raise NotImplementedError("TransportTestSuite subclasses define make_transport(**limits)")

    def _run(self, count: int, check: Callable[..., Awaitable[None]], **limits: Any) -> None:
        async def run() -> None:
            endpoints = [await _Endpoint(self.make_transport(**limits)).start(self.bind_address) for _ in range(count)]
            try:
                await check(*endpoints)
            finally:
                for endpoint in endpoints:
                    await endpoint.transport.close()

        run_loop(run(), loop=self.event_loop)

    def test_request_and_reply_round_trip(self) -> None:
        """Frames sent to an endpoint arrive intact; a reply to the peer comes back on the sender's connection."""

        async def check(server: _Endpoint, client: _Endpoint) -> None:
            frames = [b"h", b"b", b"buf1", b"\x00" * 100_000]
            await client.transport.send(server.address, frames, 1.0)
            await wait_until(lambda: server.requests, what="the request")
            peer, received = server.requests[0]
            assert received == frames
            assert server.transport.reply(peer, [b"rh", b"rb"], 1.0) is True
            await wait_until(lambda: client.replies, what="the reply")
            assert client.replies[0] == (server.address, [b"rh", b"rb"])

        self._run(2, check)

    def test_send_nowait_delivers_in_order_with_send(self) -> None:
        """What send_nowait takes arrives like what send sends, in the order of the calls on one link."""

        async def check(server: _Endpoint, client: _Endpoint) -> None:
            await client.transport.send(server.address, [b"0", b""], 1.0)
            assert client.transport.send_nowait(server.address, [b"1", b""]) is True
            await client.transport.send(server.address, [b"2", b""], 1.0)
            await wait_until(lambda: len(server.requests) == 3, what="3 requests")
            assert [frames[0] for _, frames in server.requests] == [b"0", b"1", b"2"]

        self._run(2, check)

    def test_order_is_kept_per_link(self) -> None:
        """Envelopes on one link arrive in the order they were sent."""

        async def check(server: _Endpoint, client: _Endpoint) -> None:
            for i in range(200):
                await client.transport.send(server.address, [str(i).encode(), b""], 1.0)
            await wait_until(lambda: len(server.requests) == 200, what="200 requests")
            assert [int(frames[0]) for _, frames in server.requests] == list(range(200))

        self._run(2, check)

    def test_replies_reach_the_right_client(self) -> None:
        """With two clients, each reply goes to the peer it is addressed to."""

        async def check(server: _Endpoint, *clients: _Endpoint) -> None:
            for i, client in enumerate(clients):
                await client.transport.send(server.address, [b"from", str(i).encode()], 1.0)
            await wait_until(lambda: len(server.requests) == 2, what="2 requests")
            for peer, frames in server.requests:
                server.transport.reply(peer, [b"to", frames[1]], 1.0)
            await wait_until(lambda: all(c.replies for c in clients), what="both replies")
            assert [c.replies[0][1][1] for c in clients] == [b"0", b"1"]

        self._run(3, check)

    def test_oversized_envelope_is_refused_before_sending(self) -> None:
        """An envelope over max_message_bytes raises MessageTooLarge and nothing is delivered."""

        async def check(server: _Endpoint, client: _Endpoint) -> None:
            try:
                await client.transport.send(server.address, [b"h", b"x" * 1000], 1.0)
            except MessageTooLarge as exc:
                assert (exc.size_bytes, exc.limit_bytes) == (1001, 1000)
            else:
                raise AssertionError("an envelope of 1001 bytes was sent with max_message_bytes=1000")
            await client.transport.send(server.address, [b"h", b"ok"], 1.0)
            await wait_until(lambda: server.requests, what="the small request")
            assert [frames for _, frames in server.requests] == [[b"h", b"ok"]]

        self._run(2, check, max_message_bytes=1000)

    def test_reply_to_unknown_peer_is_dropped_and_counted(self) -> None:
        """A reply to a peer that is not connected returns False and is counted, never raising."""

        async def check(server: _Endpoint) -> None:
            assert server.transport.reply(b"nobody-here", [b"h", b"b"], 0.1) is False
            assert server.transport.stats["dropped_unroutable"] == 1

        self._run(1, check)

    def test_failing_callback_does_not_stop_delivery(self) -> None:
        """An exception in the inbound callback is counted and later envelopes still arrive."""
        seen: list[bytes] = []

        def on_request(peer: bytes, frames: list[Any]) -> None:
            if frames[0] == b"boom":
                raise RuntimeError("boom")
            seen.append(bytes(frames[0]))

        async def check(client: _Endpoint) -> None:
            server = self.make_transport()
            await server.start(self.bind_address, on_request, lambda endpoint, frames: None)
            try:
                await client.transport.send(server.address, [b"boom", b""], 1.0)
                await client.transport.send(server.address, [b"fine", b""], 1.0)
                await wait_until(lambda: seen, what="the second envelope")
                assert seen == [b"fine"] and server.stats["callback_errors"] == 1
            finally:
                await server.close()

        self._run(1, check)

    def test_close_is_idempotent_and_sending_after_close_fails(self) -> None:
        """Closing twice is fine; a closed transport refuses to send with TransportClosed."""

        async def check(server: _Endpoint, client: _Endpoint) -> None:
            address = server.address
            await server.transport.close()
            await server.transport.close()
            await client.transport.close()
            try:
                await client.transport.send(address, [b"h", b"b"], 0.1)
            except TransportClosed:
                return
            raise AssertionError("a closed transport sent an envelope")

        self._run(2, check)

    def test_close_releases_the_address(self) -> None:
        """After close, the same address can be bound again."""

        async def check(first: _Endpoint) -> None:
            address = first.address
            await first.transport.close()
            second = await _Endpoint(self.make_transport()).start(address)
            try:
                assert second.address == address
            finally:
                await second.transport.close()

        self._run(1, check)
