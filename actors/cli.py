"""The ``zactor`` command line: ``demo``, ``node`` and ``call``. ``zactor COMMAND --help`` describes each."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence

from actors.actor import Actor
from actors.config import NodeConfig
from actors.demo import run_demo
from actors.errors import ActorError
from actors.node import Node
from actors.process import READY_PREFIX
from transport.codec import message_class

__all__ = ["main", "load_object"]

log = logging.getLogger("zactor.cli")


def load_object(spec: str) -> object:
    """Import ``"package.module:Name"`` and return ``Name``.

    Raises:
        ValueError: ``spec`` is not of the form ``module:Name``, or the module or name does not exist.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected MODULE:NAME, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {spec!r}: {exc}") from None


def _parse_actor(text: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise argparse.ArgumentTypeError(f"expected NAME=MODULE:CLASS, got {text!r}")
    return name, spec


async def _run_node(args: argparse.Namespace) -> int:
    config = NodeConfig(node_id=args.node_id or NodeConfig().node_id, bind=args.bind)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Node(config) as node:
        for name, spec in args.actor:
            cls = load_object(spec)
            if not (isinstance(cls, type) and issubclass(cls, Actor)):
                raise ValueError(f"{spec!r} is not an Actor subclass")
            await node.add_actor(name, cls())
        print(f"{READY_PREFIX}{node.address}", flush=True)
        log.info("node %r hosts %s", node.node_id, node.actors())
        await stop.wait()
        log.info("node %r stopping", node.node_id)
    return 0


async def _call(args: argparse.Namespace) -> int:
    for module in args.import_:
        importlib.import_module(module)
    cls = message_class(args.type)
    msg = cls(**json.loads(args.fields))
    async with Node(NodeConfig(node_id="zactor-cli")) as node:
        reply = await node.ref(args.actor, address=args.address).ask(msg, timeout_s=args.timeout)
    print(reply)
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zactor", description="Typed RPC actors on ZeroMQ.")
    parser.add_argument("--log-level", default="WARNING", help="logging level (DEBUG, INFO, WARNING, ...)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run two nodes in two processes and show zactor at work")
    demo.add_argument("--seconds", type=float, default=2.0, help="duration of each throughput step (s)")

    node = sub.add_parser("node", help="run one node in the foreground until Ctrl-C or SIGTERM")
    node.add_argument("--node-id", help="the node's id (default: random)")
    node.add_argument("--bind", default="tcp://127.0.0.1:0", help="endpoint to bind (port 0: any free port)")
    node.add_argument(
        "--actor",
        action="append",
        type=_parse_actor,
        default=[],
        metavar="NAME=MODULE:CLASS",
        help="host an actor (built with no arguments); repeatable",
    )

    call = sub.add_parser("call", help="ask an actor once and print the reply")
    call.add_argument("--address", required=True, help="endpoint of the node hosting the actor")
    call.add_argument(
        "--import",
        dest="import_",
        action="append",
        default=[],
        metavar="MODULE",
        help="module that defines the message classes; repeatable",
    )
    call.add_argument("--timeout", type=float, default=5.0, help="deadline of the ask (s)")
    call.add_argument("actor", help="the actor's name")
    call.add_argument("type", help="the message's registered type name, e.g. zactor.demo.Add")
    call.add_argument("fields", help='the message fields as a JSON object, e.g. \'{"a": 1, "b": 2}\'')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zactor`` console script; returns the exit code."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "demo":
            return run_demo(args.seconds)
        if args.command == "node":
            return asyncio.run(_run_node(args))
        return asyncio.run(_call(args))
    except (ActorError, ValueError, OSError) as exc:
        print(f"zactor {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
