"""A store node's identity, kept in its data directory (as Cassandra keeps its host id there).

``zactor node --data-dir DIR`` reads its node id from ``DIR/node_id``; the first start writes it (the given
``--node-id``, or a new random one). A restart therefore finds its own SQLite file (``DIR/<node id>.db``) without
``--node-id``, and an ``--node-id`` that disagrees with the directory is refused rather than starting a second,
empty replica. A directory written before the id file existed, holding exactly one ``<id>.db``, adopts that id.
"""

from __future__ import annotations

import os
from pathlib import Path

from zactor.config import NodeConfig

__all__ = ["NODE_ID_FILE", "node_identity"]

NODE_ID_FILE = "node_id"


def node_identity(data_dir: str | os.PathLike[str], given: str | None) -> str:
    """The node id of the data directory ``data_dir`` (created if needed), recording ``given`` (or a new id) on
    first use.

    Raises:
        ValueError: ``given`` disagrees with the id the directory holds.
        OSError: the directory or its id file cannot be read or written.
    """
    root = Path(data_dir)
    path = root / NODE_ID_FILE
    stored = path.read_text(encoding="utf-8").strip() if path.is_file() else None
    if stored is None:
        databases = sorted(root.glob("*.db")) if root.is_dir() else []
        stored = databases[0].stem if len(databases) == 1 else None
    if stored and given and stored != given:
        raise ValueError(
            f"--node-id {given!r} disagrees with the data directory {root}, which belongs to node {stored!r}: "
            "give that id, or another directory"
        )
    node_id = stored or given or NodeConfig().node_id
    if not path.is_file():
        root.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(node_id + "\n", encoding="utf-8")
        os.replace(scratch, path)
    return node_id
