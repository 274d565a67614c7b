"""A data directory keeps its node's id: the first start records it, later starts read it, a different one is
refused, and a directory from before the id file adopts the id of its one SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from zactor.services.cluster.identity import NODE_ID_FILE, node_identity


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
