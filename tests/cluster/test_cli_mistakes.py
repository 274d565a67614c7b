"""A user's mistakes on the command line: one line naming the problem, a non-zero exit, never a traceback."""

from __future__ import annotations

import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest
from cli_process import zactor_command

from zactor.services.cluster.cli import main

NOBODY = "tcp://127.0.0.1:1"  # nothing listens on port 1


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ("[1, 2]", "JSON object"),
        ('{"a": 1}', "zactor.demo.Add"),
        ('{"a": 1, "b": 2, "c": 3}', "zactor.demo.Add has no field c"),
        ('{"a": "one", "b": 2}', "zactor.demo.Add.a: expected float, got str 'one'"),
        ('{"a": [1], "b": 2}', "zactor.demo.Add.a: expected float, got list"),
        ('{"a": 18446744073709551616, "b": 1}', "64-bit"),
        ("{not json", "JSONDecodeError"),
    ],
)
def test_bad_message_fields_are_refused_before_sending(
    fields: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["call", "--address", NOBODY, "--timeout", "0.5", "calc", "zactor.demo.Add", fields]) == 1
    _one_line_error(capsys, "zactor call:", needle)


def test_an_unknown_type_hints_at_import_and_import_searches_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cwdmsgs.py").write_text(
        'from zactor import message\n\n\n@message("test.cwd.Ping")\nclass Ping:\n    pass\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["call", "--address", NOBODY, "--timeout", "0.3", "x", "test.cwd.Ping", "{}"]) == 1
    _one_line_error(capsys, "unknown message type", "--import")
    args = ["call", "--address", NOBODY, "--timeout", "0.3", "--import", "cwdmsgs", "x", "test.cwd.Ping", "{}"]
    assert main(args) == 1
    _one_line_error(capsys, "RequestTimeout")  # the type was found and the ask was sent


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "chatty", "members", "--seed", NOBODY],
        ["cluster", "up", "-n", "0"],
        ["members", "--seed", "127.0.0.1:5555"],
        ["members", "--seed", "tcp://127.0.0.1:70000"],
        ["node", "--bind", "localhost"],
        ["members", "--seed", NOBODY, "--timeout", "0"],
        ["kv", "put", "--seed", NOBODY, "--keyspace", "ks", "k", "v", "--consistency", "most"],
        ["node", "--seed", "dns:seeds.example"],
        ["node", "--seed", "dns:seeds.example:99999"],
        ["node", "--group", "g", "--group-size", "0"],
        ["leaders", "--seed", "127.0.0.1:5555"],
        ["dashboard", "--seed", NOBODY, "--port", "80000"],
        ["node", "--metrics-port", "80000"],
        ["node", "--metrics-port", "-1"],
        ["kv", "get", "--seed", NOBODY, "--keyspace", "ks", "k", "--consistency", ""],
    ],
)
def test_argument_mistakes_are_refused_by_the_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err


def test_log_level_after_the_command_and_a_dead_seed_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["members", "--log-level", "error", "--seed", NOBODY, "--timeout", "0.3"]) == 1
    _one_line_error(capsys, "NodeUnavailable", "is a node running there")
    assert main(["kv", "keys", "--seed", NOBODY, "--keyspace", "ks", "--timeout", "0.3"]) == 1
    _one_line_error(capsys, "NodeUnavailable", "--data-dir")
    assert main(["leaders", "--seed", NOBODY, "--timeout", "0.3"]) == 1
    _one_line_error(capsys, "zactor leaders:", "NodeUnavailable")


def test_kv_put_without_a_value_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kv", "put", "--seed", NOBODY, "--keyspace", "ks", "k"]) == 1
    _one_line_error(capsys, "nothing to write")


def test_an_actor_class_that_needs_arguments_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["node", "--actor", "x=zactor.services.membership.service:MembershipService"]) == 1
    _one_line_error(capsys, "not an Actor subclass")
    assert main(["node", "--actor", "x=zactor.services.membership.service:_GossipActor"]) == 1
    _one_line_error(capsys, "cannot be built with no arguments")


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["call", "--help"])
    assert "(default: 5.0)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command",
    [["call"], ["members"], ["node"], ["dashboard"], ["top"], ["leaders"], ["cluster", "up"], ["bench"]]
    + [["kv", name] for name in ("put", "get", "del", "keys", "keyspaces", "remove-node")],
)
def test_help_shows_no_empty_default_or_choice(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """No "(default: None)" or "(default: [])" on any option, and no empty choice among the choices."""
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in out and "(default: [])" not in out and "{," not in out and ",}" not in out


def test_a_busy_port_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    """The metrics port or the page's port in use: one line naming host and port."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert main(["node", "--metrics-port", port]) == 1
        _one_line_error(capsys, "zactor node:", f"127.0.0.1:{port}", "in use")
        assert main(["dashboard", "--seed", NOBODY, "--port", port]) == 1
        _one_line_error(capsys, "zactor dashboard:", f"127.0.0.1:{port}", "in use")


def test_the_page_is_not_served_to_the_network_without_insecure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--seed", NOBODY, "--host", "0.0.0.0", "--port", "0"]) == 1
    _one_line_error(capsys, "zactor dashboard:", "0.0.0.0", "--insecure")


def test_ctrl_c_ends_a_call_with_one_line() -> None:
    """SIGINT during an ask: exit 130 and 'interrupted', no traceback."""
    args = ["call", "--address", NOBODY, "--timeout", "30", "calc", "zactor.demo.Add", '{"a": 1, "b": 2}']
    with zactor_command(*args, stderr=True) as proc:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        (["--actor", "x=no_such_module:Thing"], "no_such_module"),
        (["--data-dir", "/proc/zactor-cannot-write-here"], "/proc/zactor-cannot-write-here"),
    ],
)
def test_cluster_up_says_why_a_node_did_not_start_and_leaves_no_logs(
    option: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in --actor or an unwritable --data-dir: one line with the node's own reason, and no log directory
    left behind."""
    before = set(Path(tempfile.gettempdir()).glob("zactor-cluster-*"))
    assert main(["cluster", "up", "-n", "1", *option]) == 1
    _one_line_error(capsys, "zactor cluster:", "NodeStartError", "zactor node:", needle)
    assert set(Path(tempfile.gettempdir()).glob("zactor-cluster-*")) == before
