"""``zactor spawn`` and ``zactor stop-actor``: add or remove an actor on a cluster member, through its admin actor."""

from __future__ import annotations

import argparse
import random
from typing import Any, NamedTuple

from zactor.loops import run as run_loop
from zactor.node import Node
from zactor.services.cluster.admin import ADMIN_ACTOR, AddActor, RemoveActor
from zactor.services.cluster.cli_args import add_command, endpoint, positive_float
from zactor.services.cluster.cli_keys import add_security_arguments, client_config
from zactor.services.cluster.local_cluster import fetch_members
from zactor.services.cluster.spawn import admin_request, choose_host
from zactor.supervision import Restart, RestartPolicy, as_policy

__all__ = ["add_spawn_parsers", "run_spawn", "run_stop_actor"]


class _Row(NamedTuple):
    node_id: str
    address: str


def add_spawn_parsers(sub: Any) -> None:
    """Add ``spawn`` and ``stop-actor`` to the ``zactor`` subcommands."""
    spawn = add_command(sub, "spawn", "add an actor on a cluster member through its admin actor (zactor node --admin)")
    spawn.add_argument("name", help="the name to register the actor under")
    spawn.add_argument("spec", help="MODULE:CLASS, importable on the target node (allowed by its --admin-allow)")
    spawn.add_argument("--seed", required=True, type=endpoint, metavar="ADDR", help="any node of the cluster")
    spawn.add_argument("--on", default="any", metavar="NODE", help="the target node's id, or any (a random one)")
    spawn.add_argument(
        "--restart",
        choices=[mode.value for mode in Restart],
        help="supervise it: restart never, on failure, or always (default: no supervision)",
    )
    spawn.add_argument("--max-restarts", type=int, default=3, help="with --restart: restarts allowed per --within")
    spawn.add_argument("--within", type=positive_float, default=5.0, help="with --restart: the budget's window (s)")
    spawn.add_argument("--timeout", type=positive_float, default=5.0, help="deadline of each request (s)")
    add_security_arguments(spawn)

    stop = add_command(sub, "stop-actor", "remove an actor from a cluster member through its admin actor")
    stop.add_argument("name", help="the actor's name")
    stop.add_argument("--seed", required=True, type=endpoint, metavar="ADDR", help="any node of the cluster")
    stop.add_argument("--on", required=True, metavar="NODE", help="the id of the node that hosts it")
    stop.add_argument("--timeout", type=positive_float, default=5.0, help="deadline of each request (s)")
    add_security_arguments(stop)


async def _admin_hosts(args: argparse.Namespace) -> list[_Row]:
    table = await fetch_members(
        args.seed, timeout_s=args.timeout, include_down=False, client=client_config("zactor-cli", args)
    )
    return [_Row(row[0], row[1]) for row in table.rows if row[3] == "live" and ADMIN_ACTOR in row[5]]


async def _spawn(args: argparse.Namespace) -> int:
    policy = None
    if args.restart is not None:
        policy = as_policy(
            RestartPolicy(mode=Restart(args.restart), max_restarts=args.max_restarts, within_s=args.within)
        )
    target = choose_host(args.name, args.on, await _admin_hosts(args), random.Random())
    async with Node(client_config("zactor-cli", args)) as node:
        msg = AddActor(name=args.name, spec=args.spec, restart=policy)
        await admin_request(node, target.node_id, target.address, args.name, msg, args.timeout)
    print(f"{args.name} spawned on {target.node_id} ({target.address})")
    return 0


async def _stop_actor(args: argparse.Namespace) -> int:
    target = choose_host(args.name, args.on, await _admin_hosts(args), random.Random())
    async with Node(client_config("zactor-cli", args)) as node:
        await admin_request(node, target.node_id, target.address, args.name, RemoveActor(name=args.name), args.timeout)
    print(f"{args.name} stopped on {target.node_id}")
    return 0


def run_spawn(args: argparse.Namespace) -> int:
    """``zactor spawn NAME SPEC --seed ADDR [--on NODE]``: add an actor and print where it runs."""
    return run_loop(_spawn(args))


def run_stop_actor(args: argparse.Namespace) -> int:
    """``zactor stop-actor NAME --seed ADDR --on NODE``: remove an actor from that node."""
    return run_loop(_stop_actor(args))
