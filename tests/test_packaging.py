"""The distribution installs one package, zactor, with its version."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import zactor


def _installed() -> importlib.metadata.Distribution:
    """The installed distribution (a dist-info with a RECORD), not the egg-info a build leaves in the source tree."""
    found = [d for d in importlib.metadata.distributions(name="zactor") if d.read_text("RECORD")]
    assert found, "zactor is not installed"
    return found[0]


def test_only_zactor_is_installed_at_the_top_of_site_packages() -> None:
    """Every file the installed distribution records lives under zactor/ or its dist-info (or, for an editable
    install, its path hook): no generic top-level package such as actors, services or transport."""
    files = _installed().files or []
    tops = {f.parts[1] if f.parts[0] == "__pycache__" else f.parts[0] for f in files if f.parts[0] != ".."}
    assert tops and all(top.startswith(("zactor", "__editable__")) for top in tops), sorted(tops)


def test_version_is_the_distribution_version() -> None:
    """zactor.__version__ and `zactor --version` give the installed distribution's version."""
    expected = _installed().version
    assert zactor.__version__ == expected
    done = subprocess.run(
        [sys.executable, "-m", "zactor.services.cluster.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == f"zactor {expected}"
