"""Leaders across a real network partition: three node processes in their own network namespaces on one bridge.

A follower cut off and back forces no leadership change; a leader cut off is replaced by the majority with a higher
term, and follows the new leader once its link is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from zactor import Node, NodeConfig
from zactor.errors import ActorError
from zactor.services.cluster.local_cluster import wait_all_live
from zactor.services.cluster.netns import namespaces, set_link, start_nodes, unavailable_reason
from zactor.services.election.actor import ELECTION_ACTOR
from zactor.services.election.messages import GetLeaders
from zactor.testing import wait_until

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(180),
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


async def _views(client: Node, addresses: list[str], indexes: list[int]) -> set[tuple[str, int]]:
    """The distinct ``(leader, term)`` of group ``g`` that the nodes of ``indexes`` report (``("", -1)`` for a node
    that does not answer)."""
    views = set()
    for i in indexes:
        try:
            reply = await client.ref(ELECTION_ACTOR, address=addresses[i]).ask(GetLeaders(), timeout_s=1.0)
        except ActorError:
            views.add(("", -1))
            continue
        leader, term, *_ = reply.groups.get("g", ["", 0])
        views.add((leader, term))
    return views


async def test_partitions_of_a_follower_and_of_the_leader(tmp_path: Path) -> None:
    with namespaces(3, subnet="10.213.78") as ns:
        procs = start_nodes(ns, ("--group", "g", "--cluster-id", "el"), tmp_path)
        try:
            addresses = [p.address for p in procs]
            config = NodeConfig(node_id="observer", bind=f"tcp://{ns.host_address}:0", insecure=True)
            await wait_all_live(addresses, 30.0, client=config)
            async with Node(config) as client:
                everyone = [0, 1, 2]

                async def agreed(indexes: list[int]) -> tuple[str, int] | None:
                    views = await _views(client, addresses, indexes)
                    return next(iter(views)) if len(views) == 1 and next(iter(views))[0] else None

                await wait_until(lambda: agreed(everyone), 20.0, "one leader known everywhere", poll_s=0.05)
                first = await agreed(everyone)
                assert first is not None
                leader, term = first
                leading = int(leader.removeprefix("node"))

                follower = next(i for i in everyone if i != leading)
                set_link(ns.names[follower], up=False)
                majority = [i for i in everyone if i != follower]
                loop = asyncio.get_running_loop()
                until = loop.time() + 5.0
                while loop.time() < until:  # the majority keeps its leader and term throughout
                    assert await _views(client, addresses, majority) == {(leader, term)}
                set_link(ns.names[follower], up=True)
                await wait_all_live(addresses, 30.0, client=config)
                await asyncio.sleep(2.0)
                assert await _views(client, addresses, everyone) == {(leader, term)}, "no change forced by healing"

                set_link(ns.names[leading], up=False)
                majority = [i for i in everyone if i != leading]

                async def replaced() -> bool:
                    view = await agreed(majority)
                    return view is not None and view[0] != leader and view[1] > term

                started = loop.time()
                await wait_until(replaced, 10.0, "a new leader on the majority side", poll_s=0.05)
                assert loop.time() - started < 3.0
                new = await agreed(majority)
                set_link(ns.names[leading], up=True)

                async def followed() -> bool:
                    return await agreed(everyone) == new

                await wait_until(followed, 20.0, "the old leader follows the new one", poll_s=0.05)
        finally:
            for proc in procs:
                proc.kill()
