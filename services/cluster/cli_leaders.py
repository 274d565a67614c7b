"""``zactor leaders --seed ADDR``: every election group of the cluster, its leader, term and lease age."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from zactor.config import NodeConfig
from zactor.errors import ActorError
from zactor.loops import run as run_loop
from zactor.node import Node
from zactor.services.cluster.cli_args import add_command, endpoint, positive_float
from zactor.services.cluster.cli_cluster import render_table
from zactor.services.cluster.cli_keys import add_security_arguments, client_config
from zactor.services.cluster.local_cluster import fetch_members
from zactor.services.election.actor import ELECTION_ACTOR
from zactor.services.election.messages import GetLeaders, Leaders

__all__ = ["add_leaders_parser", "election_hosts", "fetch_leaders", "format_leaders", "run_leaders"]

_COLUMNS = ("group", "leader", "term", "lease age (s)", "voters", "reported by")


async def election_hosts(seed: str, client: NodeConfig, timeout_s: float) -> list[str]:
    """The addresses of the live members that run elections, from the member table of the node at ``seed``.

    Raises:
        NodeUnavailable: the seed does not answer within ``timeout_s`` seconds.
    """
    table = await fetch_members(seed, timeout_s=timeout_s, include_down=False, client=client)
    return [row[1] for row in table.rows if ELECTION_ACTOR in row[5]]


async def fetch_leaders(hosts: list[str], client: NodeConfig, timeout_s: float) -> dict[str, list[Any]]:
    """``{group: [leader, term, lease age in seconds, voters, reporting node]}``: per group, the
    report of the newest term among the nodes at ``hosts`` (the leader's own report wins a tie); a node that does
    not answer within ``timeout_s`` seconds is left out."""
    async with Node(client) as node:

        async def ask(address: str) -> Leaders | None:
            try:
                return await node.ref(ELECTION_ACTOR, address=address).ask(GetLeaders(), timeout_s=timeout_s)
            except ActorError:
                return None

        reports = await asyncio.gather(*(ask(a) for a in hosts))
    groups: dict[str, list[Any]] = {}
    for report in reports:
        if report is None:
            continue
        for group, (leader, term, age_s, voters) in report.groups.items():
            best = groups.get(group)
            is_self = leader == report.node_id
            if best is None or (term, is_self) > (best[1], best[4] == best[0]):
                groups[group] = [leader, term, age_s, voters, report.node_id]
    return groups


def format_leaders(groups: dict[str, list[Any]]) -> str:
    """The table ``zactor leaders`` prints."""
    rows = [
        [
            group,
            leader or "(none)",
            str(term),
            "-" if age_s < 0 else f"{age_s:.2f}",
            ",".join(voters),
            reporter,
        ]
        for group, (leader, term, age_s, voters, reporter) in sorted(groups.items())
    ]
    return render_table(_COLUMNS, rows) if rows else "no election groups in the cluster"


def add_leaders_parser(sub: Any) -> None:
    """The ``leaders`` command's arguments."""
    leaders = add_command(sub, "leaders", "print every election group's leader, term and lease age")
    leaders.add_argument("--seed", required=True, type=endpoint, metavar="ADDR", help="any node of the cluster")
    leaders.add_argument("--timeout", type=positive_float, default=2.0, help="deadline of each query (s)")
    add_security_arguments(leaders)


def run_leaders(args: argparse.Namespace) -> int:
    """``zactor leaders --seed ADDR``."""
    client = client_config("zactor-cli", args)
    hosts = run_loop(election_hosts(args.seed, client, args.timeout))
    print(format_leaders(run_loop(fetch_leaders(hosts, client, args.timeout))))
    return 0
