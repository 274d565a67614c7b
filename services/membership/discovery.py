"""Seed discovery: where a node finds the cluster, re-read while it runs.

A seed entry (``NodeConfig.seeds``, ``zactor node --seed``) is one of:

- an endpoint, ``tcp://HOST:PORT``: static;
- ``dns:NAME:PORT``: every address ``NAME`` resolves to (A and AAAA records), re-resolved periodically, as a
  Kubernetes headless service or a DNS round-robin name gives them;
- ``file:PATH``: the endpoints listed in a file, one per line (``#`` starts a comment), re-read periodically, as
  configuration management or a sidecar writes them.

Another source (the Kubernetes API, Consul, a cloud's instance tags) is a class with ``describe()`` and an async
``resolve()`` returning endpoints (raising ``OSError`` or ``ValueError`` when it cannot say), registered with
:func:`register_scheme` under a prefix such as ``k8s:``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

__all__ = ["DnsSeeds", "FileSeeds", "SeedResolver", "SeedSource", "StaticSeed", "parse_seed", "register_scheme"]

log = logging.getLogger("zactor.membership.discovery")


class SeedSource(Protocol):
    """Where seed endpoints come from."""

    def describe(self) -> str:
        """The entry as written (for logs and errors)."""
        ...

    async def resolve(self) -> list[str]:
        """The endpoints now.

        Raises:
            OSError: the source cannot be read now (a DNS failure, a missing file).
            ValueError: what it holds is not endpoints.
        """
        ...


class StaticSeed:
    """One endpoint, as given."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def describe(self) -> str:
        return self.endpoint

    async def resolve(self) -> list[str]:
        return [self.endpoint]


class DnsSeeds:
    """``tcp://ADDRESS:PORT`` for every address ``name`` resolves to.

    Raises:
        ValueError: ``port`` is not from 1 to 65535.
    """

    def __init__(self, name: str, port: int) -> None:
        if not name or not 0 < port < 65536:
            raise ValueError(f"dns seed needs a name and a port from 1 to 65535, got {name!r}:{port}")
        self.name = name
        self.port = port

    def describe(self) -> str:
        return f"dns:{self.name}:{self.port}"

    async def resolve(self) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(self.name, self.port, type=socket.SOCK_STREAM)
        hosts = sorted({str(info[4][0]) for info in infos})
        return [f"tcp://{_bracketed(h)}:{self.port}" for h in hosts]


class FileSeeds:
    """The endpoints listed in the file at ``path``, one per line; blank lines and ``#`` comments are skipped."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"file:{self.path}"

    async def resolve(self) -> list[str]:
        text = await asyncio.to_thread(self.path.read_text)
        endpoints = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        endpoints = [e for e in endpoints if e]
        for e in endpoints:
            if "://" not in e:
                raise ValueError(f"{self.path}: {e!r} is not an endpoint (tcp://HOST:PORT)")
        return endpoints


def _bracketed(host: str) -> str:
    return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host


def _dns(rest: str) -> SeedSource:
    name, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"dns:{rest}: expected dns:NAME:PORT")
    return DnsSeeds(name, int(port))


_SCHEMES: dict[str, Callable[[str], SeedSource]] = {"dns:": _dns, "file:": FileSeeds}


def register_scheme(prefix: str, build: Callable[[str], SeedSource]) -> None:
    """Make seed entries starting with ``prefix`` (e.g. ``"k8s:"``) build a source from the rest of the entry."""
    _SCHEMES[prefix] = build


def parse_seed(entry: str) -> SeedSource:
    """The source a seed entry names (see the module docstring).

    Raises:
        ValueError: a malformed ``dns:`` entry.
    """
    for prefix, build in _SCHEMES.items():
        if entry.startswith(prefix):
            return build(entry[len(prefix) :])
    return StaticSeed(entry)


class SeedResolver:
    """The seed entries of a node, resolved now and again.

    Args:
        entries: seed entries (see the module docstring).

    Raises:
        ValueError: a malformed entry.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.sources = [parse_seed(e) for e in entries]
        self._known: dict[int, list[str]] = {}

    @property
    def is_dynamic(self) -> bool:
        """Whether any entry can change while the node runs (anything but a plain endpoint)."""
        return any(not isinstance(s, StaticSeed) for s in self.sources)

    async def resolve(self) -> list[str]:
        """Every source's endpoints, in order and without repeats. A source that cannot say now is logged, and its
        endpoints of the last successful resolution are kept."""
        endpoints: dict[str, None] = {}
        for i, source in enumerate(self.sources):
            try:
                self._known[i] = await source.resolve()
            except (OSError, ValueError) as exc:
                log.warning("seed source %s gave nothing this time: %s", source.describe(), exc)
            endpoints.update(dict.fromkeys(self._known.get(i, [])))
        return list(endpoints)
