"""SIGKILL of a node: the watchers of its actors on the other nodes get ``Terminated(reason=node_dead)`` within the
failure-detection time, and asks waiting on it fail at once with ``ActorTerminated``; the watches on the survivor's
actors stay quiet."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from zactor import NodeConfig
from zactor.config import DEFAULT_CLUSTER_ID
from zactor.deathwatch import TerminationReason
from zactor.errors import ActorTerminated
from zactor.services.cluster import ClusterNode
from zactor.services.cluster.local_cluster import LocalCluster

pytestmark = [pytest.mark.fault, pytest.mark.timeout(120)]

ACTORS = Path(__file__).parent.parent / "actors"
sys.path.insert(0, str(ACTORS))

from calc import Sleep  # noqa: E402

log = logging.getLogger(__name__)

#: Failure detection declares a silent node dead after about 16 gossip intervals (3.2 s at 0.2 s); the bound leaves
#: room for a loaded machine.
DETECTION_BOUND_S = 8.0


async def test_sigkill_fires_every_remote_watch_and_fails_pending_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ACTORS))
    with LocalCluster(2, actors={"calc": "calc:Calculator"}) as cluster:
        config = NodeConfig(node_id="watcher", seeds=(cluster.seed,), cluster_id=DEFAULT_CLUSTER_ID)
        async with ClusterNode(config) as node:
            await node.membership.wait_for_members(3, timeout_s=20.0)
            victim, survivor = cluster.node_id(1), cluster.node_id(0)
            watches = [node.watch(node.ref("calc", node_id=victim)) for _ in range(3)]
            watches.append(node.watch(node.ref("zactor.observer", node_id=victim)))
            quiet = node.watch(node.ref("calc", node_id=survivor))
            pending = asyncio.ensure_future(node.ref("calc", node_id=victim).ask(Sleep(seconds=60), timeout_s=90))
            await asyncio.sleep(1.0)
            assert not any(w.done() for w in [*watches, quiet]) and not pending.done()

            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            cluster.kill(1)
            done = await asyncio.wait_for(asyncio.gather(*watches), timeout=DETECTION_BOUND_S)
            fired_after = loop.time() - killed_at
            assert {(t.node_id, t.reason) for t in done} == {(victim, TerminationReason.NODE_DEAD)}
            assert {t.name for t in done} == {"calc", "zactor.observer"}
            with pytest.raises(ActorTerminated) as caught:
                await asyncio.wait_for(pending, timeout=1.0)
            assert (caught.value.actor, caught.value.reason) == ("calc", "node_dead")
            log.info("watches fired %.2f s after the SIGKILL", fired_after)
            await asyncio.sleep(0.5)
            assert not quiet.done()
