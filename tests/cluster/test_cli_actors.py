"""``zactor actors``: per node and kind, the shards led and the keys active; the totals; a clear line without kinds.
And the blocking client's virtual refs against the same kind of cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import zactor
from zactor import NodeConfig
from zactor.config import DEFAULT_CLUSTER_ID
from zactor.services.cluster import ClusterNode, LocalCluster
from zactor.services.cluster.cli import main
from zactor.services.cluster.cli_actors import format_virtual
from zactor.services.virtual import BlockingVirtualRef

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

from virtual_counters import Incr  # noqa: E402

ARGS = ("--kind", "counter=virtual_counters:Counter", "--replication-factor", "2")


async def _activate(seed: str, keys: int) -> None:
    config = NodeConfig(node_id="client", seeds=(seed,), cluster_id=DEFAULT_CLUSTER_ID)
    async with ClusterNode(config) as node:
        await node.membership.wait_for_members(3, timeout_s=30.0)
        for i in range(keys):
            await node.virtual("counter", f"k{i}").ask(Incr(), timeout_s=20.0)


def test_actors_lists_each_nodes_kinds_shards_and_active_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES))
    with LocalCluster(2, node_args=ARGS, data_dir=tmp_path) as cluster:
        zactor.run(_activate(cluster.seed, 10))
        capsys.readouterr()
        assert main(["actors", "--seed", cluster.seed]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {(line.split()[0], line.split()[1]): line.split()[2:] for line in lines[1:]}
    assert set(rows) == {("node0", "counter"), ("node1", "counter"), ("(all)", "counter")}
    led, active, activating = rows[("(all)", "counter")]
    assert 1 <= int(led) <= 8 and (active, activating) == ("10", "0")  # no shard led twice; the 10 keys active


def test_no_kind_is_said_plainly() -> None:
    assert format_virtual({}).startswith("no live node hosts a virtual actor kind")


def test_the_blocking_client_reaches_virtual_actors_through_any_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blocking client with seeds asks keys by kind and key: each answered by one owner, its count kept."""
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES))
    with LocalCluster(2, node_args=ARGS, data_dir=tmp_path) as cluster:
        with zactor.connect(seeds=[cluster.seed]) as client:
            for round_ in (1, 2):
                for i in range(5):
                    count = BlockingVirtualRef(client, "counter", f"b{i}").ask(Incr(), timeout_s=20.0)
                    assert count.value == round_ and count.node in ("node0", "node1")
