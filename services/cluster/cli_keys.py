"""``zactor keys init|add|revoke|list`` and the security options every command that talks to a node shares."""

from __future__ import annotations

import argparse
from typing import Any

from zactor.config import NodeConfig
from zactor.services.cluster.cli_args import add_command
from zactor.transport.security import add_key, init_keyring, key_names, revoke_key

__all__ = ["add_keys_parser", "add_security_arguments", "run_keys", "security_options"]


def add_security_arguments(parser: argparse.ArgumentParser, *, insecure: bool = False) -> None:
    """Add ``--keyring DIR --key-name NAME`` (and ``--insecure`` for commands that bind for others)."""
    group = parser.add_argument_group("security")
    group.add_argument("--keyring", metavar="DIR", help="a keyring made by 'zactor keys init': CURVE + ZAP on")
    group.add_argument("--key-name", metavar="NAME", help="this process's key in the keyring ('zactor keys add')")
    if insecure:
        group.add_argument(
            "--insecure",
            action="store_true",
            help="without a keyring, allow binding an address other hosts can reach (unauthenticated, logged)",
        )


def client_config(node_id: str, args: argparse.Namespace) -> NodeConfig:
    """The configuration of a command's client node: ``node_id``, or with ``--key-name`` the key's name (a secure
    node's id is its key's name).

    Raises:
        ValueError: as :func:`security_options`.
    """
    options = security_options(args)
    return NodeConfig(node_id="" if options["key_name"] else node_id, **options)


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``NodeConfig`` keywords of the parsed security options.

    Raises:
        ValueError: ``--keyring`` without ``--key-name`` or the other way round.
    """
    if (args.keyring is None) != (args.key_name is None):
        raise ValueError("--keyring and --key-name go together: give both or neither")
    return {"keyring_dir": args.keyring, "key_name": args.key_name, "insecure": getattr(args, "insecure", False)}


def add_keys_parser(sub: Any) -> None:
    """Add the ``keys`` command and its subcommands to the ``zactor`` parser."""
    keys = add_command(sub, "keys", "cluster keyrings: CURVE keys and the authorized members and clients")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    init = add_command(keys_sub, "init", "create a keyring in DIR: the cluster key pair, no authorized key yet")
    init.add_argument("dir", metavar="DIR")
    add = add_command(keys_sub, "add", "create a key pair for the member or client NAME and authorize it")
    add.add_argument("dir", metavar="DIR")
    add.add_argument("name", metavar="NAME")
    revoke = add_command(keys_sub, "revoke", "remove NAME's key: nodes refuse it within a few seconds")
    revoke.add_argument("dir", metavar="DIR")
    revoke.add_argument("name", metavar="NAME")
    listing = add_command(keys_sub, "list", "print the authorized names")
    listing.add_argument("dir", metavar="DIR")


def run_keys(args: argparse.Namespace) -> int:
    """Run one ``zactor keys`` command; returns the exit code.

    Raises:
        KeyringError: the keyring or the name is wrong (the CLI prints it on one line).
    """
    if args.keys_command == "init":
        root = init_keyring(args.dir)
        print(f"keyring created in {root}; authorize members and clients with: zactor keys add {root} NAME")
    elif args.keys_command == "add":
        secret = add_key(args.dir, args.name)
        print(f"{args.name} authorized; its secret key is {secret} (mode 0600): give it to {args.name} only")
    elif args.keys_command == "revoke":
        revoke_key(args.dir, args.name)
        print(f"{args.name} revoked: nodes using {args.dir} refuse its key from now on")
    else:
        for name in key_names(args.dir):
            print(name)
    return 0
