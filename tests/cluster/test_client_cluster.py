"""The blocking client on a cluster found through seeds: every node's actors by node id, any host of an actor, a
failover for asks never delivered, and a node's death noticed at once (or after the heartbeat, for a hung one)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import zactor
from zactor.errors import ActorNotFound, NodeUnavailable
from zactor.services.cluster.demo import Add, Result
from zactor.services.cluster.local_cluster import LocalCluster

pytestmark = [pytest.mark.fault, pytest.mark.timeout(120)]

CALC = {"calc": "zactor.services.cluster.demo:Calculator"}


def test_seeds_reach_every_node_by_id_and_any_host() -> None:
    """From one seed: each node's calc by node id, any host's, and clear errors for an unknown actor or node."""
    with LocalCluster(3, actors=CALC) as cluster, zactor.connect(seeds=[cluster.seed]) as client:
        assert {row[0] for row in client.members().rows} == {"node0", "node1", "node2"}
        for node_id in ("node0", "node1", "node2"):
            assert client.ref("calc", node_id=node_id).ask(Add(a=node_id.count("1"), b=2)).value >= 2
        assert client.ref_any("calc").ask(Add(a=1, b=2)) == Result(value=3)
        with pytest.raises(ActorNotFound):
            client.ref_any("nobody").ask(Add(a=1, b=2))
        with pytest.raises(NodeUnavailable, match="not a live member"):
            client.ref("calc", node_id="node9").ask(Add(a=1, b=2))
        with pytest.raises(ValueError, match="ref_any"):
            client.ref("calc").ask(Add(a=1, b=2))


def test_an_ask_never_delivered_goes_to_another_host() -> None:
    """The host the client tries first (node0, first in its member table) is SIGKILLed while the table still lists
    it: the ask finds the connection refused and is answered by another host, well within its deadline."""
    with LocalCluster(3, actors=CALC) as cluster:
        seeds = [proc.address for proc in cluster.nodes if proc is not None]
        with zactor.connect(seeds=seeds, timeout_s=10.0) as client:
            assert [row[0] for row in client.members().rows][0] == "node0"
            cluster.kill(0)
            started = time.monotonic()
            assert client.ref_any("calc").ask(Add(a=2, b=2)) == Result(value=4)
            assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_a_node_that_dies_or_hangs_mid_ask_is_node_unavailable_before_the_deadline(fault: str) -> None:
    """An ask waits on a connected node that was stopped (15 s deadline): SIGKILL of it 0.5 s later is
    NodeUnavailable at once, and a node that stays stopped is NodeUnavailable once the ZMTP heartbeat gives up (3
    intervals of 1 s), not at the deadline."""
    with LocalCluster(3, actors=CALC) as cluster, zactor.connect(seeds=[cluster.seed], timeout_s=15.0) as client:
        ref = client.ref("calc", node_id="node2")
        assert ref.ask(Add(a=1, b=1)) == Result(value=2)
        proc = cluster.nodes[2]
        assert proc is not None
        os.kill(proc.pid, signal.SIGSTOP)
        killer = threading.Timer(0.5, cluster.kill, (2,)) if fault == "killed" else None
        try:
            started = time.monotonic()
            if killer is not None:
                killer.start()
            with pytest.raises(NodeUnavailable, match="closed"):
                ref.ask(Add(a=1, b=2))
            waited = time.monotonic() - started
        finally:
            if killer is not None:
                killer.join()
            if cluster.nodes[2] is not None:
                os.kill(proc.pid, signal.SIGCONT)
        assert waited < (2.5 if fault == "killed" else 6.0)
