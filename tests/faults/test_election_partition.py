"""Leaders across a real network partition: three node processes in their own network namespaces on one bridge.

A follower cut off and back forces no leadership change; a leader cut off is replaced by the majority with a higher
term, and follows the new leader once its link is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from zactor.config import NodeConfig
from zactor.loops import run as run_loop
from zactor.services.cluster.cli_leaders import fetch_leaders
from zactor.services.cluster.local_cluster import wait_all_live
from zactor.services.cluster.netns import Namespaces, namespaces, set_link, start_nodes, unavailable_reason
from zactor.services.cluster.process import NodeProcess

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(180),
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


def _reports(ns: Namespaces, addresses: list[str], indexes: list[int]) -> dict[str, tuple[str, int]]:
    """``{node: (leader, term)}`` as each node of ``indexes`` reports group ``g``."""
    client = NodeConfig(node_id="observer", bind=f"tcp://{ns.host_address}:0", insecure=True)
    out = {}
    for i in indexes:
        groups = run_loop(fetch_leaders([addresses[i]], client, timeout_s=1.0))
        leader, term, *_ = groups.get("g", ["", 0])
        out[f"node{i}"] = (leader, term)
    return out


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.1)
    return time.monotonic() - start


def test_partitions_of_a_follower_and_of_the_leader(tmp_path: Path) -> None:
    with namespaces(3, subnet="10.213.78") as ns:
        procs: list[NodeProcess] = start_nodes(ns, ("--group", "g", "--cluster-id", "el"), tmp_path)
        try:
            addresses = [p.address for p in procs]
            client = NodeConfig(node_id="observer", bind=f"tcp://{ns.host_address}:0", insecure=True)
            run_loop(wait_all_live(addresses, 30.0, client=client))
            everyone = [0, 1, 2]
            _wait(lambda: len({r for r in _reports(ns, addresses, everyone).values() if r[0]}) == 1, 20, "a leader")
            leader, term = next(iter(_reports(ns, addresses, everyone).values()))
            li = int(leader.removeprefix("node"))

            follower = next(i for i in everyone if i != li)
            set_link(ns.names[follower], up=False)
            majority = [i for i in everyone if i != follower]
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:  # the majority keeps its leader and term throughout
                assert set(_reports(ns, addresses, majority).values()) == {(leader, term)}
            set_link(ns.names[follower], up=True)
            run_loop(wait_all_live(addresses, 30.0, client=client))
            time.sleep(2.0)
            assert set(_reports(ns, addresses, everyone).values()) == {(leader, term)}, "no change forced by healing"

            set_link(ns.names[li], up=False)
            majority = [i for i in everyone if i != li]

            def replaced() -> bool:
                seen = set(_reports(ns, addresses, majority).values())
                return len(seen) == 1 and next(iter(seen))[0] not in ("", leader) and next(iter(seen))[1] > term

            assert _wait(replaced, 10, "a new leader on the majority side") < 3.0
            new, new_term = next(iter(_reports(ns, addresses, majority).values()))
            set_link(ns.names[li], up=True)
            _wait(
                lambda: set(_reports(ns, addresses, everyone).values()) == {(new, new_term)},
                20,
                "the old leader follows",
            )
        finally:
            for proc in procs:
                proc.kill()
