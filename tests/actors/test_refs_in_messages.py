"""An ``ActorRef`` as a message field: it travels as (node id, address, name), is asked on arrival, comes back local
to its own node, survives the serialize-local path, and a malformed one is a DecodeError naming the field."""

from __future__ import annotations

import attrs
import pytest

from zactor import Actor, ActorRef, Context, Node, NodeConfig, Returns, handler, message
from zactor.errors import DecodeError
from zactor.ref import RECEIVER
from zactor.transport.schema import check_fields


@message("test.refs.Ping")
class Ping(Returns["Pong"]):
    n: int


@message("test.refs.Pong")
class Pong:
    n: int
    by: str


@message("test.refs.Introduce")
class Introduce(Returns["Introduced"]):
    peer: ActorRef[Ping]
    others: list[ActorRef[Ping]] = attrs.field(factory=list)


@message("test.refs.Introduced")
class Introduced:
    answers: list[int]
    peer_is_local: bool
    echoed: ActorRef[Ping]


class Echo(Actor):
    def __init__(self, tag: str) -> None:
        self.tag = tag

    @handler
    async def ping(self, msg: Ping, ctx: Context) -> Pong:
        return Pong(n=msg.n, by=self.tag)


class Broker(Actor):
    """Asks every ref it is introduced to, at once, and sends the first back."""

    @handler
    async def introduce(self, msg: Introduce, ctx: Context) -> Introduced:
        answers = [(await ref.ask(Ping(n=i))).n for i, ref in enumerate([msg.peer, *msg.others])]
        return Introduced(answers=answers, peer_is_local=msg.peer.address is None, echoed=msg.peer)


async def test_a_ref_is_asked_on_arrival_and_comes_back_usable() -> None:
    async with Node(NodeConfig(node_id="a")) as a, Node(NodeConfig(node_id="b")) as b, Node() as caller:
        await a.add_actor("broker", Broker())
        await a.add_actor("echo", Echo("a"))
        echo_b = await b.add_actor("echo", Echo("b"))
        broker = caller.ref("broker", address=a.address)

        remote_peer = caller.ref("echo", address=b.address)
        reply = await broker.ask(Introduce(peer=remote_peer, others=[caller.ref("echo", address=a.address)]))
        assert reply.answers == [0, 1] and not reply.peer_is_local
        assert reply.echoed == remote_peer
        assert (await reply.echoed.ask(Ping(n=5))) == Pong(n=5, by="b")

        local_to_b = await b.ref("broker", address=a.address).ask(Introduce(peer=echo_b))
        assert not local_to_b.peer_is_local and local_to_b.echoed.address is None  # b's own actor, back at b
        assert local_to_b.echoed.node_id == "b"

        own = await broker.ask(Introduce(peer=caller.ref("echo", address=a.address)))
        assert own.peer_is_local  # a ref to a's own actor arrives at a as a local one


async def test_a_ref_survives_the_serialize_local_path() -> None:
    async with Node(NodeConfig(serialize_local=True)) as node:
        await node.add_actor("broker", Broker())
        echo = await node.add_actor("echo", Echo("x"))
        reply = await node.ref("broker").ask(Introduce(peer=echo))
        assert reply.answers == [0] and reply.peer_is_local and reply.echoed == echo


@pytest.mark.parametrize(
    "value", [["a", "tcp://127.0.0.1:1"], ["a", 1, "echo"], "echo", ["a", "", "echo"], ["a", "tcp://h:1", ""]]
)
async def test_a_malformed_ref_is_a_decode_error_naming_the_field(value: object) -> None:
    async with Node() as node:
        token = RECEIVER.set(node)
        try:
            with pytest.raises(DecodeError, match="Introduce.peer"):
                check_fields(Introduce, {"peer": value})
        finally:
            RECEIVER.reset(token)


def test_a_ref_outside_a_node_is_refused() -> None:
    with pytest.raises(DecodeError, match="node to arrive at"):
        check_fields(Introduce, {"peer": ["a", "tcp://127.0.0.1:1", "echo"]})
