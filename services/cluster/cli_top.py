"""``zactor top --seed ADDR``: a live table of the cluster, refreshed every second, readable over SSH.

Each refresh asks the seed for its member table and every live member for its load (``zactor.observer``); rates
are the differences between two refreshes. On a terminal the table redraws in place; otherwise (a pipe, a log)
each refresh is printed after the previous one. ``--once`` prints one table and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from zactor.config import NodeConfig
from zactor.errors import ActorError
from zactor.node import Node
from zactor.services.cluster.cli_cluster import render_table
from zactor.services.cluster.cli_keys import security_options
from zactor.services.cluster.local_cluster import fetch_members
from zactor.services.cluster.observer import OBSERVER_ACTOR, GetNodeStats, NodeStats

__all__ = ["run_top", "format_top"]

_COLUMNS = ("node", "status", "phi", "actors", "msgs/s", "mailbox", "failures", "store docs", "env in/s")
_CLEAR = "\x1b[H\x1b[2J"


def format_top(rows: list[list[Any]], stats: dict[str, NodeStats], rates: dict[str, tuple[float, float]]) -> str:
    """The table: one line per member, from its member row, its load (if it answered) and its rates."""
    lines = []
    for row in rows:
        node_id, status, phi = row[0], row[3], row[4]
        load = stats.get(node_id)
        user_actors = sorted(a for a in row[5] if not a.startswith("zactor."))
        if load is None:
            cells = [node_id, status, f"{phi:.2f}", ",".join(user_actors) or "-", "-", "-", "-", "-", "-"]
        else:
            per_actor = load.actors.values()
            msgs_s, env_s = rates.get(node_id, (0.0, 0.0))
            cells = [
                node_id,
                status,
                f"{phi:.2f}",
                ",".join(user_actors) or "-",
                f"{msgs_s:,.0f}",
                str(sum(a[2] for a in per_actor)),
                str(sum(a[1] for a in per_actor)),
                f"{load.store_documents:,}" if load.store_documents >= 0 else "-",
                f"{env_s:,.0f}",
            ]
        lines.append(cells)
    return render_table(_COLUMNS, lines)


async def _load(node: Node, address: str, timeout_s: float) -> NodeStats | None:
    try:
        return await node.ref(OBSERVER_ACTOR, address=address).ask(GetNodeStats(), timeout_s=timeout_s)
    except ActorError:
        return None


async def _top(args: argparse.Namespace) -> int:
    client = NodeConfig(node_id="zactor-top", **security_options(args))
    previous: dict[str, tuple[float, int, int]] = {}
    async with Node(client) as node:
        while True:
            table = await fetch_members(args.seed, timeout_s=args.timeout, client=client)
            live = [row for row in table.rows if row[3] == "live"]
            answers = await asyncio.gather(*(_load(node, row[1], args.timeout) for row in live))
            now = time.monotonic()
            stats = {row[0]: load for row, load in zip(live, answers, strict=True) if load is not None}
            rates: dict[str, tuple[float, float]] = {}
            for node_id, load in stats.items():
                handled = sum(a[0] for a in load.actors.values())
                if node_id in previous:
                    at, was_handled, was_in = previous[node_id]
                    span = max(now - at, 1e-6)
                    rates[node_id] = ((handled - was_handled) / span, (load.envelopes_in - was_in) / span)
                previous[node_id] = (now, handled, load.envelopes_in)
            text = format_top(table.rows, stats, rates)
            stamp = time.strftime("%H:%M:%S")
            header = f"zactor top: {len(live)} live of {len(table.rows)} members, via {args.seed}, {stamp}"
            if args.once:
                print(f"{header}\n{text}")
                return 0
            prefix = _CLEAR if sys.stdout.isatty() else "\n"
            print(f"{prefix}{header}\n{text}", flush=True)
            await asyncio.sleep(args.interval)


def run_top(args: argparse.Namespace) -> int:
    """``zactor top``: print the cluster's table every ``--interval`` seconds until Ctrl-C (or once)."""
    return asyncio.run(_top(args))
