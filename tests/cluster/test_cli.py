"""The zactor command line: help matches the commands, node and call work across processes, demo succeeds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zactor.services.cluster.cli import main
from zactor.services.cluster.process import NodeProcess, NodeStartError


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """``zactor --help`` names every command."""
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "node", "call", "keys"):
        assert command in out


def test_node_and_call_across_processes(capsys: pytest.CaptureFixture[str]) -> None:
    """A node started with ``zactor node --actor`` answers ``zactor call``; bad input gives exit code 1."""
    with NodeProcess("cli-node", actors={"calc": "zactor.services.cluster.demo:Calculator"}) as node:
        assert main(["call", "--address", node.address, "calc", "zactor.demo.Add", '{"a": 1, "b": 2}']) == 0
        assert "Result(value=3)" in capsys.readouterr().out
        assert main(["call", "--address", node.address, "nobody", "zactor.demo.Add", '{"a": 1, "b": 2}']) == 1
        assert "ActorNotFound" in capsys.readouterr().err
        assert main(["call", "--address", node.address, "calc", "no.Such", "{}"]) == 1
        assert "unknown message type" in capsys.readouterr().err
        assert node.stop() == 0


def test_node_with_a_bad_actor_spec_exits_nonzero() -> None:
    """``zactor node --actor`` with a class that cannot be loaded exits with an error, not a hang."""
    with pytest.raises(NodeStartError, match="exited with code 1"):
        NodeProcess("bad", actors={"x": "no_such_module:Thing"}, start_timeout_s=20)


def test_demo_runs_to_completion() -> None:
    """``zactor demo`` exits 0 after verifying every node byte for byte, and prints its summary."""
    proc = subprocess.run(
        [sys.executable, "-m", "zactor.services.cluster.cli", "demo"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "summary" in proc.stdout and "all nodes hold every file byte for byte" in proc.stdout
    assert proc.stdout.count(": ok") == 3


def test_kv_commands_against_a_node_with_a_store(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """`zactor kv put/get/keys/keyspaces/del` work against `zactor node --data-dir`; a missing key exits 1, and so
    does a keyspace the node does not hold, saying so."""
    with NodeProcess("kv-node", extra_args=("--data-dir", str(tmp_path))) as node:
        seed = ["--seed", node.address, "--keyspace", "ks"]
        assert main(["kv", "put", *seed, "greeting", "hello world", "--consistency", "none"]) == 0
        (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
        assert main(["kv", "put", *seed, "blob", "--file", str(tmp_path / "blob.bin"), "--consistency", "none"]) == 0
        capsysbinary.readouterr()
        assert main(["kv", "get", *seed, "greeting"]) == 0
        assert capsysbinary.readouterr().out == b"hello world"
        assert main(["kv", "get", *seed, "blob", "--output", str(tmp_path / "out.bin")]) == 0
        assert (tmp_path / "out.bin").read_bytes() == b"\x00\x01\x02"
        assert main(["kv", "keys", *seed]) == 0
        assert capsysbinary.readouterr().out.split() == [b"blob", b"greeting"]
        assert main(["kv", "get", *seed, "greeting", "--consistency", "local"]) == 0
        assert capsysbinary.readouterr().out == b"hello world"
        assert main(["kv", "keyspaces", "--seed", node.address]) == 0
        assert capsysbinary.readouterr().out.split() == [b"ks"]
        assert main(["kv", "keys", "--seed", node.address, "--keyspace", "typo"]) == 1
        err = capsysbinary.readouterr().err.decode()
        assert "no keyspace 'typo'" in err and "kv keyspaces" in err and err.count("\n") == 1
        assert main(["kv", "del", *seed, "greeting", "absent", "--consistency", "none"]) == 0
        assert capsysbinary.readouterr().out.startswith(b"deleted 1 of 2")
        assert main(["kv", "get", *seed, "greeting"]) == 1
        (tmp_path / "big.bin").write_bytes(bytes(3 * 1024 * 1024))
        assert main(["kv", "put", *seed, "big", "--file", str(tmp_path / "big.bin"), "--consistency", "one"]) == 0
        err = capsysbinary.readouterr().err.decode()
        assert "writing 3.0 MiB at one" in err and "MiB/s" in err
        assert main(["kv", "remove-node", "--seed", node.address, "gone"]) == 0
        assert main(["kv", "remove-node", "--seed", node.address, "kv-node"]) == 1
        assert node.stop() == 0
    assert (tmp_path / "kv-node.db").exists()


def test_a_store_node_keeps_its_identity_in_its_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Restarted without --node-id, a store node is the same node with its data; another --node-id is refused."""
    with NodeProcess("kv-1", extra_args=("--data-dir", str(tmp_path))) as node:
        seed = ["--seed", node.address, "--keyspace", "ks"]
        assert main(["kv", "put", *seed, "k", "kept", "--consistency", "one"]) == 0
        assert node.stop() == 0
    assert (tmp_path / "node_id").read_text().strip() == "kv-1"
    with NodeProcess(None, extra_args=("--data-dir", str(tmp_path))) as node:
        capsys.readouterr()
        assert main(["members", "--seed", node.address]) == 0
        assert "kv-1" in capsys.readouterr().out
        assert main(["kv", "get", "--seed", node.address, "--keyspace", "ks", "k"]) == 0
    log = tmp_path / "other.log"
    with pytest.raises(NodeStartError, match="exited"):
        NodeProcess("other", extra_args=("--data-dir", str(tmp_path)), log_path=log)
    assert "disagrees with the data directory" in log.read_text() and "Traceback" not in log.read_text()


def test_keys_commands_manage_a_keyring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """init, add, list, revoke; mistakes are one line on stderr and exit 1, never a traceback."""
    keyring = str(tmp_path / "kr")
    assert main(["keys", "init", keyring]) == 0
    assert main(["keys", "add", keyring, "alice"]) == 0 and main(["keys", "add", keyring, "bob"]) == 0
    assert "mode 0600" in capsys.readouterr().out
    assert main(["keys", "revoke", keyring, "alice"]) == 0
    capsys.readouterr()
    assert main(["keys", "list", keyring]) == 0
    assert capsys.readouterr().out.split() == ["bob"]
    for mistake in (["keys", "init", keyring], ["keys", "add", keyring, "../x"], ["keys", "revoke", keyring, "eve"]):
        assert main(mistake) == 1
        err = capsys.readouterr().err
        assert err.startswith("zactor keys: KeyringError:") and "Traceback" not in err and err.count("\n") == 1
    assert main(["node", "--keyring", keyring]) == 1
    assert "go together" in capsys.readouterr().err


@pytest.mark.parametrize("storage", ["sqlite", "lmdb"])
def test_a_node_refuses_a_corrupt_store_at_start_in_one_line(tmp_path: Path, storage: str) -> None:
    """A data directory whose SQLite file or LMDB environment is not one: the node exits at start with one line
    naming the file, no traceback, and leaves the file as it was."""
    (tmp_path / "node_id").write_text("n1\n")
    junk = b"not a store" * 1000
    if storage == "sqlite":
        target = tmp_path / "n1.db"
    else:
        (tmp_path / "n1.lmdb").mkdir()
        target = tmp_path / "n1.lmdb" / "data.mdb"
    target.write_bytes(junk)
    log = tmp_path / "node.log"
    with pytest.raises(NodeStartError, match="exited with code 1"):
        NodeProcess(None, extra_args=("--data-dir", str(tmp_path), "--storage", storage), log_path=log)
    text = log.read_text()
    assert "StorageError" in text and str(target) in text and "Traceback" not in text
    assert target.read_bytes() == junk
