"""Spawning from code over the in-memory transport, in virtual time: on a named node, on any, by a placement
function, with supervision; refused outside the allow-list, on a node without an admin actor, for a name in use;
stopping a remote actor reaches its watchers."""

from __future__ import annotations

import asyncio
import random

import pytest
from memcluster import cluster

from zactor.deathwatch import TerminationReason
from zactor.errors import ActorNotFound, SpawnRefused
from zactor.services.cluster import ClusterNode
from zactor.services.cluster.admin import ADMIN_ACTOR, AdminActor
from zactor.services.cluster.demo import Add, Result
from zactor.services.cluster.spawn import choose_host
from zactor.supervision import Restart, RestartPolicy
from zactor.testing import FakeClock, wait_until
from zactor.transport import InMemoryNetwork

CALC = "zactor.services.cluster.demo:Calculator"


async def _with_admins(nodes: list[ClusterNode]) -> None:
    """n1 and n2 host an admin actor allowing the demo module; n0 hosts none."""
    for node in nodes[1:]:
        await node.add_actor(ADMIN_ACTOR, AdminActor(allow=["zactor.services.cluster.demo"]))
    await wait_until(
        lambda: all(sorted(n.membership.lookup(ADMIN_ACTOR)) == ["n1", "n2"] for n in nodes),
        timeout_s=5.0,
        what="the admin actors to be gossiped",
    )


async def test_spawn_on_a_named_node_on_any_and_by_placement(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await _with_admins(nodes)
        n0 = nodes[0]
        calc = await n0.spawn("calc", CALC, on="n2")
        assert "calc" in nodes[2].actors() and "calc" not in nodes[1].actors()
        assert await calc.ask(Add(a=2, b=3)) == Result(value=5)

        anywhere = [await n0.spawn(f"any{i}", CALC) for i in range(6)]
        hosts = {node.node_id for node in nodes for ref in anywhere if ref.name in node.actors()}
        assert hosts <= {"n1", "n2"} and len(anywhere) == 6

        def in_dc1(members: list[object]) -> str:
            return next(m.node_id for m in members if m.data_center == "dc1")  # type: ignore[attr-defined]

        await n0.spawn("placed", CALC, on=in_dc1)
        assert "placed" in nodes[1].actors()


async def test_spawn_with_a_restart_policy_supervises_on_the_target(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await _with_admins(nodes)
        policy = RestartPolicy(mode=Restart.ALWAYS, max_restarts=7, within_s=3.0)
        await nodes[0].spawn("calc", CALC, on="n1", restart=policy)
        mailbox = nodes[1].registry.get("calc")
        assert mailbox is not None and mailbox.crash_policy == policy
        with pytest.raises(ValueError):
            await nodes[0].spawn("bad", CALC, on="n1", restart=RestartPolicy(mode=Restart.ALWAYS, max_restarts=-1))


async def test_refusals_are_one_error(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await _with_admins(nodes)
        n0 = nodes[0]
        refusals = [
            (dict(name="x", spec="os:system", on="n1"), "admin-allow"),
            (dict(name="x", spec=CALC, on="n0"), "admin actor"),
            (dict(name="x", spec=CALC, on="n9"), "not a live member"),
            (dict(name="zactor.kv", spec=CALC, on="n1"), "system actor"),
            (dict(name="x", spec="zactor.services.cluster.demo:Nothing", on="n1"), "cannot load"),
        ]
        for kwargs, reason in refusals:
            with pytest.raises(SpawnRefused, match=reason):
                await n0.spawn(**kwargs)  # type: ignore[arg-type]
        await n0.spawn("calc", CALC, on="n1")
        with pytest.raises(SpawnRefused, match="calc") as caught:
            await n0.spawn("calc", CALC, on="n1")
        assert caught.value.node == "n1"


async def test_stop_actor_removes_it_and_its_remote_watchers_are_told(clock: FakeClock) -> None:
    async with cluster(3, InMemoryNetwork(), clock) as nodes:
        await _with_admins(nodes)
        n0 = nodes[0]
        calc = await n0.spawn("calc", CALC, on="n2")
        watch = n0.watch(calc)
        await wait_until(lambda: len(nodes[2].deathwatch._subscribers) == 1, what="the subscription")
        await n0.stop_actor(calc)
        assert "calc" not in nodes[2].actors()
        assert (await asyncio.wait_for(watch, timeout=2.0)).reason is TerminationReason.REMOVED
        with pytest.raises(ActorNotFound):
            await n0.stop_actor(calc)
        with pytest.raises(SpawnRefused, match="admin actor"):
            await nodes[1].stop_actor(nodes[1].ref("zactor.observer", node_id="n0"))


def test_choose_host_refuses_when_no_node_hosts_an_admin_actor() -> None:
    with pytest.raises(SpawnRefused, match="no live member"):
        choose_host("x", "any", [], random.Random(1))
