"""Fixtures for the actor tests: node pairs over both transports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from zactor import Node, NodeConfig
from zactor.transport import InMemoryNetwork

NodePair = Callable[..., Any]


@pytest.fixture(params=["zmq", "memory", "zmq+asyncio"])
def node_pair(request: pytest.FixtureRequest) -> NodePair:
    """``async with node_pair(**config) as (server, client)``: two started nodes on one transport kind (ZeroMQ on
    the default loop and on asyncio's own, see ``tests/conftest.py``, or in memory)."""

    @asynccontextmanager
    async def pair(**config: Any) -> AsyncIterator[tuple[Node, Node]]:
        network = InMemoryNetwork() if request.param == "memory" else None
        bind = "mem://n:0" if network else "tcp://127.0.0.1:0"
        nodes = []
        for node_id in ("server", "client"):
            node_config = NodeConfig(node_id=node_id, bind=bind, **config)
            transport = network.transport(max_message_bytes=node_config.max_message_bytes) if network else None
            nodes.append(Node(node_config, transport=transport))
        for node in nodes:
            await node.start()
        try:
            yield nodes[0], nodes[1]
        finally:
            for node in nodes:
                await node.stop()

    return pair
