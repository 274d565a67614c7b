"""``zactor kv put|get|del|keys|remove-node``: the replicated store from the shell, through a node's ``zactor.kv``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from zactor.config import NodeConfig
from zactor.node import Node
from zactor.services.cluster.cli_keys import add_security_arguments, security_options
from zactor.services.replication.frontend import KV_ACTOR, KvDelete, KvGet, KvKeys, KvPut, KvRemoveNode

__all__ = ["add_kv_parser", "run_kv"]


def add_kv_parser(sub: Any) -> None:
    """Add the ``kv`` command and its subcommands to the ``zactor`` parser."""
    kv = sub.add_parser("kv", help="the replicated key-value store (nodes started with --data-dir)")
    kv_sub = kv.add_subparsers(dest="kv_command", required=True)
    for name, text in (
        ("put", "write KEY = VALUE (or --file PATH)"),
        ("get", "print the value of KEY"),
        ("del", "delete KEY..."),
        ("keys", "list the keys of the keyspace"),
        ("remove-node", "remove a dead node from the replica set for good (consistency levels stop counting it)"),
    ):
        cmd = kv_sub.add_parser(name, help=text)
        cmd.add_argument("--seed", required=True, metavar="ADDR", help="endpoint of a node running the store")
        cmd.add_argument("--timeout", type=float, default=5.0, help="deadline of the request (s)")
        add_security_arguments(cmd)
        if name == "remove-node":
            cmd.add_argument("node_id", help="the id of the dead node")
            continue
        cmd.add_argument("--keyspace", required=True, help="the keyspace")
        if name != "keys":
            cmd.add_argument(
                "--consistency", default="quorum" if name != "get" else "", help="none, one, quorum, all..."
            )
        if name == "put":
            cmd.add_argument("key")
            cmd.add_argument("value", nargs="?", help="the value (UTF-8); or use --file")
            cmd.add_argument("--file", type=Path, help="read the value from this file")
        elif name == "get":
            cmd.add_argument("key")
        elif name == "del":
            cmd.add_argument("keys", nargs="+")


def _request(args: argparse.Namespace) -> Any:
    if args.kv_command == "put":
        if (args.value is None) == (args.file is None):
            raise ValueError("give a VALUE or --file, not both")
        value = args.file.read_bytes() if args.file else args.value.encode()
        return KvPut(keyspace=args.keyspace, key=args.key, value=value, consistency=args.consistency)
    if args.kv_command == "get":
        return KvGet(keyspace=args.keyspace, key=args.key, consistency=args.consistency)
    if args.kv_command == "del":
        return KvDelete(keyspace=args.keyspace, keys=args.keys, consistency=args.consistency)
    if args.kv_command == "remove-node":
        return KvRemoveNode(node_id=args.node_id)
    return KvKeys(keyspace=args.keyspace)


async def _ask(args: argparse.Namespace) -> Any:
    async with Node(NodeConfig(node_id="zactor-kv", **security_options(args))) as node:
        return await node.ref(KV_ACTOR, address=args.seed).ask(_request(args), timeout_s=args.timeout)


def run_kv(args: argparse.Namespace) -> int:
    """Run one ``zactor kv`` command; returns the exit code (1 for a missing key)."""
    reply = asyncio.run(_ask(args))
    if args.kv_command == "get":
        if not reply.found:
            print(f"{args.key}: not found", file=sys.stderr)
            return 1
        sys.stdout.buffer.write(bytes(reply.value) + b"\n")
    elif args.kv_command == "keys":
        for key in reply.keys:
            print(key)
    elif args.kv_command == "remove-node":
        print(f"removed {args.node_id}" if reply.count else f"{args.node_id} was not in the replica set")
    else:
        print(f"ok ({reply.count})")
    return 0
