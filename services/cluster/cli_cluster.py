"""The cluster commands of the ``zactor`` CLI: ``cluster up``, ``members`` and ``call``."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence

import attrs

from zactor.config import NodeConfig
from zactor.errors import ActorNotFound, DecodeError, NodeUnavailable
from zactor.loops import run as run_loop
from zactor.node import Node
from zactor.services.cluster.cli_keys import client_config, security_options
from zactor.services.cluster.local_cluster import LocalCluster, fetch_members
from zactor.services.cluster.observer import (
    ClusterLoad,
    LoadSample,
    NodeStats,
    replica_note,
    restarts_of,
    supervision_note,
)
from zactor.services.membership.messages import MemberRows
from zactor.services.replication.frontend import KV_ACTOR
from zactor.transport.codec import message_class
from zactor.transport.schema import check_fields

__all__ = ["format_hlc", "format_members", "render_table", "run_cluster_up", "run_members", "run_call"]

_COLUMNS = ("node", "address", "dc", "status", "phi", "store", "actors", "heartbeat")


def format_members(table: MemberRows, load: dict[str, NodeStats] | None = None) -> str:
    """A member table as aligned text (like ``nodetool status``), with the answering node and its HLC; ``store``
    says whether the node serves the replicated store (``zactor kv``); with ``load`` (each node's observer
    answer), ``msgs`` is what its actors handled since start, ``mailbox`` what waits now, and ``restarts`` how often its
    supervised actors restarted."""
    rows = []
    for r in table.rows:
        row = [
            r[0],
            r[1],
            r[2],
            r[3],
            f"{r[4]:.2f}",
            "yes" if KV_ACTOR in r[5] else "-",
            ",".join(a for a in r[5] if not a.startswith("zactor.")) or "-",
            str(r[6]),
        ]
        if load is not None:
            stats = load.get(r[0])
            handled = sum(a[0] for a in stats.actors.values()) if stats else None
            waiting = sum(a[2] for a in stats.actors.values()) if stats else None
            row += ["-" if handled is None else f"{handled:,}", "-" if waiting is None else str(waiting)]
            row.append(restarts_of(stats))
        rows.append(row)
    columns = _COLUMNS if load is None else (*_COLUMNS, "msgs", "mailbox", "restarts")
    hlc = f" at {format_hlc(table.hlc[0], table.hlc[1])}" if table.hlc else ""
    return f"{render_table(columns, rows)}\n(as seen by {table.node_id}{hlc})"


def format_hlc(physical_ms: int, logical: int) -> str:
    """An HLC timestamp for people: its physical part as a UTC time to the millisecond, and its logical counter."""
    seconds, ms = divmod(physical_ms, 1000)
    wall = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    return f"HLC {wall}.{ms:03d} UTC, logical {logical}"


def render_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns of text, left-aligned, two spaces apart, with a header line."""
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def _client(args: argparse.Namespace) -> NodeConfig:
    return client_config("zactor-cli", args)


async def _sample(args: argparse.Namespace) -> LoadSample:
    client = _client(args)
    async with Node(client) as node:
        return await ClusterLoad(node, args.seed, client, args.timeout).sample()


def run_members(args: argparse.Namespace) -> int:
    """``zactor members --seed ADDR``: print the member table of the node at ADDR, with each live node's load."""
    sample = run_loop(_sample(args))
    print(format_members(sample.table, sample.stats))
    for note in (replica_note(sample.table, args.seed), supervision_note(sample.stats)):
        if note:
            print(note)
    return 0


def _message(args: argparse.Namespace) -> object:
    """The message to send, built from ``TYPE`` and the JSON fields.

    Raises:
        ValueError: an unknown type, fields that are not a JSON object, fields the class does not take, or a
            field of the wrong type (a DecodeError naming it).
    """
    if args.import_ and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in args.import_:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"--import {module}: {exc}") from None
    try:
        cls = message_class(args.type)
    except DecodeError:
        hint = "" if args.import_ else "; import the module that defines it with --import MODULE"
        raise ValueError(f"unknown message type {args.type!r}{hint}") from None
    fields = json.loads(args.fields)
    if not isinstance(fields, dict):
        raise ValueError(f"the fields must be a JSON object like '{{\"a\": 1}}', not {type(fields).__name__}")
    unknown = sorted(set(fields).difference(a.name for a in attrs.fields(cls)))
    if unknown:
        raise ValueError(f"{args.type} has no field {', '.join(unknown)}")
    return check_fields(cls, fields)  # a DecodeError (a ValueError) names a field of the wrong type


async def _call(args: argparse.Namespace) -> int:
    msg = _message(args)
    address = args.address
    if address is None:
        table = await fetch_members(args.seed, timeout_s=args.timeout, include_down=True, client=_client(args))
        hosting = [row for row in table.rows if args.actor in row[5]]
        live = [row[1] for row in hosting if row[3] == "live"]
        if not live and hosting:
            down = ", ".join(f"{row[0]} ({row[3]})" for row in hosting)
            raise NodeUnavailable(down, f"it hosts {args.actor!r} but is not live")
        if not live:
            raise ActorNotFound(args.actor, "any member")
        address = live[0]
    async with Node(_client(args)) as node:
        try:
            reply = await node.ref(args.actor, address=address).ask(msg, timeout_s=args.timeout)
        except TypeError as exc:  # a field value the wire cannot carry (e.g. an int beyond 64 bits)
            raise ValueError(f"{args.type}: {exc}") from None
    print(reply)
    return 0


def run_call(args: argparse.Namespace) -> int:
    """``zactor call``: ask an actor (found through ``--seed`` or at ``--address``) once and print the reply."""
    if (args.seed is None) == (args.address is None):
        raise ValueError("give exactly one of --seed and --address")
    return run_loop(_call(args))


def run_cluster_up(args: argparse.Namespace) -> int:
    """``zactor cluster up -n N``: run a local cluster in the foreground, print the member table on change."""
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    node_args = ["--gossip-interval", str(args.gossip_interval)]
    security = security_options(args)
    with LocalCluster(
        args.n,
        data_centers=args.dc or ("dc1",),
        cluster_id=args.cluster_id,
        node_args=node_args,
        secure=args.secure,
        data_dir=args.data_dir,
        actors=dict(args.actor),
        keyring=security["keyring_dir"],
        client_key=security["key_name"] or "client",
        keep_logs=args.keep_logs,
    ) as cluster:
        kept = "" if args.keep_logs else " (removed on exit; --keep-logs keeps them)"
        print(
            f"cluster {args.cluster_id!r} up: {args.n} nodes, seed {cluster.seed}, logs in {cluster.log_dir}{kept}",
            flush=True,
        )
        if cluster.keyring is not None:
            key = cluster.client_config.key_name
            print(f"secure: talk to it with --keyring {cluster.keyring} --key-name {key}", flush=True)
        shown = None
        while not stop:
            try:
                table = cluster.members(0)
                current = [(r[0], r[3]) for r in table.rows]
                if current != shown:
                    print(format_members(table), "\n", flush=True)
                    shown = current
            except Exception as exc:  # node 0 may be down: keep watching
                print(f"node 0 does not answer: {exc}", flush=True)
            time.sleep(0.5)
        print("stopping the cluster", flush=True)
        for i in cluster.running():
            cluster.stop(i)
    return 0
