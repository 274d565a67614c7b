"""Bad input from the wire: the node answers with an ERROR envelope where it can, counts the rest, keeps serving."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import msgpack
import pytest
import zmq
from calc import Add, Calculator, Sleep, Sum
from conftest import NodePair

from zactor import Node, NodeConfig
from zactor.testing import wait_until
from zactor.transport import Kind, decode_body, encode_body, pack_header, unpack_header
from zactor.wire import ErrorCode


@pytest.fixture
def raw_dealer() -> AsyncIterator[zmq.Socket]:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    yield sock
    sock.close(linger=0)
    ctx.term()


async def _recv(sock: zmq.Socket) -> list[bytes]:
    return await asyncio.get_running_loop().run_in_executor(None, sock.recv_multipart)


async def _still_serves(node: Node) -> None:
    async with Node() as client:
        assert await client.ref("calc", address=node.address).ask(Add(a=1, b=1), timeout_s=5) == Sum(value=2)


async def _serving_node(**config: object) -> Node:
    node = await Node(NodeConfig(node_id="target", **config)).start()  # type: ignore[arg-type]
    await node.add_actor("calc", Calculator())
    return node


def _request(request_id: int, target: str, type_name: str, body: bytes, n_buffers: int = 0) -> list[bytes]:
    return [pack_header(Kind.REQUEST, request_id, target, type_name, None, 0, n_buffers, body)]


async def _error_reply(sock: zmq.Socket, frames: list[bytes]) -> tuple[int, object]:
    sock.send_multipart(frames)
    reply = await _recv(sock)
    header = unpack_header(reply[0])
    assert header.kind is Kind.ERROR
    return header.request_id, decode_body(header.message_type, header.body, reply[1:])


async def test_unknown_type_actor_and_bad_body_get_error_envelopes(raw_dealer: zmq.Socket) -> None:
    """Requests with an unknown message type, unknown actor, bad body or wrong buffer count get ERROR replies."""
    node = await _serving_node()
    try:
        raw_dealer.connect(node.address)
        type_name, body, _ = encode_body(Add(a=1, b=2))
        rid, info = await _error_reply(raw_dealer, _request(11, "calc", "no.SuchType", body))
        assert rid == 11 and info.code == ErrorCode.DECODE_ERROR and "no.SuchType" in info.message
        rid, info = await _error_reply(raw_dealer, _request(12, "ghost", type_name, body))
        assert rid == 12 and info.code == ErrorCode.ACTOR_NOT_FOUND and info.actor == "ghost"
        rid, info = await _error_reply(raw_dealer, _request(13, "calc", type_name, b"\xc1garbage"))
        assert rid == 13 and info.code == ErrorCode.DECODE_ERROR
        rid, info = await _error_reply(raw_dealer, _request(14, "calc", type_name, body, n_buffers=2))
        assert rid == 14 and info.code == ErrorCode.DECODE_ERROR
        assert node.stats["decode_errors"] == 3 and node.stats["unknown_actor"] == 1
        await _still_serves(node)
    finally:
        await node.stop()


async def test_malformed_and_truncated_envelopes_are_counted_and_dropped(raw_dealer: zmq.Socket) -> None:
    """Envelopes without a valid header (garbage, truncated, other version, a reply kind) are counted, not fatal."""
    node = await _serving_node()
    try:
        raw_dealer.connect(node.address)
        header = pack_header(Kind.REQUEST, 1, "calc", "test.Add", None, 0, 0)
        raw_dealer.send_multipart([b"garbage"])
        raw_dealer.send_multipart([header[:5], b""])
        raw_dealer.send_multipart([msgpack.packb([0x5A4101, 1, 1, "calc", "test.Add", None, 0, 0]), b"\x80"])
        raw_dealer.send_multipart([pack_header(Kind.REPLY, 1, "", "", None, 0, 0)])
        await wait_until(lambda: node.stats["decode_errors"] == 3 and node.stats["unexpected_kind"] == 1)
        await _still_serves(node)
    finally:
        await node.stop()


async def test_random_frames_never_kill_the_node(raw_dealer: zmq.Socket) -> None:
    """Hundreds of random multipart messages from a raw DEALER leave the node serving everyone else."""
    node = await _serving_node()
    rng = random.Random(1234)
    try:
        raw_dealer.connect(node.address)
        valid_header = pack_header(Kind.REQUEST, 5, "calc", "test.Add", None, 0, 0)
        for _ in range(300):
            frames = [rng.randbytes(rng.randrange(0, 40)) for _ in range(rng.randrange(1, 5))]
            if rng.random() < 0.3:
                frames[0] = valid_header
            raw_dealer.send_multipart(frames)
        await _still_serves(node)
        assert node.stats["decode_errors"] > 0
    finally:
        await node.stop()


async def test_oversized_frame_disconnects_only_that_peer(raw_dealer: zmq.Socket) -> None:
    """A frame over max_message_bytes is refused by ZeroMQ; the node keeps serving other peers."""
    node = await _serving_node(max_message_bytes=64 * 1024)
    try:
        raw_dealer.connect(node.address)
        raw_dealer.send_multipart([pack_header(Kind.REQUEST, 1, "calc", "test.Blob", None, 0, 0), b"x" * 200_000])
        await _still_serves(node)
        assert node.stats["decode_errors"] == 0, "the oversized frame must not have been delivered"
    finally:
        await node.stop()


async def test_peer_that_disappears_mid_request_is_dropped_and_counted() -> None:
    """An ask from a peer that closed its socket mid-request is cancelled when the node sees the connection close,
    or its reply is dropped and counted if it was ready first; the node keeps serving."""
    node = await _serving_node()
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.connect(node.address)
        type_name, body, _ = encode_body(Sleep(seconds=0.2))
        sock.send_multipart(_request(1, "calc", type_name, body))
        await wait_until(lambda: node.registry.get("calc").actor.running == 1, what="the handler to start")
        sock.close(linger=0)
        await wait_until(
            lambda: node.transport.stats["dropped_unroutable"] + node.stats["cancelled_peer_gone"] == 1,
            what="the ask cancelled or its reply dropped",
        )
        await _still_serves(node)
    finally:
        ctx.term()
        await node.stop()


async def test_envelopes_without_a_message_never_reach_an_actor(raw_dealer: zmq.Socket) -> None:
    """TELLs and REQUESTs with an empty message type (a nil body) are refused with DecodeError before any mailbox:
    20 of them to an actor with one worker leave it serving."""
    node = await _serving_node()
    try:
        raw_dealer.connect(node.address)
        nil = msgpack.packb(None)
        for _ in range(20):
            raw_dealer.send_multipart([pack_header(Kind.TELL, 0, "calc", ""), nil])
        rid, info = await _error_reply(raw_dealer, _request(21, "calc", "", nil))
        assert rid == 21 and info.code == ErrorCode.DECODE_ERROR and "message type" in info.message
        await _still_serves(node)
        assert node.stats["decode_errors"] == 21
    finally:
        await node.stop()


async def test_a_value_msgpack_cannot_encode_is_a_type_error_at_the_caller(node_pair: NodePair) -> None:
    """An integer beyond 64 bits in a remote ask is a TypeError naming it, not msgpack's OverflowError."""
    async with node_pair() as (server, client):
        await server.add_actor("calc", Calculator())
        with pytest.raises(TypeError, match="64-bit range"):
            await client.ref("calc", address=server.address).ask(Add(a=2**70, b=1))
        assert await client.ref("calc", address=server.address).ask(Add(a=2, b=1)) == Sum(value=3)
