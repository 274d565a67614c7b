"""A real multi-process cluster on 127.0.0.1: one ``zactor node`` process per node, controlled by PID.

``LocalCluster`` is synchronous (usable from plain code, a CLI, or a pytest fixture); its queries run a short-lived
client node on a private event loop. It never leaves a process behind: :meth:`LocalCluster.close` (also on leaving
the ``with`` block, on an exception, and at interpreter exit) SIGKILLs every node it started.

Together with the CLI, this is application-level code: it imports the membership service's messages directly.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import shutil
import tempfile
import time
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from zactor.config import DEFAULT_CLUSTER_ID, NodeConfig
from zactor.errors import ActorError, NodeUnavailable, RequestTimeout
from zactor.loops import run as run_loop
from zactor.node import Node
from zactor.services.cluster.process import NodeProcess, NodeStartError
from zactor.services.membership.messages import GetMembers, MemberRows
from zactor.services.membership.service import MEMBERSHIP_ACTOR
from zactor.transport.security import add_key, init_keyring, key_names

__all__ = ["LocalCluster", "fetch_members", "wait_all_live"]

T = TypeVar("T")


async def fetch_members(
    address: str, *, timeout_s: float = 2.0, include_down: bool = True, client: NodeConfig | None = None
) -> MemberRows:
    """Ask the node at ``address`` for its member table, from a throwaway client node outside the cluster
    (configured by ``client``, e.g. with a keyring; default: a plaintext loopback node).

    Raises:
        NodeUnavailable: no answer within ``timeout_s`` seconds (no node there, or it is hung).
        ActorError: the node answered with an error, or the security handshake failed (``HandshakeFailed``).
    """
    async with Node(client or NodeConfig(node_id="zactor-client")) as node:
        try:
            return await node.ref(MEMBERSHIP_ACTOR, address=address).ask(
                GetMembers(include_down=include_down), timeout_s=timeout_s
            )
        except RequestTimeout:
            raise NodeUnavailable(address, f"no answer within {timeout_s} s (is a node running there?)") from None


async def wait_all_live(addresses: Sequence[str], timeout_s: float, *, client: NodeConfig | None = None) -> float:
    """Wait until the node at every one of ``addresses`` sees exactly ``len(addresses)`` live members (itself
    included); a node that does not answer counts as not there yet. Returns the seconds it took. ``client`` is as
    for :func:`fetch_members`.

    Raises:
        TimeoutError: not reached within ``timeout_s`` seconds.
    """
    start = time.monotonic()
    while True:
        counts = []
        for address in addresses:
            try:
                counts.append(len((await fetch_members(address, include_down=False, client=client)).rows))
            except ActorError:
                counts.append(0)
        if all(count == len(addresses) for count in counts):
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"live members seen by {list(addresses)}: {counts}, after {timeout_s} s")
        await asyncio.sleep(0.1)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a private loop, even when the caller is inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_loop(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class LocalCluster:
    """N node processes on loopback with free ports, joined through the first node as seed.

    Args:
        n: how many nodes to start.
        data_centers: data center names, assigned round-robin (node ``i`` gets ``data_centers[i % len]``).
        cluster_id: the cluster id of every node.
        actors: actors every node hosts, ``{name: "module:Class"}``.
        node_args: more ``zactor node`` arguments for every node (config overrides, e.g. ``--gossip-interval``).
        log_dir: where each node's log goes (``<node_id>.log``); default: a new temporary directory, removed by
            :meth:`close` unless ``keep_logs``.
        start_timeout_s: how long to wait for all nodes to see each other, in seconds.
        secure: create a keyring in ``log_dir/keyring`` with a key per node and one named ``client``: every node
            encrypts and authenticates with CURVE and ZAP.
        data_dir: run the replicated store on every node, node ``i`` in ``data_dir/node<i>`` (its id and storage
            survive restarts there).
        storage: with ``data_dir``, ``"sqlite"`` or ``"lmdb"`` (``zactor node --storage``).
        keyring: use this existing keyring instead (secure too); keys ``node<i>`` and ``client_key`` are added to it
            when missing.
        client_key: the key name of :attr:`client_config` in the keyring.
        keep_logs: keep the temporary log directory (and a keyring made in it) after :meth:`close`.

    Attributes:
        nodes: the :class:`~zactor.services.cluster.process.NodeProcess` of each node, by index (``None`` once
            stopped or killed).
        log_dir: the directory of the node logs.
        keyring: the keyring directory (``None`` unless ``secure``).
        data_dir: as given.
        client_config: the configuration of a client node that may talk to the cluster (with the ``client`` key
            when secure); the queries below use it.

    Raises:
        NodeStartError: a node did not start; its own error line says why (all are killed, and the logs removed
            unless only they can say why).
        TimeoutError: the nodes did not all see each other in time (all are killed, the logs kept).
    """

    def __init__(
        self,
        n: int = 3,
        *,
        data_centers: Sequence[str] = ("dc1",),
        cluster_id: str = DEFAULT_CLUSTER_ID,
        actors: Mapping[str, str] | None = None,
        node_args: Sequence[str] = (),
        log_dir: str | Path | None = None,
        start_timeout_s: float = 30.0,
        secure: bool = False,
        data_dir: str | Path | None = None,
        keyring: str | Path | None = None,
        client_key: str = "client",
        keep_logs: bool = False,
        storage: str = "sqlite",
    ) -> None:
        self._data_centers = tuple(data_centers)
        self._cluster_id = cluster_id
        self._actors = dict(actors or {})
        self._node_args = tuple(node_args)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._storage = storage
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="zactor-cluster-"))
        self._remove_log_dir = log_dir is None and not keep_logs
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.keyring = Path(keyring) if keyring is not None else None
        if self.keyring is None and secure:
            self.keyring = init_keyring(self.log_dir / "keyring")
        self.client_config = NodeConfig(node_id="zactor-client")
        if self.keyring is not None:
            self._ensure_key(client_key)
            self.client_config = NodeConfig(keyring_dir=str(self.keyring), key_name=client_key)
        self.nodes: list[NodeProcess | None] = []
        self._addresses: list[str] = []
        atexit.register(self.close)
        try:
            for _ in range(n):
                self._spawn(len(self.nodes), "tcp://127.0.0.1:0")
            self.wait_converged(start_timeout_s)
        except NodeStartError as exc:
            if not exc.reason:
                self._remove_log_dir = False  # only the logs can say why it did not start
            self.close()
            raise
        except BaseException:
            self._remove_log_dir = False  # the logs say why it did not start
            self.close()
            raise

    # ------------------------------------------------------------------------------------------- control

    @property
    def seed(self) -> str:
        """The seed endpoint (node 0's address)."""
        return self._addresses[0]

    def node_id(self, i: int) -> str:
        """The id of node ``i``."""
        return f"node{i}"

    def address(self, i: int) -> str:
        """The endpoint of node ``i`` (kept across restarts)."""
        return self._addresses[i]

    def _spawn(self, i: int, bind: str) -> NodeProcess:
        args = ["--cluster-id", self._cluster_id, "--dc", self._data_centers[i % len(self._data_centers)]]
        if self._addresses and i != 0:
            args += ["--seed", self._addresses[0]]
        elif len(self._addresses) > 1:
            args += ["--seed", self._addresses[1]]
        if self.data_dir is not None:
            args += ["--data-dir", str(self.data_dir / self.node_id(i)), "--storage", self._storage]
        if self.keyring is not None:
            self._ensure_key(self.node_id(i))
            args += ["--keyring", str(self.keyring), "--key-name", self.node_id(i)]
        proc = NodeProcess(
            self.node_id(i),
            bind=bind,
            actors=self._actors,
            extra_args=(*args, *self._node_args),
            log_path=self.log_dir / f"{self.node_id(i)}.log",
        )
        if i < len(self.nodes):
            self.nodes[i] = proc
        else:
            self.nodes.append(proc)
            self._addresses.append(proc.address)
        return proc

    def _ensure_key(self, name: str) -> None:
        if self.keyring is not None and name not in key_names(self.keyring):
            add_key(self.keyring, name)

    def kill(self, i: int) -> None:
        """SIGKILL node ``i`` (no graceful leave: the others must detect it)."""
        proc = self.nodes[i]
        if proc is not None:
            proc.kill()
            self.nodes[i] = None

    def stop(self, i: int) -> int:
        """Stop node ``i`` gracefully (SIGTERM: it leaves the cluster); returns its exit code."""
        proc = self.nodes[i]
        if proc is None:
            return 0
        self.nodes[i] = None
        return proc.stop()

    def restart(self, i: int) -> NodeProcess:
        """Start node ``i`` again (after kill or stop) with the same id and address, as a new incarnation."""
        if self.nodes[i] is not None:
            self.stop(i)
        return self._spawn(i, self._addresses[i])

    def add_node(self) -> int:
        """Start one more node joined through the seed; returns its index."""
        self._spawn(len(self.nodes), "tcp://127.0.0.1:0")
        return len(self.nodes) - 1

    def close(self) -> None:
        """SIGKILL every node still running; remove the temporary log directory unless asked to keep it.
        Idempotent."""
        for i in range(len(self.nodes)):
            self.kill(i)
        if self._remove_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        atexit.unregister(self.close)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -------------------------------------------------------------------------------------------- queries

    def members(self, i: int, *, include_down: bool = True) -> MemberRows:
        """Node ``i``'s member table.

        Raises:
            RequestTimeout: node ``i`` did not answer within 2 s.
        """
        return _run(fetch_members(self._addresses[i], include_down=include_down, client=self.client_config))

    def live_ids(self, i: int) -> set[str]:
        """The node ids node ``i`` sees as live (itself included); empty when it does not answer."""
        try:
            rows = self.members(i, include_down=False).rows
        except ActorError:
            return set()
        return {row[0] for row in rows}

    def wait_until(self, condition: Any, timeout_s: float, what: str) -> float:
        """Poll ``condition()`` every 50 ms; returns the seconds it took.

        Raises:
            TimeoutError: still false after ``timeout_s`` seconds.
        """
        start = time.monotonic()
        while not condition():
            if time.monotonic() - start > timeout_s:
                raise TimeoutError(f"{what}: not reached within {timeout_s} s (logs in {self.log_dir})")
            time.sleep(0.05)
        return time.monotonic() - start

    def running(self) -> list[int]:
        """Indexes of the nodes currently running."""
        return [i for i, proc in enumerate(self.nodes) if proc is not None]

    def wait_converged(self, timeout_s: float = 30.0) -> float:
        """Wait until every running node sees exactly the running nodes as live; returns the seconds it took.

        Raises:
            TimeoutError: not converged within ``timeout_s`` seconds.
        """

        def converged() -> bool:
            expected = {self.node_id(i) for i in self.running()}
            return all(self.live_ids(i) == expected for i in self.running())

        return self.wait_until(converged, timeout_s, "cluster convergence")
