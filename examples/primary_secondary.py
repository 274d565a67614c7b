"""A counter only the primary serves, on 3 processes; its writes carry the term, and a stale term is refused.

python examples/primary_secondary.py

Three ``zactor node --group counter`` processes elect a primary. Each hosts a ``Counter`` actor: on a secondary it
refuses with ``NotPrimary`` (naming the primary), on the primary it adds to a ledger with its term as fencing token.
The ledger (in this process) admits a write only when its term is at least the newest it has seen. The script
counts through the primary, SIGKILLs it, follows the secondary that takes over (a higher term), then replays a write
with the old term, as a primary paused past its lease would: the ledger refuses it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from zactor import Actor, Context, Node, NodeConfig, handler, message
from zactor.errors import ActorError, RemoteError
from zactor.services.cluster import LocalCluster
from zactor.services.cluster.cli_leaders import fetch_leaders
from zactor.services.election import Election, Fence, StaleTerm
from zactor.transport.codec import Returns

LEDGER_ENV = "COUNTER_LEDGER"
GROUP = "counter"


@message("counter.Increment")
class Increment(Returns["Count"]):
    amount: int


@message("counter.Apply")
class Apply(Returns["Count"]):
    term: int
    amount: int


@message("counter.Count")
class Count:
    value: int
    term: int
    refused: str = ""  # why the ledger refused the write, when it did


class NotPrimary(ActorError):
    """This node is a secondary; ``primary`` is the one it knows ("" when none)."""


class Ledger(Actor):
    """The fenced resource: a total that only the newest term may change."""

    def __init__(self) -> None:
        self.fence = Fence()
        self.value = 0

    @handler
    async def apply(self, msg: Apply, ctx: Context) -> Count:
        try:
            self.fence.admit(msg.term)
        except StaleTerm as exc:  # a former primary's write
            return Count(value=self.value, term=msg.term, refused=str(exc))
        self.value += msg.amount
        return Count(value=self.value, term=msg.term)


class Counter(Actor):
    """Served by the primary only: it writes to the ledger with its term."""

    @handler
    async def increment(self, msg: Increment, ctx: Context) -> Count:
        election = ctx.node.extension(Election)
        if not election.is_leader:
            raise NotPrimary(f"{ctx.node_id} is a secondary; the primary is {election.leader or 'not known yet'}")
        ledger = ctx.ref("ledger", address=os.environ[LEDGER_ENV])
        return await ledger.ask(Apply(term=election.term, amount=msg.amount), timeout_s=2.0)


async def primary_of(cluster: LocalCluster) -> tuple[str | None, int]:
    hosts = [cluster.address(i) for i in cluster.running()]
    groups = await fetch_leaders(hosts, NodeConfig(node_id="counter-client"), timeout_s=1.0)
    leader, term, *_ = groups.get(GROUP, ["", 0])
    return leader or None, term


async def count_through_primary(client: Node, cluster: LocalCluster, times: int) -> Count:
    """Send ``times`` increments to the primary, finding it again whenever a node says it is not (or is gone)."""
    done, count = 0, Count(value=0, term=0)
    while done < times:
        primary, _ = await primary_of(cluster)
        running = {cluster.node_id(i): cluster.address(i) for i in cluster.running()}
        if primary not in running:  # none yet, or the secondaries still follow a primary that just died
            await asyncio.sleep(0.1)
            continue
        try:
            count = await client.ref("counter", address=running[primary]).ask(Increment(amount=1), timeout_s=1)
            done += 1
        except (RemoteError, ActorError):
            await asyncio.sleep(0.1)  # a secondary, or the primary just died: ask again who leads
    return count


async def main() -> dict[str, Any]:
    async with Node(NodeConfig(node_id="ledger", bind="tcp://127.0.0.1:0")) as client:
        ledger = Ledger()
        await client.add_actor("ledger", ledger)
        os.environ[LEDGER_ENV] = client.address  # the node processes inherit it
        os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
        actors = {"counter": "primary_secondary:Counter"}
        with LocalCluster(3, actors=actors, node_args=("--group", GROUP)) as cluster:
            count = await count_through_primary(client, cluster, 10)
            old, old_term = await primary_of(cluster)
            print(f"primary {old} (term {old_term}) counted to {count.value}")

            cluster.kill(next(i for i in cluster.running() if cluster.node_id(i) == old))
            killed_at = time.monotonic()
            print(f"SIGKILL {old}")
            count = await count_through_primary(client, cluster, 10)
            new, new_term = await primary_of(cluster)
            took = time.monotonic() - killed_at
            print(f"{new} took over in term {new_term}; counted on to {count.value} ({took:.1f} s after the kill)")

            stale = await client.ref("ledger").ask(Apply(term=old_term, amount=100))
            print(f"a write of the old primary's term: refused ({stale.refused})")
        print(f"ledger total {ledger.value}")
        return {
            "old": old,
            "new": new,
            "old_term": old_term,
            "new_term": new_term,
            "total": ledger.value,
            "stale_refused": bool(stale.refused),
        }


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main())["stale_refused"] else 1)
