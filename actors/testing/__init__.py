"""Helpers for testing code built on zactor: virtual time, reproducible randomness, and the transport suite.

- :class:`FakeClock`: virtual time for the event loop and the services (after trio's ``MockClock``), so that gossip,
  failure detection and anti-entropy over the in-memory transport run in milliseconds and the same way every time.
- :class:`Seeds`: named, independent ``random.Random`` streams from one seed, for nodes, networks and fuzzers.
- :func:`wait_until`: poll a condition with a deadline on the loop's clock.
- :class:`TransportTestSuite`: the conformance tests every :class:`~zactor.transport.base.Transport` must pass.

A deterministic cluster test puts them together::

    clock, seeds = FakeClock(), Seeds(7)
    network = InMemoryNetwork(seed=seeds.seed_for("network"))
    node = ClusterNode(config, transport=network.transport(), time_source=clock, rng=seeds.rng(config.node_id))
    clock.run(scenario(node))
"""

from zactor.testing.clock import FakeClock
from zactor.testing.seeds import Seeds
from zactor.testing.transport_suite import TransportTestSuite
from zactor.testing.waiting import wait_until

__all__ = ["FakeClock", "Seeds", "TransportTestSuite", "wait_until"]
