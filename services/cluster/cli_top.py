"""``zactor top --seed ADDR``: a live table of the cluster, refreshed every second, readable over SSH; ``sync
docs/s`` shows an anti-entropy catch-up in progress.

Each refresh asks the seed for its member table and every live member for its load (``zactor.observer``); rates
are the differences between two refreshes. On a terminal the table redraws in place; otherwise (a pipe, a log)
each refresh is printed after the previous one. ``--once`` samples twice, ``--interval`` apart, prints one table
with the rates between them, and exits. Until a member has been sampled twice its rates show as ``-``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from zactor.directory import MemberRow
from zactor.loops import run as run_loop
from zactor.node import Node
from zactor.services.cluster.cli_cluster import render_table
from zactor.services.cluster.cli_keys import client_config
from zactor.services.cluster.observer import ClusterLoad, NodeStats, replica_note, restarts_of, supervision_note

__all__ = ["run_top", "format_top"]

_COLUMNS = (
    "node",
    "status",
    "phi",
    "actors",
    "msgs/s",
    "mailbox",
    "failures",
    "restarts",
    "store docs",
    "sync docs/s",
    "env in/s",
)
_CLEAR = "\x1b[H\x1b[2J"


def format_top(rows: list[MemberRow], stats: dict[str, NodeStats], rates: dict[str, tuple[float, float, float]]) -> str:
    """The table: one line per member, from its member row, its load (if it answered) and its rates."""
    lines = []
    for row in rows:
        node_id, status, phi = row[0], row[3], row[4]
        load = stats.get(node_id)
        user_actors = sorted(a for a in row[5] if not a.startswith("zactor."))
        if load is None:
            cells = [node_id, status, f"{phi:.2f}", ",".join(user_actors) or "-", *["-"] * 7]
        else:
            per_actor = load.actors.values()
            rate = rates.get(node_id)  # none before a second sample: shown as "-", not as 0
            msgs_s, env_s, sync_s = (f"{r:,.0f}" for r in rate) if rate is not None else ("-", "-", "-")
            cells = [
                node_id,
                status,
                f"{phi:.2f}",
                ",".join(user_actors) or "-",
                msgs_s,
                str(sum(a[2] for a in per_actor)),
                str(sum(a[1] for a in per_actor)),
                restarts_of(load),
                f"{load.store_documents:,}" if load.store_documents >= 0 else "-",
                sync_s if load.store_documents >= 0 else "-",
                env_s,
            ]
        lines.append(cells)
    return render_table(_COLUMNS, lines)


async def _top(args: argparse.Namespace) -> int:
    client = client_config("zactor-top", args)
    async with Node(client) as node:
        load = ClusterLoad(node, args.seed, client, args.timeout)
        if args.once:  # rates are differences: a first sample, then the one shown
            await load.sample()
            await asyncio.sleep(args.interval)
        while True:
            sample = await load.sample()
            rows = sample.table.rows
            live = sum(row[3] == "live" for row in rows)
            stamp = time.strftime("%H:%M:%S")
            header = f"zactor top: {live} live of {len(rows)} members, via {args.seed}, {stamp}"
            text = format_top(rows, sample.stats, sample.rates)
            for note in (replica_note(sample.table, args.seed), supervision_note(sample.stats)):
                if note:
                    text = f"{text}\n{note}"
            if args.once:
                print(f"{header}\n{text}")
                return 0
            prefix = _CLEAR if sys.stdout.isatty() else "\n"
            print(f"{prefix}{header}\n{text}", flush=True)
            await asyncio.sleep(args.interval)


def run_top(args: argparse.Namespace) -> int:
    """``zactor top``: print the cluster's table every ``--interval`` seconds until Ctrl-C (or once)."""
    return run_loop(_top(args))
