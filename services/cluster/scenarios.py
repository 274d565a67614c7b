"""Fault scenarios on real processes with a recorded write history, shared by the fault tests and the benchmark.

:func:`isolate_one_of_three` runs three store nodes in their own network namespaces
(:mod:`zactor.services.cluster.netns`, Linux and root only), takes node0's link down, writes at QUORUM through both
sides, heals, and reports what each side acknowledged and what any node lacks after anti-entropy. The test asserts on
the outcome; ``benchmarks/faults.py`` prints it.

:func:`groups_whole` tells when every election group of a prefix has its voters back after a restart.

:class:`PayloadSource` answers :class:`Want` with that many zero bytes: the actor a slow consumer asks and never
reads from, beside a client that must still be answered.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from zactor.actor import Actor, Context, handler
from zactor.config import NodeConfig
from zactor.errors import ActorError
from zactor.node import Node
from zactor.services.cluster.local_cluster import wait_all_live
from zactor.services.cluster.netns import exec_prefix, namespaces, set_link, start_nodes
from zactor.services.election.actor import ELECTION_ACTOR
from zactor.services.election.messages import GetLeaders
from zactor.services.replication.history import WriteHistory, check_history, write_unique_keys
from zactor.transport.codec import Returns, message
from zactor.transport.security import add_key, init_keyring

__all__ = ["PartitionOutcome", "isolate_one_of_three", "wait_converged", "Want", "Blob", "PayloadSource"]


@message("zactor.scenarios.Want")
class Want(Returns["Blob"]):
    """Ask for ``size`` zero bytes."""

    size: int


@message("zactor.scenarios.Blob")
class Blob:
    """The bytes asked for (a zero-copy frame at 64 KiB and above)."""

    data: bytes


class PayloadSource(Actor):
    """Answers :class:`Want` with ``bytes(size)``; up to 16 at once."""

    max_concurrency = 16

    @handler
    async def want(self, msg: Want, ctx: Context) -> Blob:
        return Blob(data=bytes(msg.size))


@attrs.frozen
class PartitionOutcome:
    """What happened around a partition.

    Attributes:
        minority_issued: QUORUM writes tried through the isolated node.
        minority_acked: the keys it acknowledged (a correct store acknowledges none).
        majority: the history of the writes through the two connected nodes, before, during and after.
        majority_acked_during: writes the majority acknowledged while the link was down.
        heal_s: seconds from the link coming back to every node seeing the other two live.
        missing: ``{address: [acknowledged keys it lacks]}`` once anti-entropy had its time.
    """

    minority_issued: int
    minority_acked: list[str]
    majority: WriteHistory
    majority_acked_during: int
    heal_s: float
    missing: dict[str, list[str]]


async def groups_whole(client: Node, addresses: Sequence[str], prefix: str, voters: int) -> bool:
    """Whether every node at ``addresses`` answers and reports each election group named ``prefix...`` with a
    leader and ``voters`` voters: a group that lost voters to a death has them back, so it survives the next one."""
    for address in addresses:
        try:
            reply = await client.ref(ELECTION_ACTOR, address=address).ask(GetLeaders(), timeout_s=2.0)
        except ActorError:
            return False
        groups = [status for name, status in reply.groups.items() if name.startswith(prefix)]
        if not groups or any(not leader or len(members) != voters for leader, _, _, members in groups):
            return False
    return True


async def wait_converged(
    client: Node, addresses: Sequence[str], keyspace: str, history: WriteHistory, timeout_s: float
) -> dict[str, list[str]]:
    """Poll until every node holds every acknowledged key of ``history``, or ``timeout_s`` seconds pass; returns
    what each still lacks (``{address: [keys]}``, empty lists when nothing is missing).

    Raises:
        ActorError: a node did not answer.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        missing = await check_history(client, addresses, keyspace, history)
        if not any(missing.values()) or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.5)


async def isolate_one_of_three(
    data_dir: Path, node_args: Sequence[str], *, keyspace: str = "faults", partition_s: float = 8.0
) -> PartitionOutcome:
    """Partition node0 from node1 and node2 for ``partition_s`` seconds while writing through both sides. The
    cluster is secure (a keyring in ``data_dir/keyring``): members and writers authenticate with CURVE and ZAP.

    Args:
        data_dir: where the nodes keep their SQLite files and logs.
        node_args: more ``zactor node`` arguments (e.g. ``--replication-factor 3``); ``--data-dir`` is added.
        keyspace: the keyspace written.
        partition_s: how long the link stays down, in seconds.

    Raises:
        OSError: the namespaces could not be made (not root, no ``ip``).
        RuntimeError: a node or the minority writer failed.
        TimeoutError: the nodes did not see each other within 30 s, before or after the partition.
    """
    keyring = init_keyring(data_dir / "keyring")
    for name in ("node0", "node1", "node2", "writer", "minority"):
        add_key(keyring, name)
    with namespaces(3) as ns:
        procs = start_nodes(ns, node_args, data_dir, keyring=keyring, data_dir=data_dir)
        try:
            addresses = [p.address for p in procs]
            client_config = NodeConfig(
                node_id="writer", bind=f"tcp://{ns.host_address}:0", keyring_dir=str(keyring), key_name="writer"
            )
            await wait_all_live(addresses, 30.0, client=client_config)
            async with Node(client_config) as client:
                history, stop = WriteHistory(), asyncio.Event()
                majority = asyncio.create_task(
                    write_unique_keys(client, lambda: addresses[1:], keyspace, "quorum", history, stop)
                )
                set_link(ns.names[0], up=False)
                writer = [sys.executable, "-m", "zactor.services.replication.history", addresses[0], str(partition_s)]
                writer += ["--bind", f"tcp://{ns.addresses[0]}:0", "--keyspace", keyspace]
                writer += ["--keyring", str(keyring), "--key-name", "minority"]
                done = await asyncio.to_thread(
                    subprocess.run, [*exec_prefix(ns.names[0]), *writer], capture_output=True, text=True, timeout=120
                )
                if done.returncode != 0:
                    raise RuntimeError(f"the minority writer failed: {done.stderr[-2000:]}")
                minority = json.loads(done.stdout.strip().splitlines()[-1])
                acked_during = len(history.acked)
                set_link(ns.names[0], up=True)
                heal_s = await wait_all_live(addresses, 30.0, client=client_config)
                stop.set()
                await majority
                missing = await wait_converged(client, addresses, keyspace, history, 30.0)
        finally:
            for proc in procs:
                proc.kill()
    return PartitionOutcome(
        minority_issued=minority["issued"],
        minority_acked=minority["acked"],
        majority=history,
        majority_acked_during=acked_during,
        heal_s=heal_s,
        missing=missing,
    )
