"""A data directory keeps its node's id: the first start records it, later starts read it, a different one is
refused, and a directory from before the id file adopts the id of its one SQLite file. One process at a time owns
a data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zactor.services.cluster.identity import NODE_ID_FILE, DataDirLocked, lock_data_dir, node_identity
from zactor.services.cluster.process import NodeProcess


def test_the_first_start_records_the_id_and_later_ones_read_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert node_identity(data, "n1") == "n1"
    assert (data / NODE_ID_FILE).read_text().strip() == "n1"
    assert node_identity(data, None) == "n1" and node_identity(data, "n1") == "n1"
    with pytest.raises(ValueError, match="disagrees"):
        node_identity(data, "n2")


def test_a_new_directory_without_an_id_gets_a_random_one_that_sticks(tmp_path: Path) -> None:
    first = node_identity(tmp_path, None)
    assert first.startswith("node-") and node_identity(tmp_path, None) == first
    assert node_identity(tmp_path / "other", None) != first


def test_a_directory_from_before_the_id_file_adopts_its_database(tmp_path: Path) -> None:
    (tmp_path / "old-node.db").write_bytes(b"")
    assert node_identity(tmp_path, None) == "old-node"
    with pytest.raises(ValueError, match="old-node"):
        node_identity(tmp_path, "renamed")


@pytest.mark.fault
def test_a_second_process_on_a_live_data_directory_exits_naming_it_and_the_holder(tmp_path: Path) -> None:
    """Two ``zactor node --data-dir DIR``: the second exits at once with one line naming DIR and the first one's
    PID, and the first keeps running; once the first stops, the directory can be used again."""
    data = tmp_path / "data"
    with NodeProcess(None, extra_args=("--data-dir", str(data))) as first:
        second = subprocess.run(
            [sys.executable, "-m", "zactor.services.cluster.cli", "node", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and str(data) in lines[0] and f"process {first.pid}" in lines[0], second.stderr
        assert first.is_alive()
        first.stop()
    with NodeProcess(None, extra_args=("--data-dir", str(data))) as again:
        assert again.is_alive()


def test_the_lock_is_held_until_released(tmp_path: Path) -> None:
    """In one process: a second lock of the same directory is refused with the holder's PID, then allowed once the
    first is released."""
    with lock_data_dir(tmp_path):
        with pytest.raises(DataDirLocked) as refused:
            lock_data_dir(tmp_path)
        assert refused.value.pid == os.getpid() and refused.value.path == str(tmp_path)
    lock_data_dir(tmp_path).release()
