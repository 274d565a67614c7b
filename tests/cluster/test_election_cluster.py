"""Leaders on real processes: SIGKILL of the leader, a new one with a higher term within 3 s; ``zactor leaders``."""

from __future__ import annotations

import pytest

from zactor.services.cluster.cli import main
from zactor.services.cluster.failover import current_leader, kill_leader
from zactor.services.cluster.local_cluster import LocalCluster


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
