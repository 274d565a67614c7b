"""Prometheus metrics of a node, read from its counters when scraped (``prometheus-client``'s custom collector).

Nothing here runs on the message path: the runtime keeps plain counters (per actor, per transport, per service)
and :class:`NodeCollector` turns them into metric families at each scrape. ``zactor node --metrics-port PORT``
serves them at ``http://127.0.0.1:PORT/metrics``.

Families (all prefixed ``zactor_``):

- ``actor_messages_total{actor,kind}``, ``actor_failures_total{actor}``, ``actor_cancelled_total{actor}``,
  ``actor_mailbox_depth{actor}``, ``actor_handler_seconds{actor}`` (a histogram); for supervised actors
  ``actor_restarts_total{actor}`` and ``actor_restart_budget{actor}`` (restarts the policy allows now);
  ``actor_terminations_total{reason}`` (removed, stopped, failed, gave_up);
- ``transport_envelopes_total{direction}``, ``transport_bytes_total{direction}``, ``transport_events_total{event}``
  (send back-offs, refused handshakes, dropped replies...);
- ``virtual_events_total{event}`` (activations, deactivations, not_owner, stale_term: an activation whose claim a
  newer term refused) and ``virtual_active``;
- ``node_events_total{event}`` (decode errors, unknown actors, clock rejections, cancels...);
- ``members{status}``, ``member_phi{peer}``, ``gossip_events_total{event}`` (with a membership service);
- ``hlc_rejected_total`` (with a clock service);
- ``replication_events_total{event}`` (writes per consistency level, refusals and failures, stale_terms: fenced
  claims and writes refused as stale, anti-entropy documents, rounds and failures; with a replicated store).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from zactor.mailbox import LATENCY_BUCKETS_S
from zactor.node import Node
from zactor.services.clock.service import ClockService
from zactor.services.membership.service import MembershipService
from zactor.services.replication import ReplicatedStore
from zactor.services.virtual import VirtualActors

__all__ = ["NodeCollector", "serve_metrics"]

_IN_OUT = {"envelopes_in": "in", "envelopes_out": "out", "bytes_in": "in", "bytes_out": "out"}


class NodeCollector(Collector):
    """The metrics of one node (see the module docstring).

    Args:
        node: the node whose counters are read at each scrape.
    """

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        """The metric families, read now."""
        yield from self._actors()
        yield from self._transport()
        yield _counters("zactor_node_events", "Notable events of the node.", "event", self.node.stats)
        yield from self._services()

    def _actors(self) -> Iterator[Metric]:
        messages = CounterMetricFamily("zactor_actor_messages", "Messages handled.", labels=["actor", "kind"])
        failures = CounterMetricFamily("zactor_actor_failures", "Handlers that raised.", labels=["actor"])
        cancelled = CounterMetricFamily("zactor_actor_cancelled", "Asks cancelled by their caller.", labels=["actor"])
        depth = GaugeMetricFamily("zactor_actor_mailbox_depth", "Messages waiting.", labels=["actor"])
        latency = HistogramMetricFamily("zactor_actor_handler_seconds", "Handler run time.", labels=["actor"])
        restarts = CounterMetricFamily("zactor_actor_restarts", "Restarts by the actor's policy.", labels=["actor"])
        budget = GaugeMetricFamily(
            "zactor_actor_restart_budget", "Restarts the actor's policy allows now.", labels=["actor"]
        )
        registry = self.node.registry
        for name in registry.names():
            mailbox = registry.get(name)
            if mailbox is None:
                continue
            stats = mailbox.stats
            messages.add_metric([name, "ask"], stats.asks)
            messages.add_metric([name, "tell"], stats.tells)
            failures.add_metric([name], stats.failures)
            cancelled.add_metric([name], mailbox.cancelled)
            depth.add_metric([name], len(mailbox))
            cumulative, buckets = 0, []
            for bound, count in zip((*map(str, LATENCY_BUCKETS_S), "+Inf"), stats.buckets, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric([name], buckets, stats.seconds)
        registry = self.node.registry
        for name in self.node.actors():
            supervisor = registry.supervisor(name)
            if supervisor is not None:
                restarts.add_metric([name], supervisor.restarts)
                budget.add_metric([name], supervisor.budget_left())
        yield from (messages, failures, cancelled, depth, latency, restarts, budget)
        yield _counters(
            "zactor_actor_terminations", "Actors that terminated, by reason.", "reason", registry.terminations
        )

    def _transport(self) -> Iterator[Metric]:
        stats = self.node.transport.stats
        envelopes = CounterMetricFamily("zactor_transport_envelopes", "Envelopes.", labels=["direction"])
        nbytes = CounterMetricFamily("zactor_transport_bytes", "Envelope bytes.", labels=["direction"])
        for key, direction in _IN_OUT.items():
            (envelopes if key.startswith("envelopes") else nbytes).add_metric([direction], stats[key])
        others = collections.Counter({k: v for k, v in stats.items() if k not in _IN_OUT})
        yield from (envelopes, nbytes)
        yield _counters("zactor_transport_events", "Transport events.", "event", others)

    def _services(self) -> Iterator[Metric]:
        node = self.node
        try:
            membership = node.extension(MembershipService)
        except LookupError:
            membership = None
        if membership is not None:
            yield from _membership(membership)
        try:
            yield CounterMetricFamily(
                "zactor_hlc_rejected",
                "Remote timestamps refused as too far ahead.",
                node.extension(ClockService).rejected,
            )
        except LookupError:
            pass
        try:
            virtual = node.extension(VirtualActors)
        except LookupError:
            virtual = None
        if virtual is not None:
            yield _counters(
                "zactor_virtual_events",
                "Virtual actors' activations, deactivations and messages redirected.",
                "event",
                collections.Counter(virtual.stats),
            )
            yield GaugeMetricFamily("zactor_virtual_active", "Virtual actors active here.", len(virtual.active()))
        try:
            store = node.extension(ReplicatedStore)
        except LookupError:
            return
        events = collections.Counter(store.stats)
        if store.anti_entropy is not None:
            events.update({f"anti_entropy_{k}": v for k, v in store.anti_entropy.stats.items()})
        yield _counters("zactor_replication_events", "Writes by level, failures, anti-entropy.", "event", events)


def _membership(membership: MembershipService) -> Iterator[Metric]:
    members = GaugeMetricFamily("zactor_members", "Known members by status.", labels=["status"])
    phi = GaugeMetricFamily("zactor_member_phi", "Phi-accrual suspicion of each peer.", labels=["peer"])
    counts: collections.Counter[str] = collections.Counter()
    for member in membership.members(include_down=True):
        counts[member.status.value] += 1
        phi.add_metric([member.node_id], member.phi)
    for status, count in sorted(counts.items()):
        members.add_metric([status], count)
    yield from (members, phi)
    events = collections.Counter(membership.stats) + collections.Counter(membership.core.stats)
    yield _counters("zactor_gossip_events", "Gossip events.", "event", events)


def _counters(name: str, documentation: str, label: str, counts: collections.Counter[str]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(counts.items()):
        family.add_metric([key], value)
    return family


def serve_metrics(node: Node, port: int, host: str = "127.0.0.1") -> CollectorRegistry:
    """Serve ``node``'s metrics over HTTP at ``http://host:port/metrics`` (a daemon thread of prometheus-client).
    Returns the registry.

    Raises:
        OSError: the port cannot be bound.
    """
    registry = CollectorRegistry()
    registry.register(NodeCollector(node))
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    return registry
