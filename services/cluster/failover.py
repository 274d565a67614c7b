"""Leader failover on a :class:`LocalCluster` whose nodes run an election group (``zactor node --group``): find the
leader, SIGKILL it, and time how long the others take to hold a new leader's lease (``benchmarks/election.py``)."""

from __future__ import annotations

import time

from zactor.config import NodeConfig
from zactor.loops import run as run_loop
from zactor.services.cluster.cli_leaders import fetch_leaders
from zactor.services.cluster.local_cluster import LocalCluster

__all__ = ["current_leader", "kill_leader"]

_CLIENT = NodeConfig(node_id="zactor-failover")


def current_leader(cluster: LocalCluster, group: str) -> tuple[str | None, int]:
    """``(leader or None, term)`` of ``group`` as the running nodes report it (the newest term wins)."""
    hosts = [cluster.address(i) for i in cluster.running()]
    groups = run_loop(fetch_leaders(hosts, _CLIENT, timeout_s=1.0))
    leader, term, *_ = groups.get(group, ["", 0])
    return leader or None, term


def kill_leader(cluster: LocalCluster, group: str, timeout_s: float = 10.0) -> tuple[float, str, str, int]:
    """SIGKILL ``group``'s leader and wait for another; returns ``(seconds from the kill until a new leader is
    reported, old leader, new leader, new term)``. The killed node stays down.

    Raises:
        TimeoutError: no leader to kill, or no new one, within ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    old, term = current_leader(cluster, group)
    while old is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no leader in group {group!r} within {timeout_s} s")
        time.sleep(0.05)
        old, term = current_leader(cluster, group)
    index = next(i for i in cluster.running() if cluster.node_id(i) == old)
    killed_at = time.monotonic()
    cluster.kill(index)
    while True:
        new, new_term = current_leader(cluster, group)
        if new is not None and new != old and new_term > term:
            return time.monotonic() - killed_at, old, new, new_term
        if time.monotonic() > killed_at + timeout_s:
            raise TimeoutError(f"no new leader in group {group!r} within {timeout_s} s of killing {old}")
        time.sleep(0.02)
