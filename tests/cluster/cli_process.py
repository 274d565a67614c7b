"""A `zactor` command in a child process for a test: started, and always stopped by its PID afterwards."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def zactor_command(*args: str, stderr: bool = False) -> Iterator[subprocess.Popen[str]]:
    """``python -m zactor.services.cluster.cli ARGS`` with its stdout (and ``stderr``) piped as text; on leaving,
    SIGTERM if still running, SIGKILL after 10 s."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "zactor.services.cluster.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr else None,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
