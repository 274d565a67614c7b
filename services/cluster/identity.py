"""A store node's identity, kept in its data directory (as Cassandra keeps its host id there).

``zactor node --data-dir DIR`` reads its node id from ``DIR/node_id``; the first start writes it (the given
``--node-id``, or a new random one). A restart therefore finds its own SQLite file (``DIR/<node id>.db``) without
``--node-id``, and an ``--node-id`` that disagrees with the directory is refused rather than starting a second,
empty replica. A directory written before the id file existed, holding exactly one ``<id>.db``, adopts that id.

One process at a time owns a data directory: :func:`lock_data_dir` takes an exclusive advisory lock (``flock``) on
``DIR/lock`` for the process's life and writes its PID there, so a second node on the same directory (the same
SQLite file, term and vote) is refused with the holder's PID. The kernel releases the lock when the process ends,
however it ends, so a SIGKILLed node leaves no stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from zactor.config import NodeConfig

__all__ = ["DataDirLock", "DataDirLocked", "LOCK_FILE", "NODE_ID_FILE", "lock_data_dir", "node_identity"]

NODE_ID_FILE = "node_id"
LOCK_FILE = "lock"


class DataDirLocked(OSError):
    """Another process holds the data directory's lock.

    Attributes:
        path: the data directory.
        pid: the holder's process id, as it wrote it (0 when unreadable).
    """

    def __init__(self, path: str, pid: int) -> None:
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"the data directory {path} is in use by {holder}: stop it, or give another --data-dir")
        self.path = path
        self.pid = pid


class DataDirLock:
    """The held lock of one data directory (see :func:`lock_data_dir`); a context manager that releases it."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        """Release the lock (closing its file). Idempotent."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def lock_data_dir(data_dir: str | os.PathLike[str]) -> DataDirLock:
    """Take the exclusive lock of ``data_dir`` (created if needed) for this process, recording its PID.

    Raises:
        DataDirLocked: another process, or another lock of this one, holds it.
        OSError: the directory or its lock file cannot be created or opened.
    """
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        raise DataDirLocked(str(root), int(holder) if holder.isdigit() else 0) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return DataDirLock(fd)


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
