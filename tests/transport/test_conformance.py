"""The transport conformance suite (``zactor.testing.TransportTestSuite``), run against both transports, and for
ZeroMQ on both event loops (uvloop and asyncio's own: the FD handling differs), with a ROUTER and with the asyncio
ZMTP listener."""

from __future__ import annotations

from typing import Any

from zactor.testing import TransportTestSuite
from zactor.transport import InMemoryNetwork, InMemoryTransport, ZmqTransport


class TestZmqTransport(TransportTestSuite):
    """Inbound on a libzmq ROUTER."""

    bind_address = "tcp://127.0.0.1:0"

    def make_transport(self, **limits: Any) -> ZmqTransport:
        return ZmqTransport(asyncio_zmtp=False, **limits)


class TestZmqTransportOnAsyncio(TestZmqTransport):
    event_loop = "asyncio"


class TestZmqTransportWithZmtpListener(TestZmqTransport):
    """Inbound on the asyncio ZMTP listener instead of the ROUTER."""

    def make_transport(self, **limits: Any) -> ZmqTransport:
        return ZmqTransport(asyncio_zmtp=True, **limits)


class TestZmqTransportWithZmtpListenerOnAsyncio(TestZmqTransportWithZmtpListener):
    event_loop = "asyncio"


class TestInMemoryTransport(TransportTestSuite):
    bind_address = "mem://node:0"

    def setup_method(self) -> None:
        self.network = InMemoryNetwork()

    def make_transport(self, **limits: Any) -> InMemoryTransport:
        return self.network.transport(**limits)
