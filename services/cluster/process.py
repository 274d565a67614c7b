"""Run a node in a child process (``zactor node``) and control it by PID.

:class:`NodeProcess` starts ``python -m zactor.services.cluster.cli node ...``, waits for the line in which the node
prints its bound address, and always stops what it started: ``stop()`` sends SIGTERM (a graceful stop) and SIGKILLs
after a deadline; leaving the ``with`` block kills the child, and on Linux so does the death of the parent process
(the child is started with ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

__all__ = ["rss_mib", "NodeProcess", "NodeStartError", "READY_PREFIX"]

READY_PREFIX = "zactor node listening on "
_PR_SET_PDEATHSIG = 1


class NodeStartError(ChildProcessError):
    """A node process exited, or stayed silent, before it reported its address.

    Attributes:
        node_id: the node's id (as given).
        reason: the node's own error line (``zactor node: ...``) when its log has one, else ``""``.
    """

    def __init__(self, node_id: str, what: str, reason: str) -> None:
        super().__init__(f"node {node_id!r} {what}" + (f": {reason}" if reason else ""))
        self.node_id = node_id
        self.reason = reason


class NodeProcess:
    """A node running in its own OS process.

    Args:
        node_id: the node's id (``None``: the one kept in its ``--data-dir``).
        bind: the endpoint to bind (port 0: a free port, reported back).
        actors: actors to host, ``{name: "module:Class"}`` (the class is built with no arguments).
        start_timeout_s: how long to wait for the node to report its address, in seconds.
        extra_args: more ``zactor node`` arguments.
        log_path: a file the node's log (stderr) is appended to; default: this process's stderr.
        prefix: a command the node runs under, which must exec it in place (so ``pid`` is the node's), e.g.
            ``("ip", "netns", "exec", "ns0")`` to run it in a network namespace.
        command: the ``zactor`` command to run (default: ``python -m zactor.services.cluster.cli``, which also puts
            the working directory on ``sys.path``; e.g. the installed ``zactor`` script, which does not).

    Attributes:
        pid: the child's process id.
        address: the node's bound endpoint.

    Raises:
        NodeStartError: the child exited or did not report its address within ``start_timeout_s`` (its own error
            line, read from ``log_path``, says why).
    """

    def __init__(
        self,
        node_id: str | None,
        *,
        bind: str = "tcp://127.0.0.1:0",
        actors: Mapping[str, str] | None = None,
        start_timeout_s: float = 20.0,
        extra_args: tuple[str, ...] = (),
        log_path: Path | None = None,
        prefix: tuple[str, ...] = (),
        command: tuple[str, ...] = (),
    ) -> None:
        args = [
            *prefix,
            *(command or (sys.executable, "-m", "zactor.services.cluster.cli")),
            "node",
            *(("--node-id", node_id) if node_id is not None else ()),
            "--bind",
            bind,
            *extra_args,
        ]
        for name, spec in (actors or {}).items():
            args += ["--actor", f"{name}={spec}"]
        self.node_id = node_id or "(the data directory's)"
        self._log_path = log_path
        log_file = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 (the child keeps it)
        try:
            self._proc = subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if log_file is not None:
                log_file.close()
        self.pid = self._proc.pid
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=_pump_lines, args=(self._proc.stdout, self._lines), daemon=True)
        self._reader.start()
        try:
            self.address = self._wait_ready(start_timeout_s)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout_s: float) -> str:
        try:
            while True:
                line = self._lines.get(timeout=timeout_s)
                if line is None:
                    code = self._proc.wait()
                    raise NodeStartError(self.node_id, f"exited with code {code} before starting", self._reason())
                if line.startswith(READY_PREFIX):
                    return line[len(READY_PREFIX) :].strip()
        except queue.Empty:
            raise NodeStartError(self.node_id, f"did not start within {timeout_s} s", self._reason()) from None

    def _reason(self) -> str:
        """The node's last own error line (``zactor node: ...``) in its log, or ``""``."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        lines = self._log_path.read_text(errors="replace").splitlines()
        return next((line for line in reversed(lines) if line.startswith("zactor node:")), "")

    def is_alive(self) -> bool:
        """True while the child process runs."""
        return self._proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> int:
        """Stop gracefully (SIGTERM), SIGKILL after ``timeout_s`` seconds; returns the exit code."""
        if self._proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self._proc.wait()

    def kill(self) -> None:
        """SIGKILL the child (no graceful leave) and reap it."""
        if self._proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self._proc.wait()
        self._reader.join(5.0)  # the reader closes the pipe at end of file

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


def rss_mib(pid: int | None = None, *, peak: bool = False) -> float:
    """The resident set size of process ``pid`` (default: this one), in MiB, from ``/proc`` (Linux); with ``peak``,
    its high-water mark since the process started.

    Raises:
        OSError: no such process, or no ``/proc``.
    """
    field = "VmHWM:" if peak else "VmRSS:"
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise OSError(f"no {field} line for process {pid or os.getpid()}")


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGKILL it when the parent dies, so no node outlives a crashed test or CLI."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _pump_lines(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
    """Forward the child's stdout: lines go to the queue (for the ready line) and to our stdout."""
    if stream is None:
        return
    with stream:
        for line in stream:
            lines.put(line)
            if not line.startswith(READY_PREFIX):
                sys.stdout.write(line)
    lines.put(None)
