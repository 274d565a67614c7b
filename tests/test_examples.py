"""The examples run as documented and show what they claim."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _run(name: str, timeout_s: float) -> tuple[int, str]:
    """Run ``examples/<name>.py`` as documented; returns its exit code and output (its process group is killed if
    it overruns). What it prints on stderr must hold no traceback."""
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Traceback" not in err, err
    return proc.returncode, out


def test_calculator_example_serves_from_one_process_and_calls_from_another() -> None:
    """examples/calculator.py starts a server process, calls it over ZeroMQ, and stops it."""
    code, out = _run("calculator", 30)
    assert code == 0
    assert "1 + 2 = 3" in out and "raised remotely: ZeroDivisionError" in out and "running total: 3.0" in out


async def test_runtime_services_example_sees_every_version_and_clear_errors() -> None:
    """examples/runtime_services.py: the caller sees v1, then v2, and ActorNotFound while none is registered."""
    seen = await _load("runtime_services").main()
    assert seen["v1"] > 0 and seen["v2"] > 0 and seen["ActorNotFound"] > 0
    assert set(seen) == {"v1", "v2", "ActorNotFound"}


async def test_replicated_kv_example_converges_after_a_restart() -> None:
    """examples/replicated_kv.py: every node ends with the same 101 documents after a stop and restart."""
    counts = await _load("replicated_kv").main()
    assert counts == {"a": 101, "b": 101, "c": 101}


def test_primary_secondary_example_fails_over_and_fences_the_old_term() -> None:
    """examples/primary_secondary.py: a new primary of a higher term after SIGKILL, and the old term refused."""
    code, out = _run("primary_secondary", 50)
    assert code == 0, out
    assert "counted to 10" in out and "took over in term 2; counted on to 20" in out
    assert "refused (term 1 is stale: term 2 writes here now)" in out and "ledger total 20" in out


def test_supervised_workers_restarts_then_gives_up_and_the_monitor_is_told() -> None:
    """Two restarts after the crashes of jobs 2 and 5, the third crash spends the budget: the worker is removed and
    its monitor gets Terminated(gave_up) naming the last error."""
    code, out = _run("supervised_workers", timeout_s=60)
    assert code == 0, out
    assert "job 3: 9" in out and "job 7: 49" in out, out
    assert out.count("crashed") == 3, out
    assert "worker terminated: gave_up (RuntimeError: job 8 failed)" in out, out


def test_virtual_counters_are_active_once_and_move_after_a_sigkill() -> None:
    """examples/virtual_counters.py: 30 keys counted to 3 on the hosts; the SIGKILLed owner's key answers again from
    another node, its count loaded from the store."""
    code, out = _run("virtual_counters", timeout_s=90)
    assert code == 0, out
    assert "30 keys counted to 3 each" in out, out
    moved = next(line for line in out.splitlines() if line.startswith("user-0 moved from"))
    source, target = moved.split()[3], moved.split()[5]
    assert source != target and moved.endswith("count 4"), out
