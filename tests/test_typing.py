"""A user's ``mypy --strict`` accepts the package, the examples and the README's code, and knows the reply types;
the README's code blocks run as pasted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

MISSPELT_REPLY = """
from zactor import Actor, Context, Node, Returns, handler, message


@message("typing.Sum")
class Sum:
    value: int


@message("typing.Add")
class Add(Returns[Sum]):
    a: int


async def ask(node: Node) -> int:
    total = await node.ref("calc").ask(Add(a=1))
    return total.valu
"""


def readme_blocks() -> list[str]:
    """The README's ``python`` code blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def _mypy(*targets: str, cache_dir: Path) -> tuple[str, int]:
    out, err, status = api.run(["--strict", "--no-error-summary", f"--cache-dir={cache_dir}", *targets])
    return out + err, status


@pytest.mark.timeout(300)
def test_package_examples_and_readme_pass_mypy_strict(tmp_path: Path) -> None:
    """``mypy --strict`` on the installed package, every example and every README block: no error."""
    blocks = readme_blocks()
    assert len(blocks) >= 4
    for i, block in enumerate(blocks):
        (tmp_path / f"readme_block_{i}.py").write_text(block)
    files = [str(p) for p in sorted((ROOT / "examples").glob("*.py"))] + [str(p) for p in tmp_path.glob("*.py")]
    output, status = _mypy("-p", "zactor", cache_dir=tmp_path / "cache")
    assert status == 0, output
    output, status = _mypy(*files, cache_dir=tmp_path / "cache")
    assert status == 0, output


@pytest.mark.timeout(300)
def test_a_misspelt_attribute_of_a_typed_reply_is_an_error(tmp_path: Path) -> None:
    """``ask`` of a ``Returns[Sum]`` message is typed ``Sum``, so ``total.valu`` does not pass."""
    snippet = tmp_path / "misspelt.py"
    snippet.write_text(MISSPELT_REPLY)
    output, status = _mypy(str(snippet), cache_dir=tmp_path / "cache")
    assert status == 1 and '"Sum" has no attribute "valu"' in output, output


@pytest.mark.timeout(120)
@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_readme_blocks_run_as_pasted(index: int, tmp_path: Path) -> None:
    """Each README block, saved as a file and run with this Python, exits 0 with nothing logged on stderr."""
    script = tmp_path / "block.py"
    script.write_text(readme_blocks()[index])
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=100, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr[-3000:]
