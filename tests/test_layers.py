"""The layers of the installed package: import-linter's contracts (pyproject.toml) and the root package's importers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_import_linter_contracts_are_kept() -> None:
    """transport <- actors <- services <- services.cluster <- testing, and pure cores free of I/O, clocks and the
    runtime. Run in its own process: import-linter's CLI reconfigures logging and would silence zactor's loggers."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--config", str(PYPROJECT), "--no-cache"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_services_import_the_public_root_package() -> None:
    """``from zactor import ...`` (the runtime's public API) is for the service shells and the application layer; the
    runtime and the transport import the modules that define what they use, so the root package loads no cycle."""
    graph = grimp.build_graph("zactor", cache_dir=None)
    importers = graph.find_modules_that_directly_import("zactor")
    assert sorted(m for m in importers if not m.startswith("zactor.services.")) == []
