"""Leaders on real processes: SIGKILL of the leader, a new one with a higher term within 3 s; ``zactor leaders``."""

from __future__ import annotations

import pytest

from zactor import NodeConfig
from zactor.loops import run as run_loop
from zactor.services.cluster.cli import main
from zactor.services.cluster.cli_leaders import fetch_leaders
from zactor.services.cluster.failover import current_leader, kill_leader
from zactor.services.cluster.local_cluster import LocalCluster

CLIENT = NodeConfig(node_id="test-leaders")


@pytest.mark.fault
@pytest.mark.timeout(120)
@pytest.mark.parametrize("n", [3, 5])
def test_a_killed_leader_is_replaced_within_3_s_until_the_majority_is_lost(n: int) -> None:
    """As many leaders as the group tolerates are killed one after another, each replaced within 3 s by a leader
    of a higher term; killing one more leaves a minority, which has no leader."""
    with LocalCluster(n, node_args=("--group", "db-0", "--group-size", str(n))) as cluster:
        cluster.wait_converged(20.0)
        for _ in range((n - 1) // 2):
            seconds, old, new, term = kill_leader(cluster, "db-0")
            assert seconds < 3.0, f"{old} -> {new} took {seconds:.2f} s"
            assert new != old and term >= 2
        with pytest.raises(TimeoutError, match="no new leader"):
            kill_leader(cluster, "db-0", timeout_s=4.0)
        assert current_leader(cluster, "db-0")[0] is None


def test_zactor_leaders_prints_each_groups_leader(capsys: pytest.CaptureFixture[str]) -> None:
    with LocalCluster(3, node_args=("--group", "db-0", "--group", "db-1")) as cluster:
        cluster.wait_until(lambda: current_leader(cluster, "db-1")[0] is not None, 20.0, "a leader of db-1")
        assert main(["leaders", "--seed", cluster.seed]) == 0
        out = capsys.readouterr().out
        lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
        assert set(lines) == {"db-0", "db-1"}
        assert lines["db-1"][1] in {cluster.node_id(i) for i in range(3)} and int(lines["db-1"][2]) >= 1


@pytest.mark.fault
@pytest.mark.timeout(120)
def test_a_voter_that_leaves_is_replaced_one_step_at_a_time_by_the_leader() -> None:
    """Four processes host a group of three voters. A voter other than the leader stops gracefully: the leader
    adds the spare, then removes the one that left, keeping its leadership and term; once every live node holds
    the new voters, they elect a successor within 3 s when the leader is SIGKILLed."""
    with LocalCluster(4, node_args=("--group", "g", "--group-size", "3")) as cluster:
        cluster.wait_converged(20.0)
        hosts = [cluster.address(i) for i in range(4)]
        report = lambda: run_loop(fetch_leaders(hosts, CLIENT, timeout_s=1.0)).get("g", [None, 0, 0, []])  # noqa: E731
        cluster.wait_until(lambda: bool(report()[0]), 20.0, "a leader of g")
        leader, term, _, voters, _ = report()
        assert len(voters) == 3 and leader in voters
        leaving = next(v for v in voters if v != leader)
        spare = next(cluster.node_id(i) for i in range(4) if cluster.node_id(i) not in voters)
        cluster.stop(int(leaving.removeprefix("node")))
        hosts.remove(cluster.address(int(leaving.removeprefix("node"))))
        expected = sorted({*voters, spare} - {leaving})

        def everywhere() -> bool:  # every live node holds the new voters, not only the leader
            reports = [run_loop(fetch_leaders([host], CLIENT, timeout_s=1.0)).get("g") for host in hosts]
            return all(r is not None and sorted(r[3]) == expected for r in reports)

        cluster.wait_until(everywhere, 20.0, f"voters {expected} on every live node")
        assert report()[:2] == [leader, term]
        seconds, old, new, new_term = kill_leader(cluster, "g")
        assert old == leader and new in expected and new_term > term and seconds < 3.0
