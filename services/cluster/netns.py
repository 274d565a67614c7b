"""Network namespaces for fault tests: node processes on their own addresses, links that can be taken down.

Linux only, as root, with iproute2's ``ip``. :func:`namespaces` creates ``n`` namespaces, each with one address on a
shared bridge (which also gives this process an address on the bridge), and removes them afterwards;
:func:`set_link` takes a namespace's link to the bridge down (a partition of that node from every other) or up.
:func:`start_nodes` runs one node process in each, ``node0`` being the others' seed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from zactor.services.cluster.process import NodeProcess

__all__ = ["Namespaces", "namespaces", "set_link", "exec_prefix", "unavailable_reason", "start_node", "start_nodes"]

_USES = itertools.count()


@attrs.frozen
class Namespaces:
    """Namespaces made by :func:`namespaces`.

    Attributes:
        names: the namespace names, by index.
        addresses: the IPv4 address of each namespace, by index.
        host_address: this process's address on the bridge.
    """

    names: tuple[str, ...]
    addresses: tuple[str, ...]
    host_address: str


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (not root, no ``ip``), or ``None`` when they can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's ip command"
    return None


def _ip(*args: str) -> None:
    try:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        raise OSError(f"ip {' '.join(args)} failed: {exc.stderr.strip()}") from None


@contextlib.contextmanager
def namespaces(n: int, *, subnet: str = "10.213.77", tag: str | None = None) -> Iterator[Namespaces]:
    """``n`` namespaces with addresses ``<subnet>.1..n`` on one bridge (``<subnet>.254`` here), removed afterwards.

    Raises:
        OSError: a namespace, link or address could not be made (what ``ip`` said).
    """
    tag = tag or f"z{os.getpid() % 100000}x{next(_USES) % 100}"  # unique per use: a late cleanup never collides
    bridge = f"{tag}br"
    made = Namespaces(
        tuple(f"{tag}n{i}" for i in range(n)), tuple(f"{subnet}.{i + 1}" for i in range(n)), f"{subnet}.254"
    )
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{made.host_address}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for ns, address in zip(made.names, made.addresses, strict=True):
            _ip("netns", "add", ns)
            _ip("link", "add", f"{ns}v", "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", f"{ns}v", "master", bridge, "up")
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield made
    finally:
        for ns in made.names:
            # deleting the host end removes the pair at once, even while the kernel still winds the namespace down
            subprocess.run(["ip", "link", "del", f"{ns}v"], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def set_link(name: str, up: bool) -> None:
    """Take the link between namespace ``name`` and the bridge down (``up=False``) or bring it back.

    Raises:
        OSError: ``ip`` failed.
    """
    _ip("link", "set", f"{name}v", "up" if up else "down")


def exec_prefix(name: str) -> tuple[str, ...]:
    """The command prefix that runs a program inside namespace ``name``."""
    return ("ip", "netns", "exec", name)


def start_node(
    ns: Namespaces,
    i: int,
    extra_args: Sequence[str],
    log_path: Path,
    *,
    seed: str | None = None,
    port: int = 7000,
    keyring: Path | None = None,
    data_dir: Path | None = None,
) -> NodeProcess:
    """Start node ``node<i>`` in namespace ``i``, bound at ``tcp://<address i>:<port>``, logging to ``log_path``
    (appended), with ``seed`` as its seed; ``keyring`` and ``data_dir`` as :func:`start_nodes` says.

    Raises:
        NodeStartError: the node did not start.
    """
    seeds = ("--seed", seed) if seed else ()
    security = ("--keyring", str(keyring), "--key-name", f"node{i}") if keyring else ("--insecure",)
    store = ("--data-dir", str(data_dir / f"node{i}")) if data_dir else ()
    return NodeProcess(
        f"node{i}",
        bind=f"tcp://{ns.addresses[i]}:{port}",
        extra_args=(*extra_args, *seeds, *security, *store),
        prefix=exec_prefix(ns.names[i]),
        log_path=log_path,
    )


def start_nodes(
    ns: Namespaces,
    extra_args: Sequence[str],
    log_dir: Path,
    *,
    port: int = 7000,
    keyring: Path | None = None,
    data_dir: Path | None = None,
) -> list[NodeProcess]:
    """Start node ``node<i>`` in namespace ``i`` (:func:`start_node`), node0 the seed of the others, each logging to
    ``log_dir/node<i>.log``; the caller kills them. With ``keyring``, node ``node<i>`` uses its key of that name (made
    by the caller); without, the nodes run ``--insecure`` (their addresses are not loopback). With ``data_dir``, node
    ``node<i>`` runs the store in ``data_dir/node<i>``.

    Raises:
        NodeStartError: a node did not start (the ones started are killed).
    """
    procs: list[NodeProcess] = []
    try:
        for i in range(len(ns.names)):
            seed = procs[0].address if procs else None
            log_path = log_dir / f"node{i}.log"
            procs.append(
                start_node(ns, i, extra_args, log_path, seed=seed, port=port, keyring=keyring, data_dir=data_dir)
            )
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    return procs
