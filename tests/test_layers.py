"""The layers of the installed package: import-linter's contracts (pyproject.toml) and the root package's importers."""

from __future__ import annotations

from pathlib import Path

import grimp
from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_import_linter_contracts_are_kept() -> None:
    """transport <- actors <- services <- services.cluster, and pure cores free of I/O, clocks and the runtime."""
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True, show_timings=False, verbose=False) == 0


def test_only_services_import_the_public_root_package() -> None:
    """``from zactor import ...`` (the runtime's public API) is for the service shells and the application layer; the
    runtime and the transport import the modules that define what they use, so the root package loads no cycle."""
    graph = grimp.build_graph("zactor", cache_dir=None)
    importers = graph.find_modules_that_directly_import("zactor")
    assert sorted(m for m in importers if not m.startswith("zactor.services.")) == []
