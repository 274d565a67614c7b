"""The ``zactor`` command line: demo, node, cluster up, members, leaders, kv, spawn, stop-actor, actors, call, keys;
``--help`` describes each."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zactor import __version__
from zactor.config import DEFAULT_CLUSTER_ID, NodeConfig
from zactor.errors import ActorError
from zactor.loops import LOOP_ENV, LOOP_KINDS
from zactor.loops import run as run_loop
from zactor.services.cluster.admin import ADMIN_ACTOR, AdminActor, actor_factory, build_actor
from zactor.services.cluster.cli_actors import add_actors_parser, run_actors
from zactor.services.cluster.cli_args import (
    LOG_LEVELS,
    LOOP_HELP,
    HelpFormatter,
    add_command,
    endpoint,
    port,
    positive_float,
    positive_int,
    seed_entry,
)
from zactor.services.cluster.cli_bench import add_bench_parser, run_bench
from zactor.services.cluster.cli_cluster import run_call, run_cluster_up, run_members
from zactor.services.cluster.cli_keys import (
    add_keys_parser,
    add_security_arguments,
    client_config,
    run_keys,
    security_options,
)
from zactor.services.cluster.cli_kv import add_kv_parser, run_kv
from zactor.services.cluster.cli_leaders import add_leaders_parser, run_leaders
from zactor.services.cluster.cli_spawn import add_spawn_parsers, run_spawn, run_stop_actor
from zactor.services.cluster.cli_top import run_top
from zactor.services.cluster.dashboard import run_dashboard
from zactor.services.cluster.demo_run import run_demo
from zactor.services.cluster.identity import lock_data_dir, node_identity
from zactor.services.cluster.metrics import serve_metrics
from zactor.services.cluster.node import ClusterNode
from zactor.services.cluster.process import READY_PREFIX
from zactor.services.election import Election
from zactor.services.replication import ReplicatedStore
from zactor.services.replication.backends import STORAGES, open_storage
from zactor.services.replication.frontend import KV_ACTOR, KvFrontend

__all__ = ["main"]

log = logging.getLogger("zactor.services.cluster.cli")


def _parse_actor(text: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise argparse.ArgumentTypeError(f"expected NAME=MODULE:CLASS, got {text!r}")
    return name, spec


async def _run_node(args: argparse.Namespace) -> int:
    if args.data_dir:
        with lock_data_dir(args.data_dir):
            return await _serve_node(args, node_identity(args.data_dir, args.node_id or args.key_name))
    return await _serve_node(args, args.node_id or args.key_name or NodeConfig().node_id)


async def _serve_node(args: argparse.Namespace, node_id: str) -> int:
    config = NodeConfig(
        node_id=node_id,
        bind=args.bind,
        seeds=args.seed,
        cluster_id=args.cluster_id,
        data_center=args.dc,
        gossip_interval_s=args.gossip_interval,
        **security_options(args),
    )
    if (args.actor or args.kind or args.admin) and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # --actor and the admin actor's specs name modules of the current directory
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ClusterNode(config) as node:
        for name, spec in args.actor:
            await node.add_actor(name, build_actor(spec))
        if args.data_dir:
            await node.add_extension(
                ReplicatedStore(
                    open_storage(args.storage, Path(args.data_dir), node.node_id),
                    anti_entropy_interval_s=args.anti_entropy_interval,
                    replication_factor=args.replication_factor,
                )
            )
            await node.add_actor(KV_ACTOR, KvFrontend())
        node.virtual_actors.state_dir = args.data_dir or None  # shard terms and votes survive a restart
        for kind, spec in args.kind:
            await node.register_kind(kind, actor_factory(spec))
        if args.admin:
            await node.add_actor(ADMIN_ACTOR, AdminActor(allow=args.admin_allow))
        for group in args.group:
            state_dir = args.data_dir or None
            await node.add_extension(Election(group, group_size=args.group_size, state_dir=state_dir))
        if args.metrics_port is not None:
            serve_metrics(node, args.metrics_port)
            log.info("metrics at http://127.0.0.1:%d/metrics", args.metrics_port)
        print(f"{READY_PREFIX}{node.address}", flush=True)
        log.info("node %r hosts %s", node.node_id, node.actors())
        await stop.wait()
        log.info("node %r stopping", node.node_id)
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zactor", description="Typed RPC actors on ZeroMQ.", formatter_class=HelpFormatter
    )
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, default="WARNING", help="logging level")
    parser.add_argument("--loop", choices=LOOP_KINDS, default=None, help=LOOP_HELP)
    parser.add_argument("--version", action="version", version=f"zactor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = add_command(
        sub, "demo", "a replicated store on a secure 3-process cluster, on real data: writes, a killed node, catch-up"
    )
    demo.add_argument(
        "--storage", choices=STORAGES, default="sqlite", help="where the nodes keep documents (lmdb: zactor[lmdb])"
    )
    add_security_arguments(demo)
    _add_node_parser(sub)
    _add_cluster_parser(sub)

    members = add_command(sub, "members", "print the member table of a node (node, address, dc, status, phi...)")
    members.add_argument("--seed", required=True, type=endpoint, metavar="ADDR", help="any node of the cluster")
    members.add_argument("--timeout", type=positive_float, default=2.0, help="deadline of the query (s)")
    add_security_arguments(members)

    add_leaders_parser(sub)

    top = add_command(sub, "top", "a live table of the cluster: members, load, mailboxes, store (Ctrl-C ends)")
    top.add_argument("--seed", required=True, type=endpoint, metavar="ADDR", help="any node of the cluster")
    top.add_argument("--interval", type=positive_float, default=1.0, help="seconds between refreshes")
    top.add_argument("--timeout", type=positive_float, default=2.0, help="deadline of each query (s)")
    top.add_argument("--once", action="store_true", help="print one table (rates over one --interval) and exit")
    add_security_arguments(top)

    page = add_command(sub, "dashboard", "serve a live page of the cluster (members, status, actors, load)")
    page.add_argument("--seed", required=True, type=endpoint, metavar="ADDR", help="any node of the cluster")
    page.add_argument("--host", default="127.0.0.1", help="the address the page is served on")
    page.add_argument("--port", type=port, default=8080, help="the page's port (0: a free one)")
    page.add_argument(
        "--insecure", action="store_true", help="allow a --host other hosts can reach (the page has no login)"
    )
    page.add_argument("--interval", type=positive_float, default=1.0, help="seconds between samples")
    page.add_argument("--timeout", type=positive_float, default=2.0, help="deadline of each query (s)")
    add_security_arguments(page)

    add_kv_parser(sub)
    add_spawn_parsers(sub)
    add_actors_parser(sub)
    add_bench_parser(sub)
    add_keys_parser(sub)

    call = add_command(sub, "call", "ask an actor once and print the reply")
    where = call.add_mutually_exclusive_group(required=True)
    where.add_argument("--seed", type=endpoint, metavar="ADDR", help="any node; the actor is found through membership")
    where.add_argument("--address", type=endpoint, help="endpoint of the node hosting the actor")
    call.add_argument(
        "--import",
        dest="import_",
        action="append",
        default=[],
        metavar="MODULE",
        help="module that defines the message classes (the current directory is searched too); repeatable",
    )
    call.add_argument("--timeout", type=positive_float, default=5.0, help="deadline of the ask (s)")
    call.add_argument("actor", help="the actor's name")
    call.add_argument("type", help="the message's registered type name, e.g. zactor.demo.Add")
    call.add_argument("fields", help='the message fields as a JSON object, e.g. \'{"a": 1, "b": 2}\'')
    add_security_arguments(call)
    return parser


def _add_actor_argument(parser: argparse.ArgumentParser, where: str) -> None:
    parser.add_argument(
        "--actor",
        action="append",
        type=_parse_actor,
        default=[],
        metavar="NAME=MODULE:CLASS",
        help=f"host an actor {where} (built with no arguments; the current directory is searched too); repeatable",
    )


def _add_node_parser(sub: Any) -> None:
    node = add_command(sub, "node", "run one node in the foreground until Ctrl-C or SIGTERM (leaves gracefully)")
    node.add_argument("--node-id", help="the node's id (default: the one kept in --data-dir, else a new random one)")
    node.add_argument("--bind", type=endpoint, default="tcp://127.0.0.1:0", help="endpoint to bind (port 0: any)")
    node.add_argument(
        "--seed",
        action="append",
        type=seed_entry,
        default=[],
        metavar="SEED",
        help="a seed: tcp://HOST:PORT, dns:NAME:PORT (re-resolved) or file:PATH (re-read); repeatable",
    )
    node.add_argument("--cluster-id", default=DEFAULT_CLUSTER_ID, help="the cluster to join")
    node.add_argument("--dc", default="dc1", help="the node's data center")
    node.add_argument("--gossip-interval", type=positive_float, default=0.2, help="seconds between gossip rounds")
    node.add_argument(
        "--admin", action="store_true", help="host zactor.services.cluster.admin: add/remove actors from outside"
    )
    node.add_argument(
        "--admin-allow",
        action="append",
        default=[],
        metavar="PREFIX",
        help="with --admin: a module prefix AddActor may import from (the current directory is searched too; none by "
        "default); repeatable",
    )
    node.add_argument(
        "--data-dir",
        help="run the replicated key-value store; this node's directory (its id and storage; one node per dir)",
    )
    node.add_argument(
        "--storage",
        choices=STORAGES,
        default="sqlite",
        help="with --data-dir: where documents are kept (lmdb needs pip install 'zactor[lmdb]')",
    )
    node.add_argument(
        "--anti-entropy-interval",
        type=positive_float,
        default=2.0,
        help="seconds between anti-entropy rounds (with --data-dir)",
    )
    node.add_argument(
        "--replication-factor",
        type=int,
        default=0,
        help="with --data-dir: the smallest replica set size assumed, e.g. the cluster's size (0: the known size)",
    )
    node.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME",
        help="join election group NAME (term and vote kept in --data-dir when given); repeatable",
    )
    node.add_argument(
        "--group-size", type=positive_int, default=3, help="voters of each --group, chosen among its members"
    )
    node.add_argument(
        "--metrics-port", type=port, metavar="PORT", help="serve Prometheus metrics at http://127.0.0.1:PORT/metrics"
    )
    _add_actor_argument(node, "on this node")
    node.add_argument(
        "--kind",
        action="append",
        type=_parse_actor,
        default=[],
        metavar="KIND=MODULE:CLASS",
        help="host virtual actors of KIND, each built with no arguments (the current directory is searched too); "
        "repeatable",
    )
    add_security_arguments(node, insecure=True)


def _add_cluster_parser(sub: Any) -> None:
    cluster = add_command(sub, "cluster", "local multi-process clusters")
    cluster_sub = cluster.add_subparsers(dest="cluster_command", required=True)
    up = add_command(cluster_sub, "up", "run a local cluster in the foreground; print members when they change")
    up.add_argument("-n", type=positive_int, default=3, help="number of nodes")
    up.add_argument("--dc", action="append", metavar="DC", help="data center names, assigned round-robin; repeatable")
    up.add_argument("--cluster-id", default=DEFAULT_CLUSTER_ID, help="the cluster id")
    up.add_argument("--gossip-interval", type=positive_float, default=0.2, help="seconds between gossip rounds")
    up.add_argument("--secure", action="store_true", help="create a keyring in the cluster's directory: CURVE + ZAP")
    up.add_argument(
        "--data-dir", metavar="DIR", help="run the replicated store on every node, node i in DIR/node<i> (kept)"
    )
    up.add_argument("--keep-logs", action="store_true", help="keep the node logs (and keyring) after the cluster stops")
    _add_actor_argument(up, "on every node")
    add_security_arguments(up)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zactor`` console script; returns the exit code."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.loop is not None:
        os.environ[LOOP_ENV] = args.loop  # this process's loops and the node processes it starts
    try:
        if args.command == "demo":
            security = security_options(args)
            key_name = security["key_name"] or "client"
            return run_demo(keyring=security["keyring_dir"], key_name=key_name, storage=args.storage)
        if args.command == "node":
            return run_loop(_run_node(args))
        if args.command == "cluster":
            return run_cluster_up(args)
        if args.command == "members":
            return run_members(args)
        if args.command == "leaders":
            return run_leaders(args)
        if args.command == "kv":
            return run_kv(args)
        if args.command == "keys":
            return run_keys(args)
        if args.command == "bench":
            return run_bench(args)
        if args.command == "top":
            return run_top(args)
        if args.command == "actors":
            return run_actors(args)
        if args.command == "spawn":
            return run_spawn(args)
        if args.command == "stop-actor":
            return run_stop_actor(args)
        if args.command == "dashboard":
            client = client_config("zactor-dashboard", args)
            page = run_dashboard(
                args.seed,
                client,
                host=args.host,
                port=args.port,
                interval_s=args.interval,
                timeout_s=args.timeout,
                insecure=args.insecure,
            )
            run_loop(page)
            return 0
        return run_call(args)
    except BrokenPipeError:  # the reader went away (`zactor top | head`): nothing more to say, to anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ActorError, ValueError, OSError, ImportError) as exc:
        print(f"zactor {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"zactor {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
