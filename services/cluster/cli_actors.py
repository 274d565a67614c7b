"""``zactor actors --seed ADDR``: the virtual actors' kinds, and on each live node the shards it leads, the keys
active there and those being activated (a move in progress)."""

from __future__ import annotations

import argparse
from typing import Any

from zactor.loops import run as run_loop
from zactor.node import Node
from zactor.services.cluster.cli_args import add_command, endpoint, positive_float
from zactor.services.cluster.cli_cluster import render_table
from zactor.services.cluster.cli_keys import add_security_arguments, client_config
from zactor.services.cluster.observer import ClusterLoad, NodeStats

__all__ = ["add_actors_parser", "format_virtual", "run_actors"]

_COLUMNS = ("node", "kind", "shards led", "active", "activating")


def add_actors_parser(sub: Any) -> None:
    """Add ``actors`` to the ``zactor`` subcommands."""
    actors = add_command(sub, "actors", "virtual actors: each node's kinds, the shards it leads, keys active there")
    actors.add_argument("--seed", required=True, type=endpoint, metavar="ADDR", help="any node of the cluster")
    actors.add_argument("--timeout", type=positive_float, default=2.0, help="deadline of each query (s)")
    add_security_arguments(actors)


def format_virtual(stats: dict[str, NodeStats]) -> str:
    """One line per (node, kind) of the nodes that answered, then the totals per kind; a note when no node hosts a
    kind."""
    rows = []
    totals: dict[str, list[int]] = {}
    for node_id in sorted(stats):
        for kind, (led, active, activating) in sorted(stats[node_id].virtual.items()):
            rows.append([node_id, kind, str(led), str(active), str(activating)])
            total = totals.setdefault(kind, [0, 0, 0])
            for i, value in enumerate((led, active, activating)):
                total[i] += value
    if not rows:
        return "no live node hosts a virtual actor kind (zactor node --kind KIND=MODULE:CLASS)"
    rows += [["(all)", kind, *(str(v) for v in total)] for kind, total in sorted(totals.items())]
    return render_table(_COLUMNS, rows)


async def _actors(args: argparse.Namespace) -> int:
    client = client_config("zactor-actors", args)
    async with Node(client) as node:
        sample = await ClusterLoad(node, args.seed, client, args.timeout).sample()
    print(format_virtual(sample.stats))
    return 0


def run_actors(args: argparse.Namespace) -> int:
    """``zactor actors --seed ADDR``: print the virtual actors' table."""
    return run_loop(_actors(args))
