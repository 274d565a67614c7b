"""``zactor spawn`` / ``zactor stop-actor`` against a node started with ``--admin``, whose allowed module lives in the
working directory; a refusal is one line and exit code 1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zactor.services.cluster.cli import main
from zactor.services.cluster.process import NodeProcess

MODULE = """
from zactor import Actor, Context, Returns, handler, message


@message("spawned.Ping")
class Ping(Returns["Pong"]):
    n: int


@message("spawned.Pong")
class Pong:
    n: int


class Echo(Actor):
    @handler
    async def ping(self, msg: Ping, ctx: Context) -> Pong:
        return Pong(n=msg.n)
"""


def test_spawn_call_and_stop_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "spawned_actors.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)  # the node process starts here: --admin searches it as --actor does
    args = ("--admin", "--admin-allow", "spawned_actors")
    script = Path(sys.executable).parent / "zactor"  # the installed script: no working directory on sys.path
    with NodeProcess("spawn-node", extra_args=args, command=(str(script),)) as node:
        seed = ["--seed", node.address]
        assert (
            main(["spawn", "echo", "spawned_actors:Echo", *seed, "--on", "spawn-node", "--restart", "on_failure"]) == 0
        )
        assert "echo spawned on spawn-node" in capsys.readouterr().out
        call = ["call", *seed, "--import", "spawned_actors", "echo", "spawned.Ping", '{"n": 7}']
        assert main(call) == 0
        assert "Pong(n=7)" in capsys.readouterr().out

        assert main(["spawn", "x", "os:system", *seed]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("zactor spawn: SpawnRefused:") and "admin-allow" in err[0]
        assert main(["spawn", "x", "spawned_actors:Echo", *seed, "--on", "nobody"]) == 1
        assert "not a live member" in capsys.readouterr().err

        assert main(["stop-actor", "echo", *seed, "--on", "spawn-node"]) == 0
        capsys.readouterr()
        assert main(call) == 1
        assert "ActorNotFound" in capsys.readouterr().err
        assert main(["stop-actor", "echo", *seed, "--on", "spawn-node"]) == 1
        assert "ActorNotFound" in capsys.readouterr().err
        assert main(["stop-actor", "echo", *seed, "--on", "nobody"]) == 1
        assert "SpawnRefused" in capsys.readouterr().err
        assert node.stop() == 0
