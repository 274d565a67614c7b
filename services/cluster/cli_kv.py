"""``zactor kv put|get|del|keys|keyspaces|remove-node``: the replicated store from the shell, through ``zactor.kv``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from zactor.errors import NodeUnavailable, RequestTimeout
from zactor.loops import run as run_loop
from zactor.node import Node
from zactor.services.cluster.cli_args import add_command, endpoint, positive_float
from zactor.services.cluster.cli_keys import add_security_arguments, client_config
from zactor.services.replication.frontend import (
    KV_ACTOR,
    KvDelete,
    KvGet,
    KvKeys,
    KvKeyspaces,
    KvPut,
    KvRemoveNode,
)
from zactor.services.selector import Consistency

__all__ = ["add_kv_parser", "run_kv"]

LEVELS = tuple(level.value for level in Consistency)
_LOCAL = "local"  # kv get without a level: the asked node's own copy


def add_kv_parser(sub: Any) -> None:
    """Add the ``kv`` command and its subcommands to the ``zactor`` parser."""
    kv = add_command(sub, "kv", "the replicated key-value store (nodes started with --data-dir)")
    kv_sub = kv.add_subparsers(dest="kv_command", required=True)
    for name, text in (
        ("put", "write KEY = VALUE (or --file PATH)"),
        ("get", "print the value of KEY"),
        ("del", "delete KEY..."),
        ("keys", "list the keys of the keyspace"),
        ("keyspaces", "list the keyspaces the node holds"),
        ("remove-node", "remove a dead node from the replica set for good (consistency levels stop counting it)"),
    ):
        cmd = add_command(kv_sub, name, text)
        cmd.add_argument("--seed", required=True, type=endpoint, metavar="ADDR", help="a node running the store")
        cmd.add_argument("--timeout", type=positive_float, default=5.0, help="deadline of the request (s)")
        add_security_arguments(cmd)
        if name == "remove-node":
            cmd.add_argument("node_id", help="the id of the dead node")
            continue
        if name == "keyspaces":
            continue
        cmd.add_argument("--keyspace", required=True, help="the keyspace")
        if name != "keys":
            cmd.add_argument(
                "--consistency",
                type=str.lower,
                choices=LEVELS if name != "get" else (_LOCAL, *LEVELS),
                default="quorum" if name != "get" else _LOCAL,
                help="the consistency level" + (f" ({_LOCAL}: the asked node's own copy)" if name == "get" else ""),
            )
        if name == "put":
            cmd.add_argument("key")
            cmd.add_argument("value", nargs="?", help="the value (UTF-8); or use --file")
            cmd.add_argument("--file", type=Path, help="read the value from this file")
        elif name == "get":
            cmd.add_argument("key")
            cmd.add_argument("--output", type=Path, help="write the value to this file (binary-safe)")
        elif name == "del":
            cmd.add_argument("keys", nargs="+")


def _request(args: argparse.Namespace) -> Any:
    if args.kv_command == "put":
        if args.value is None and args.file is None:
            raise ValueError("nothing to write: give a VALUE or --file PATH")
        if args.value is not None and args.file is not None:
            raise ValueError("give a VALUE or --file PATH, not both")
        value = args.file.read_bytes() if args.file else args.value.encode()
        return KvPut(keyspace=args.keyspace, key=args.key, value=value, consistency=args.consistency)
    if args.kv_command == "get":
        level = "" if args.consistency == _LOCAL else args.consistency
        return KvGet(keyspace=args.keyspace, key=args.key, consistency=level)
    if args.kv_command == "del":
        return KvDelete(keyspace=args.keyspace, keys=args.keys, consistency=args.consistency)
    if args.kv_command == "remove-node":
        return KvRemoveNode(node_id=args.node_id)
    if args.kv_command == "keyspaces":
        return KvKeyspaces()
    return KvKeys(keyspace=args.keyspace)


_LARGE_BYTES = 1024 * 1024  # a value this large says what it is doing and how fast it went


async def _ask(args: argparse.Namespace) -> Any:
    request = _request(args)
    size = len(request.value) if isinstance(request, KvPut) else 0
    if size >= _LARGE_BYTES:
        print(f"writing {size / _LARGE_BYTES:,.1f} MiB at {args.consistency} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    async with Node(client_config("zactor-kv", args)) as node:
        try:
            reply = await node.ref(KV_ACTOR, address=args.seed).ask(request, timeout_s=args.timeout)
        except RequestTimeout:
            reason = f"no answer within {args.timeout} s (is a node started with --data-dir running there?)"
            raise NodeUnavailable(args.seed, reason) from None
    if size >= _LARGE_BYTES:
        took = max(time.monotonic() - started, 1e-6)
        print(f"written in {took:.2f} s ({size / _LARGE_BYTES / took:,.1f} MiB/s)", file=sys.stderr, flush=True)
    return reply


def run_kv(args: argparse.Namespace) -> int:
    """Run one ``zactor kv`` command; returns the exit code (1 for a missing key)."""
    reply = run_loop(_ask(args))
    if args.kv_command == "get":
        if not reply.found:
            print(f"{args.key}: not found", file=sys.stderr)
            return 1
        if args.output is not None:
            args.output.write_bytes(bytes(reply.value))
        else:
            sys.stdout.buffer.write(bytes(reply.value))
            sys.stdout.buffer.flush()
    elif args.kv_command in ("keys", "keyspaces"):
        if not reply.exists:
            print(
                f"zactor kv keys: no keyspace {args.keyspace!r} on the node at {args.seed}"
                " (zactor kv keyspaces lists them)",
                file=sys.stderr,
            )
            return 1
        for key in reply.keys:
            print(key)
    elif args.kv_command == "remove-node":
        print(f"removed {args.node_id}" if reply.count else f"{args.node_id} was not in the replica set")
    elif args.kv_command == "del":
        print(f"deleted {reply.count} of {len(args.keys)} (the others were absent on the node asked)")
    else:
        print("ok")
    return 0
