"""Errors point at the right place: an error a handler meets in its own asks reaches the outer caller as that
handler's RemoteError, keeping the chain and the remote traceback; the node logs the failure at WARNING."""

from __future__ import annotations

import logging

import pytest
from calc import Calculator, Fail
from conftest import NodePair

from zactor import Actor, Context, Node, handler, message
from zactor.errors import RemoteError


@message("test.chain.Relay")
class Relay:
    target: str
    address: str


class Relayer(Actor):
    @handler
    async def relay(self, msg: Relay, ctx: Context) -> None:
        await ctx.node.ref(msg.target, address=msg.address or None).ask(Fail(text="deep"), timeout_s=5.0)


async def test_an_inner_actor_not_found_is_the_callers_remote_error(node_pair: NodePair) -> None:
    """'no actor missing' inside 'relay' reaches the caller as relay's RemoteError naming 'missing', with the
    handler's traceback; local and remote callers see the same."""
    async with node_pair() as (server, client):
        await server.add_actor("relay", Relayer())
        for ref in (client.ref("relay", address=server.address), server.ref("relay")):
            with pytest.raises(RemoteError) as info:
                await ref.ask(Relay(target="missing", address=""))
            err = info.value
            assert (err.type_name, err.actor, err.node) == ("ActorNotFound", "relay", "server")
            assert "'missing'" in err.message
            assert "Traceback" in err.remote_traceback and "in relay" in err.remote_traceback


async def test_a_chain_across_three_nodes_names_each_hop(caplog: pytest.LogCaptureFixture) -> None:
    """client -> relay on a -> calc on b, which raises: the error names both hops, innermost first; node b logs the
    failure at WARNING with its traceback."""
    async with Node() as a, Node() as b, Node() as client:
        await a.add_actor("relay", Relayer())
        await b.add_actor("calc", Calculator())
        with caplog.at_level(logging.WARNING, logger="zactor.mailbox"), pytest.raises(RemoteError) as info:
            await client.ref("relay", address=a.address).ask(Relay(target="calc", address=b.address))
    err = info.value
    assert err.type_name == "RemoteError" and err.actor == "relay" and err.node == a.node_id
    assert f"ValueError: deep (actor 'calc' on node {b.node_id!r})" in err.message
    failures = [r for r in caplog.records if "failed on an ask" in r.getMessage()]
    assert any(r.levelno == logging.WARNING and r.exc_info is not None and "'calc'" in r.getMessage() for r in failures)
