"""Prometheus metrics of a node: per actor, per transport direction, membership; served by `zactor node
--metrics-port`."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from zactor import Actor, Context, Restart, RestartPolicy, handler, message
from zactor.errors import RemoteError
from zactor.services.cluster import ClusterNode
from zactor.services.cluster.demo import Add, Calculator
from zactor.services.cluster.metrics import NodeCollector
from zactor.services.cluster.process import NodeProcess
from zactor.services.replication import MemoryStorage, ReplicatedStore
from zactor.services.selector import Consistency, NotEnoughNodes
from zactor.testing import wait_until


@message("test.metrics.Boom")
class Boom:
    pass


class Bomb(Actor):
    @handler
    async def boom(self, msg: Boom, ctx: Context) -> None:
        raise ValueError("boom")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_the_collector_reports_actors_transport_and_membership() -> None:
    """After two remote asks (one failing) and a tell, the counters say so."""
    async with ClusterNode() as server, ClusterNode() as client:
        await server.add_actor("calc", Calculator())
        await server.add_actor("bomb", Bomb())
        await client.ref("calc", address=server.address).ask(Add(a=1, b=2))
        with pytest.raises(RemoteError):
            await client.ref("bomb", address=server.address).ask(Boom())
        registry = CollectorRegistry()
        registry.register(NodeCollector(server))
        samples = _samples(generate_latest(registry).decode())
    assert samples[("zactor_actor_messages_total", (("actor", "calc"), ("kind", "ask")))] == 1
    assert samples[("zactor_actor_failures_total", (("actor", "bomb"),))] == 1
    assert samples[("zactor_actor_handler_seconds_count", (("actor", "calc"),))] == 1
    assert samples[("zactor_transport_envelopes_total", (("direction", "in"),))] >= 2
    assert samples[("zactor_transport_bytes_total", (("direction", "out"),))] > 0
    assert samples[("zactor_members", (("status", "live"),))] == 1
    assert ("zactor_hlc_rejected_total", ()) in samples


async def test_restarts_budget_and_terminations_are_counted() -> None:
    """A supervised actor that crashed once: one restart, one more allowed; a removed actor counts as removed."""
    async with ClusterNode() as node:
        policy = RestartPolicy(mode=Restart.ON_FAILURE, max_restarts=2, within_s=60.0, backoff_s=0.01, jitter=0.0)
        bomb = await node.add_actor("bomb", Bomb, restart=policy)
        await node.add_actor("calc", Calculator())
        with pytest.raises(RemoteError):
            await bomb.ask(Boom())
        supervisor = node.registry.supervisor("bomb")
        assert supervisor is not None
        await wait_until(lambda: supervisor.restarts == 1, what="the restart")
        await node.remove_actor("calc")
        registry = CollectorRegistry()
        registry.register(NodeCollector(node))
        samples = _samples(generate_latest(registry).decode())
    assert samples[("zactor_actor_restarts_total", (("actor", "bomb"),))] == 1
    assert samples[("zactor_actor_restart_budget", (("actor", "bomb"),))] == 1
    assert samples[("zactor_actor_terminations_total", (("reason", "removed"),))] == 1


async def test_the_store_counts_writes_per_level_and_refusals() -> None:
    """A lone store node with replication_factor=3: ONE is written and counted, QUORUM is refused and counted."""
    store = ReplicatedStore(MemoryStorage(), replication_factor=3)
    async with ClusterNode(extensions=[store]) as node:
        await store.put("ks", "k", b"v", Consistency.ONE)
        with pytest.raises(NotEnoughNodes):
            await store.put("ks", "k", b"v", Consistency.QUORUM)
        registry = CollectorRegistry()
        registry.register(NodeCollector(node))
        samples = _samples(generate_latest(registry).decode())
    events = {
        labels[0][1]: value for (name, labels), value in samples.items() if name == "zactor_replication_events_total"
    }
    assert events["writes_one"] == 1 and events["writes_quorum"] == 1 and events["not_enough_nodes"] == 1


def test_a_node_serves_its_metrics_over_http() -> None:
    """`zactor node --metrics-port PORT` answers GET /metrics in Prometheus' text format."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    calc = {"calc": "zactor.services.cluster.demo:Calculator"}
    with NodeProcess("metered", actors=calc, extra_args=("--metrics-port", str(port))) as node:
        assert node.is_alive()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    samples = _samples(text)
    assert samples[("zactor_actor_mailbox_depth", (("actor", "calc"),))] == 0
    assert samples[("zactor_members", (("status", "live"),))] == 1
