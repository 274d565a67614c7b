"""Real multi-process clusters: convergence, a killed node declared dead, restart, graceful stop, CLI queries."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_process import zactor_command

from zactor.services.cluster.cli import main
from zactor.services.cluster.local_cluster import LocalCluster
from zactor.services.cluster.process import NodeProcess, NodeStartError


def _sees_without(cluster: LocalCluster, gone: str) -> bool:
    return all(gone not in cluster.live_ids(i) for i in cluster.running())


@pytest.mark.parametrize("secure", [False, True], ids=["plaintext", "secure"])
def test_killed_node_is_declared_dead_and_a_restart_rejoins(secure: bool) -> None:
    """SIGKILL: every other node drops the node within 10 s; restarted with the same id it rejoins; a node added
    later joins; the same on a secure cluster."""
    actors = {"calc": "zactor.services.cluster.demo:Calculator"}
    with LocalCluster(3, data_centers=("dc1", "dc2"), actors=actors, secure=secure) as cluster:
        _kill_restart_and_grow(cluster)


def _kill_restart_and_grow(cluster: LocalCluster) -> None:
    assert cluster.live_ids(0) == {"node0", "node1", "node2"}
    rows = {row[0]: row for row in cluster.members(1).rows}
    assert rows["node1"][2] == "dc2" and "calc" in rows["node0"][5]
    cluster.kill(2)
    cluster.wait_until(lambda: _sees_without(cluster, "node2"), 10.0, "node2 declared dead")
    assert {row[0]: row[3] for row in cluster.members(0).rows}["node2"] == "dead"
    cluster.restart(2)
    cluster.wait_converged(10.0)
    assert cluster.add_node() == 3
    cluster.wait_converged(10.0)
    assert cluster.live_ids(3) == {"node0", "node1", "node2", "node3"}


def test_graceful_stop_leaves_and_cli_queries_work(
    local_cluster: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stopped node is gone from the others' tables at once; `zactor members` and `call --seed` work."""
    cluster = local_cluster
    assert cluster.stop(1) == 0
    cluster.wait_until(lambda: _sees_without(cluster, "node1"), 2.0, "node1 gone")
    assert main(["members", "--seed", cluster.seed]) == 0
    out = capsys.readouterr().out
    assert "node0" in out and "left" in out and "as seen by node0" in out
    header = out.splitlines()[0].split()
    assert header[-3:] == ["msgs", "mailbox", "restarts"] and "store" in header
    assert main(["call", "--seed", cluster.seed, "calc", "zactor.demo.Add", '{"a": 2, "b": 3}']) == 0
    assert "Result(value=5)" in capsys.readouterr().out
    assert main(["call", "--seed", cluster.seed, "nobody", "zactor.demo.Add", '{"a": 2, "b": 3}']) == 1


def test_a_second_process_with_a_node_id_in_use_refuses_to_join(tmp_path: object) -> None:
    """A second process started with a node id a live member holds exits with an error naming the id and the
    address holding it; the cluster keeps working and keeps the first holder."""
    with LocalCluster(2) as cluster:
        twin_log = cluster.log_dir / "twin.log"
        with pytest.raises(NodeStartError, match="exited with code 1"):
            NodeProcess("node1", extra_args=("--seed", cluster.seed), log_path=twin_log)
        text = twin_log.read_text()
        assert "DuplicateNodeId" in text and "'node1'" in text and cluster.nodes[1].address in text
        assert "node1" in cluster.live_ids(0) and "in use" not in (cluster.log_dir / "node1.log").read_text()


def test_cluster_up_hosts_actors_and_the_store_and_stops_on_sigterm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`zactor cluster up -n 2 --data-dir D --actor calc=...` prints the member table with the store column; `kv`
    and `call` work against it; SIGTERM stops its nodes; each node's data stays in D/node<i>."""
    args = ["cluster", "up", "-n", "2", "--data-dir", str(tmp_path)]
    with zactor_command(*args, "--actor", "calc=zactor.services.cluster.demo:Calculator") as proc:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "as seen by" in line and sum("live" in x for x in lines) >= 2:
                break
        seed = next(x for x in lines if "seed tcp://" in x).split("seed ")[1].split(",")[0]
        rows = [x.split() for x in lines if x.startswith("node") and not x.startswith("node ")]
        assert {row[0]: row[5] for row in rows} == {"node0": "yes", "node1": "yes"}
        assert main(["kv", "put", "--seed", seed, "--keyspace", "ks", "k", "v", "--consistency", "all"]) == 0
        assert main(["call", "--seed", seed, "calc", "zactor.demo.Add", '{"a": 2, "b": 3}']) == 0
        assert "Result(value=5)" in capsys.readouterr().out
        proc.terminate()
        assert proc.wait(20) == 0
        assert (tmp_path / "node1" / "node_id").read_text().strip() == "node1"


def test_a_secure_cluster_serves_key_holders_only(capsys: pytest.CaptureFixture[str]) -> None:
    """`members` and `call` need --keyring/--key-name on a secure cluster; without them they fail at once naming
    the handshake; `node` refuses to bind every interface without a keyring."""
    with LocalCluster(2, actors={"calc": "zactor.services.cluster.demo:Calculator"}, secure=True) as cluster:
        keys = ["--keyring", str(cluster.keyring), "--key-name", "client"]
        assert main(["members", "--seed", cluster.seed, "--timeout", "20"]) == 1
        assert "HandshakeFailed" in capsys.readouterr().err
        assert main(["members", "--seed", cluster.seed, *keys]) == 0
        assert "node1" in capsys.readouterr().out
        assert main(["call", "--seed", cluster.seed, *keys, "calc", "zactor.demo.Add", '{"a": 2, "b": 3}']) == 0
        assert "Result(value=5)" in capsys.readouterr().out
    assert main(["node", "--bind", "tcp://0.0.0.0:0"]) == 1
    assert "InsecureBind" in capsys.readouterr().err


def test_the_factory_fixture_builds_the_cluster_asked_for(
    local_cluster_factory: Callable[..., LocalCluster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Size, store and security are arguments; the logs stay in the test's tmp_path."""
    cluster = local_cluster_factory(2, data_dir=tmp_path / "data", secure=True)
    keys = ["--keyring", str(cluster.keyring), "--key-name", "client"]
    assert main(["kv", "put", "--seed", cluster.seed, *keys, "--keyspace", "ks", "k", "v", "--consistency", "all"]) == 0
    assert cluster.live_ids(1) == {"node0", "node1"}
    assert cluster.log_dir.parent == tmp_path and (cluster.log_dir / "node1.log").exists()
    assert (tmp_path / "data" / "node1" / "node_id").exists()


def test_a_local_cluster_removes_its_temporary_logs_unless_kept() -> None:
    """The default log directory goes away with the cluster; keep_logs=True keeps it."""
    with LocalCluster(1) as cluster:
        removed = cluster.log_dir
    with LocalCluster(1, keep_logs=True) as cluster:
        kept = cluster.log_dir
    try:
        assert not removed.exists() and (kept / "node0.log").exists()
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def test_call_names_a_dead_host_instead_of_a_missing_actor(
    local_cluster_factory: Callable[..., LocalCluster], capsys: pytest.CaptureFixture[str]
) -> None:
    """`call --seed` to an actor whose only host died says the host is not live, not that the actor is missing."""
    cluster = local_cluster_factory(2)
    solo = NodeProcess(
        "solo",
        actors={"calc": "zactor.services.cluster.demo:Calculator"},
        extra_args=("--seed", cluster.seed),
        log_path=cluster.log_dir / "solo.log",
    )
    try:
        cluster.wait_until(lambda: "solo" in cluster.live_ids(0), 10.0, "solo to join")
        solo.kill()
        cluster.wait_until(lambda: "solo" not in cluster.live_ids(0), 15.0, "solo declared dead")
    finally:
        solo.kill()
    capsys.readouterr()
    assert main(["call", "--seed", cluster.seed, "calc", "zactor.demo.Add", '{"a": 1, "b": 2}']) == 1
    err = capsys.readouterr().err
    assert "NodeUnavailable" in err and "solo (dead)" in err and "not live" in err, err
