"""Argument types and the shared options of the ``zactor`` CLI: a mistake is refused by argparse, on one line,
before anything runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from zactor.loops import LOOP_ENV, LOOP_KINDS
from zactor.services.membership.discovery import parse_seed
from zactor.transport.endpoint import check_endpoint

__all__ = ["LOG_LEVELS", "HelpFormatter", "add_command", "endpoint", "port", "positive_float", "positive_int"]

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOOP_HELP = (
    f"event loop (default: ${LOOP_ENV}, else auto: uvloop where installed); the node processes a command starts "
    "inherit it"
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default in ``--help``, where there is one to show (not on a required option, nor a
    default of ``None`` or an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.default is None or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        help="logging level (also accepted before the command; default WARNING)",
    )
    common.add_argument("--loop", choices=LOOP_KINDS, default=argparse.SUPPRESS, help=LOOP_HELP)
    return common


def add_command(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand parser that shows defaults and accepts ``--log-level`` after the command name too."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text, formatter_class=HelpFormatter, parents=[_common()]
    )
    return parser


def endpoint(text: str) -> str:
    """An endpoint argument: ``tcp://HOST:PORT`` (port 0 to 65535), ``ipc://PATH`` or ``inproc://NAME``.

    Raises:
        argparse.ArgumentTypeError: anything else (a missing ``tcp://``, a port out of range).
    """
    try:
        return check_endpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def port(text: str) -> int:
    """A TCP port argument: a number from 0 to 65535 (0: any free port).

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use a number from 0 to 65535")
    return value


def seed_entry(text: str) -> str:
    """A seed argument: an endpoint (see :func:`endpoint`), ``dns:NAME:PORT`` or ``file:PATH``.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    if text.startswith(("dns:", "file:")):
        try:
            parse_seed(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    return endpoint(text)


def _convert(text: str, convert: Callable[[str], T], kind: str) -> T:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    value = _convert(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is too small: give 1 or more")
    return value


def positive_float(text: str) -> float:
    """A number of seconds above 0."""
    value = _convert(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be above 0")
    return value
