"""A replicated key-value store on three nodes, in plain code you can copy.

    python examples/replicated_kv.py

Three nodes join through a seed, each with the replicated store on its own SQLite file. Documents written with
QUORUM are on a majority at once and on every node after anti-entropy; a node that stops and starts again on its file
keeps what it had and catches up on what it missed.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from zactor import NodeConfig
from zactor.services.cluster import ClusterNode
from zactor.services.replication import ReplicatedStore, SQLiteStorage
from zactor.services.selector import Consistency


async def start(
    node_id: str, seeds: tuple[str, ...], data_dir: Path, bind: str = "tcp://127.0.0.1:0"
) -> tuple[ClusterNode, ReplicatedStore]:
    node = await ClusterNode(NodeConfig(node_id=node_id, bind=bind, seeds=seeds, cluster_id="example")).start()
    store = await node.add_extension(
        ReplicatedStore(SQLiteStorage(data_dir / f"{node_id}.db"), anti_entropy_interval_s=0.5)
    )
    return node, store


async def until(condition: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not reached")


async def main() -> dict[str, int]:
    data_dir = Path(tempfile.mkdtemp(prefix="zactor-kv-"))
    a, store_a = await start("a", (), data_dir)
    b, store_b = await start("b", (a.address,), data_dir)
    c, store_c = await start("c", (a.address,), data_dir)
    for node in (a, b, c):
        await node.membership.wait_for_members(3)

    users = store_a.keyspace("users")
    await users.put("ada", b"Ada Lovelace", Consistency.QUORUM)  # on a majority when this returns
    await users.put_many([(f"user{i}", f"user number {i}".encode()) for i in range(100)], Consistency.ALL)
    print("b reads ada:", await store_b.get("users", "ada", consistency=Consistency.QUORUM))

    c_address = c.address
    await c.stop()  # c leaves; writes go on without it
    await users.delete("user7", Consistency.QUORUM)
    await users.put("grace", b"Grace Hopper", Consistency.QUORUM)

    c, store_c = await start("c", (a.address,), data_dir, bind=c_address)  # back on its SQLite file

    async def caught_up() -> bool:
        await asyncio.sleep(0.05)
        return await store_c.get("users", "grace") == b"Grace Hopper" and await store_c.get("users", "user7") is None

    await until(caught_up)
    counts = {
        n.node_id: len(await s.get_many("users", ["ada", "grace", *[f"user{i}" for i in range(100)]]))
        for n, s in ((a, store_a), (b, store_b), (c, store_c))
    }
    print("documents per node after catch-up:", counts)
    for node in (a, b, c):
        await node.stop()
    return counts


if __name__ == "__main__":
    asyncio.run(main())
