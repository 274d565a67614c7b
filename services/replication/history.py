"""A recorded history of replicated writes and its lost-write check (Jepsen's approach, for fault tests).

:func:`write_unique_keys` writes unique keys at a consistency level through the ``zactor.kv`` actors of a cluster's
nodes, round-robin, and records every operation: when it was issued, through which node, and whether it was
acknowledged. :func:`check_history` reads every node's keys afterwards; an acknowledged key missing from a node
that should hold it is a lost write. The history can also say which acknowledgements were given while a fault made
them impossible (for instance QUORUM acknowledged while only a minority of the replicas ran).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence

import attrs

from zactor.config import NodeConfig
from zactor.errors import ActorError
from zactor.loops import run as run_loop
from zactor.node import Node
from zactor.services.replication.frontend import KV_ACTOR, KvDigest, KvPut

__all__ = ["Operation", "WriteHistory", "write_unique_keys", "check_history", "write_for"]


@attrs.define
class Operation:
    """One write: ``key`` sent through ``address`` at ``issued_s`` (monotonic seconds); ``acked`` once acknowledged,
    ``error`` the refusal's type name otherwise."""

    key: str
    address: str
    issued_s: float
    acked: bool = False
    error: str = ""


@attrs.define
class WriteHistory:
    """Every write issued, in issue order."""

    operations: list[Operation] = attrs.field(factory=list)

    @property
    def acked(self) -> list[str]:
        """The acknowledged keys."""
        return [op.key for op in self.operations if op.acked]

    def acked_between(self, start_s: float, end_s: float, address: str | None = None) -> list[str]:
        """Keys acknowledged for writes issued in ``[start_s, end_s)`` (through ``address`` when given)."""
        return [
            op.key
            for op in self.operations
            if op.acked and start_s <= op.issued_s < end_s and (address is None or op.address == address)
        ]


async def write_unique_keys(
    client: Node,
    addresses: Callable[[], Sequence[str]],
    keyspace: str,
    consistency: str,
    history: WriteHistory,
    stop: asyncio.Event,
    *,
    concurrency: int = 8,
    timeout_s: float = 3.0,
    value_bytes: int = 64,
    prefix: str = "w",
) -> None:
    """Write keys ``<prefix><worker>-<n>`` until ``stop`` is set, each through the next of ``addresses()`` (re-read
    for each write, so a caller can leave out a node it killed), recording every outcome in ``history``."""

    async def worker(index: int) -> None:
        n = 0
        while not stop.is_set():
            targets = addresses()
            if not targets:
                await asyncio.sleep(0.05)
                continue
            address = targets[(index + n) % len(targets)]
            op = Operation(key=f"{prefix}{index}-{n}", address=address, issued_s=time.monotonic())
            n += 1
            history.operations.append(op)
            msg = KvPut(
                keyspace=keyspace, key=op.key, value=op.key.encode().ljust(value_bytes, b"."), consistency=consistency
            )
            try:
                await client.ref(KV_ACTOR, address=address).ask(msg, timeout_s=timeout_s)
                op.acked = True
            except ActorError as exc:
                op.error = type(exc).__name__
                await asyncio.sleep(0.01)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))


async def check_history(
    client: Node, addresses: Sequence[str], keyspace: str, history: WriteHistory, *, timeout_s: float = 10.0
) -> dict[str, list[str]]:
    """The acknowledged keys each node lacks: ``{address: [missing keys]}`` (empty lists when nothing was lost).

    Raises:
        ActorError: a node did not answer.
    """
    acked = set(history.acked)
    missing = {}
    for address in addresses:
        reply = await client.ref(KV_ACTOR, address=address).ask(KvDigest(keyspace=keyspace), timeout_s=timeout_s)
        missing[address] = sorted(acked - set(reply.digests))
    return missing


async def write_for(
    address: str, seconds: float, *, bind: str, keyspace: str, prefix: str, keyring: str | None, key_name: str | None
) -> WriteHistory:
    """Write unique keys at QUORUM through the node at ``address`` for ``seconds``, from a client bound at ``bind``
    (with the key ``key_name`` of ``keyring`` when given)."""
    config = NodeConfig(node_id=key_name or f"writer-{prefix}", bind=bind, keyring_dir=keyring, key_name=key_name)
    async with Node(config) as client:
        history, stop = WriteHistory(), asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await write_unique_keys(
            client, lambda: [address], keyspace, "quorum", history, stop, concurrency=4, prefix=prefix
        )
    return history


def main() -> None:
    """``python -m zactor.services.replication.history ADDRESS SECONDS``: write for a while (e.g. from inside a network
    namespace), then print ``{"issued": N, "acked": [keys]}`` as one JSON line."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("address")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--bind", default="tcp://127.0.0.1:0")
    parser.add_argument("--keyspace", default="faults")
    parser.add_argument("--prefix", default="m")
    parser.add_argument("--keyring", help="a keyring directory (with --key-name)")
    parser.add_argument("--key-name", help="the writer's key in the keyring")
    args = parser.parse_args()
    history = run_loop(
        write_for(
            args.address,
            args.seconds,
            bind=args.bind,
            keyspace=args.keyspace,
            prefix=args.prefix,
            keyring=args.keyring,
            key_name=args.key_name,
        )
    )
    print(json.dumps({"issued": len(history.operations), "acked": history.acked}))


if __name__ == "__main__":
    main()
