"""`zactor top`: the cluster's members with their load, from the seed's member table and each node's observer."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_process import zactor_command

from zactor import NodeConfig
from zactor.services.cluster import ClusterNode
from zactor.services.cluster.cli import main
from zactor.services.cluster.cli_cluster import format_hlc, format_members
from zactor.services.cluster.cli_top import format_top
from zactor.services.cluster.local_cluster import LocalCluster
from zactor.services.cluster.observer import OBSERVER_ACTOR, GetNodeStats, NodeStats, supervision_note
from zactor.services.membership.messages import MemberRows
from zactor.services.replication import MemoryStorage, ReplicatedStore
from zactor.services.selector import Consistency
from zactor.testing import wait_until


def test_top_once_shows_every_member_with_its_load(
    local_cluster_factory: Callable[..., LocalCluster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a write at ALL and an ask, each node shows the calc actor, one store document, an empty mailbox, and
    a real rate of messages (the observer's own asks between the two samples), not 0."""
    calc = {"calc": "zactor.services.cluster.demo:Calculator"}
    cluster = local_cluster_factory(2, actors=calc, data_dir=tmp_path / "data")
    assert main(["kv", "put", "--seed", cluster.seed, "--keyspace", "ks", "k", "v", "--consistency", "all"]) == 0
    capsys.readouterr()
    assert main(["top", "--seed", cluster.seed, "--once", "--interval", "0.3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("zactor top: 2 live of 2 members")
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == {"node0", "node1"}
    for row in rows.values():
        assert row[1] == "live" and row[3] == "calc" and row[5] == "0" and row[7] == "-" and row[8] == "1"
        assert float(row[4].replace(",", "")) > 0


def test_rates_are_differences_between_refreshes() -> None:
    """Messages per second come from the rates given; a member that did not answer shows dashes."""
    rows = [["a", "tcp://x:1", "dc1", "live", 0.1, ["calc"], 3], ["b", "tcp://x:2", "dc1", "dead", 9.5, [], 1]]
    stats = {
        "a": NodeStats(
            node_id="a",
            actors={"calc": [10, 1, 4]},
            envelopes_in=5,
            envelopes_out=5,
            store_documents=-1,
            fetched=0,
            replica_set=[],
        )
    }
    text = format_top(rows, stats, {"a": (250.0, 12.0, 0.0)})
    a_line, b_line = text.splitlines()[1:]
    assert a_line.split() == ["a", "live", "0.10", "calc", "250", "4", "1", "-", "-", "-", "12"]
    assert b_line.split()[:3] == ["b", "dead", "9.50"] and b_line.split()[4:] == ["-"] * 7
    first_line = format_top(rows[:1], stats, {}).splitlines()[1]
    assert first_line.split()[4] == "-" and first_line.split()[10] == "-"  # one sample: no rate yet, not 0


def test_restarts_their_budget_and_reasons_show_in_top_and_members() -> None:
    """A node's supervised actors: the restarts column sums them; the note names each that restarted, the budget
    left and its last error, and the actors that gave up."""
    rows = [["a", "tcp://x:1", "dc1", "live", 0.1, ["worker", "calc"], 3]]
    stats = {
        "a": NodeStats(
            node_id="a",
            actors={"worker": (9, 3, 0), "calc": (1, 0, 0)},
            envelopes_in=5,
            envelopes_out=5,
            store_documents=-1,
            fetched=0,
            replica_set=[],
            supervised={"worker": (3, 2, "ValueError: every third"), "calc": (0, 5, "")},
            terminations={"gave_up": 1, "removed": 4},
        )
    }
    assert format_top(rows, stats, {}).splitlines()[1].split()[7] == "3"
    assert format_members(MemberRows(node_id="a", rows=rows, hlc=None), stats).splitlines()[1].split()[-1] == "3"
    assert supervision_note(stats).splitlines() == [
        "a/worker: 3 restarts, 2 more allowed now; last: ValueError: every third",
        "a: actors terminated gave_up 1",
    ]
    assert supervision_note({}) == ""


def test_top_into_a_pipe_that_closes_ends_quietly(local_cluster_factory: Callable[..., LocalCluster]) -> None:
    """`zactor top | head -n 1`: when the reader goes, top ends with exit 0 and nothing on stderr."""
    cluster = local_cluster_factory(1)
    with zactor_command("top", "--seed", cluster.seed, "--interval", "0.1", stderr=True) as proc:
        assert proc.stdout is not None
        assert any(proc.stdout.readline().startswith("zactor top:") for _ in range(5))
        proc.stdout.close()
        code = proc.wait(timeout=20)
        assert proc.stderr is not None
        err = proc.stderr.read()
    assert code == 0 and err == "", err


def test_top_redraws_until_interrupted(local_cluster_factory: Callable[..., LocalCluster]) -> None:
    """Without --once, tables follow each other (a pipe gets them one after another); SIGINT ends it cleanly."""
    cluster = local_cluster_factory(1)
    with zactor_command("top", "--seed", cluster.seed, "--interval", "0.2", stderr=True) as proc:
        headers = 0
        for line in proc.stdout:  # type: ignore[union-attr]
            headers += line.startswith("zactor top:")
            if headers == 3:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert headers == 3 and proc.returncode == 130 and "Traceback" not in err


async def test_the_observer_reports_anti_entropy_progress() -> None:
    """A write at NONE reaches the other replica by anti-entropy; that node's observer counts the fetched document."""
    stores = [ReplicatedStore(MemoryStorage(), anti_entropy_interval_s=0.1) for _ in range(2)]
    async with ClusterNode(extensions=[stores[0]]) as first:
        config = NodeConfig(seeds=(first.address,))
        async with ClusterNode(config, extensions=[stores[1]]) as second:
            await second.membership.wait_for_members(2, timeout_s=10.0)
            await stores[0].put("ks", "k", b"v", Consistency.NONE)
            await wait_until(lambda: stores[1].get("ks", "k"), timeout_s=10.0, what="anti-entropy")
            stats = await first.ref(OBSERVER_ACTOR, address=second.address).ask(GetNodeStats())
    assert stats.node_id == second.node_id and stats.store_documents == 1 and stats.fetched == 1


def test_the_member_table_shows_its_hlc_as_a_time() -> None:
    """The answering node's HLC is printed as a UTC time and a logical counter, not as raw numbers."""
    table = MemberRows(node_id="n1", rows=[], hlc=[1_764_755_412_345, 7, "n1"])
    assert format_members(table).endswith("(as seen by n1 at HLC 2025-12-03 09:50:12.345 UTC, logical 7)")
    assert format_hlc(0, 0) == "HLC 1970-01-01 00:00:00.000 UTC, logical 0"
