"""``zactor bench``: the RPC benchmark runs as a command and reports zactor next to raw pyzmq, measured in one run."""

from __future__ import annotations

import importlib.util
import re

import pytest
from cli_process import zactor_command

from zactor.services.cluster.cli import main


def test_bench_reports_every_system_next_to_raw_pyzmq() -> None:
    with zactor_command("--loop", "asyncio", "bench", "--no-large", "--seconds", "0.3", "--repeat", "1") as proc:
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert "event loop: asyncio" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("raw"))
    assert header.split() == ["raw", "zactor", "blocking"]
    rates = re.search(r"^sequential ask, calls/s\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)$", out, re.MULTILINE)
    assert rates is not None and all(int(rate.replace(",", "")) > 0 for rate in rates.groups())
    ratios = re.search(r"^pipelined \(100 in flight\), calls/s\s+(\d+\.\d\d)x\s+-$", out, re.MULTILINE)
    assert ratios is not None, out


def test_bench_peers_without_pyro5_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "Pyro5" else real(name, *a))
    assert main(["bench", "--peers"]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "zactor bench: ValueError: --peers measures Pyro5, which is not installed: pip install 'zactor[bench]'"
    )
