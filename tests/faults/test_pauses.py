"""SIGSTOP pauses: one shorter than failure detection is no death; a longer one is a death that heals on SIGCONT."""

from __future__ import annotations

import os
import signal
import time

import pytest

from zactor.services.cluster.local_cluster import LocalCluster

pytestmark = [pytest.mark.fault, pytest.mark.timeout(120)]


def _status(cluster: LocalCluster, observer: int, node_id: str) -> str | None:
    rows = cluster.members(observer).rows
    return next((row[3] for row in rows if row[0] == node_id), None)


def _watch(cluster: LocalCluster, seconds: float, node_id: str) -> set[str]:
    """Every status the other nodes report for ``node_id`` over ``seconds``, polled every 50 ms."""
    seen: set[str] = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for observer in (0, 1):
            status = _status(cluster, observer, node_id)
            if status is not None:
                seen.add(status)
        time.sleep(0.05)
    return seen


def test_a_pause_shorter_than_detection_is_no_death() -> None:
    """node2 stopped for 1 s (detection needs at least 16 gossip intervals, 3.2 s): nobody declares it dead."""
    with LocalCluster(3) as cluster:
        proc = cluster.nodes[2]
        assert proc is not None
        for _ in range(2):
            os.kill(proc.pid, signal.SIGSTOP)
            seen = _watch(cluster, 1.0, "node2")
            os.kill(proc.pid, signal.SIGCONT)
            seen |= _watch(cluster, 1.5, "node2")
            assert seen == {"live"}


def test_a_pause_longer_than_detection_is_a_death_that_heals() -> None:
    """node2 stopped for 6 s is declared dead by both others; after SIGCONT the three see each other again."""
    with LocalCluster(3) as cluster:
        proc = cluster.nodes[2]
        assert proc is not None
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            cluster.wait_until(
                lambda: _status(cluster, 0, "node2") == "dead" and _status(cluster, 1, "node2") == "dead",
                10.0,
                "node2 declared dead",
            )
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        cluster.wait_converged(10.0)
