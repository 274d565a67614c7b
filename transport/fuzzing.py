"""Hostile envelopes for fuzzing a live node: what a broken or malicious peer can put on the wire.

:func:`hostile_envelopes` yields multipart messages (lists of frames, as a DEALER sends them) from a seeded
``random.Random``: random bytes, truncated and oversized headers, wrong magic, kinds and counts, valid headers with
garbage or mismatched bodies, bodies of registered message types with fields of every msgpack type, extension types
nested past the codec's limit, and HLC stamps out of every bound. A node must answer each with an ERROR envelope or
drop it, and never crash (the property the fault suite and ``benchmarks/faults.py`` check). :func:`unread_requests` is
the slow consumer: a peer that asks and never reads the replies.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import msgpack
import zmq

from zactor.transport.codec import MAX_NESTING
from zactor.transport.envelope import MAGIC_VERSION, Kind, pack, pack_header

__all__ = ["hostile_envelopes", "fuzz_node", "unread_requests"]

_EXT_MESSAGE = 2


def _value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12 if depth < 3 else 7)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([0, -1, 1, 2**31, 2**63 - 1, -(2**63), 2**64 - 1])
    if choice == 2:
        return rng.random() * 10 ** rng.randrange(-5, 300)
    if choice == 3:
        return "".join(rng.choice("azAZ09.\x00\u00e9\U0001f600") for _ in range(rng.randrange(8)))
    if choice == 4:
        return rng.randbytes(rng.randrange(16))
    if choice == 5:
        return rng.random() < 0.5
    if choice == 6:
        return msgpack.ExtType(rng.randrange(128), rng.randbytes(rng.randrange(8)))
    if choice == 7:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 8:
        return {str(_value(rng, depth + 1)): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if choice == 9:
        depth = 300 if rng.random() < 0.05 else rng.randrange(1, MAX_NESTING + 4)
        return _nested(rng, depth, rng.choice(_TYPES))
    return [rng.randrange(2**64), rng.randrange(2**64), _value(rng, depth + 1)]


def _nested(rng: random.Random, depth: int, type_name: str) -> msgpack.ExtType:
    inner = msgpack.packb([type_name, {}])
    for _ in range(depth - 1):
        field = rng.choice(["x", "digest", "delta"])
        inner = msgpack.packb([type_name, {field: msgpack.ExtType(_EXT_MESSAGE, inner)}])
    return msgpack.ExtType(_EXT_MESSAGE, inner)


_TYPES = [
    "zactor.clock.GetTime",
    "zactor.gossip.Syn",
    "zactor.gossip.SynAck",
    "zactor.gossip.Ack",
    "zactor.gossip.GetMembers",
    "zactor.repl.PutMany",
    "zactor.repl.GetState",
    "zactor.kv.Put",
    "no.such.Type",
    "",
]
_TARGETS = ["zactor.clock", "zactor.membership", "zactor.replication", "zactor.kv", "nobody", ""]


def _hlc(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            [rng.randrange(2**64), rng.randrange(2**64), "x"],
            [0, 2**31, "x"],
            [-1, 0, "x"],
            "yesterday",
            [1, 2],
            _value(rng),
        ]
    )


def _body(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randrange(64))
    if kind == 1:
        value: bytes = msgpack.packb(_value(rng))
        return value
    fields = {rng.choice(["cluster_id", "digest", "delta", "include_down", "x"]): _value(rng) for _ in range(3)}
    packed: bytes = msgpack.packb(fields)
    return packed


def _envelope(rng: random.Random) -> list[bytes]:
    kind = rng.randrange(10)
    if kind == 0:
        return [rng.randbytes(rng.randrange(1, 64)) for _ in range(rng.randrange(1, 5))]
    if kind == 1:
        magic = rng.choice([MAGIC_VERSION, 0, MAGIC_VERSION - 1, MAGIC_VERSION + 1, "ZA"])
        head = msgpack.packb([magic, *[_value(rng) for _ in range(7)], rng.choice([_body(rng), _value(rng)])])
        return [head]
    if kind == 2:
        return [pack_header(Kind.REQUEST, 1, "zactor.clock", "zactor.clock.GetTime")[: rng.randrange(1, 12)]]
    n_buffers = rng.choice([0, 0, 0, 1, 2, 2**32])
    head = pack_header(
        rng.choice(list(Kind)),
        rng.choice([0, 1, rng.randrange(2**64)]),
        rng.choice(_TARGETS),
        rng.choice(_TYPES),
        _hlc(rng),
        rng.choice([0, 1, 2**63]),
        n_buffers,
        _body(rng),
    )
    buffers = [rng.randbytes(rng.randrange(32)) for _ in range(rng.randrange(3))]
    return [head, *buffers]


def hostile_envelopes(seed: int, count: int) -> Iterator[Sequence[bytes]]:
    """``count`` hostile envelopes (``[head, *buffers]`` or worse), reproducible from ``seed``."""
    rng = random.Random(seed)
    for _ in range(count):
        yield _envelope(rng)


async def fuzz_node(
    address: str, seed: int, count: int, probe: Callable[[], Awaitable[object]], probe_every: int = 10_000
) -> int:
    """Send ``count`` hostile envelopes to the node at ``address`` from one DEALER, reading (and discarding) what
    it answers, and await ``probe()`` (a real ask that must succeed) after every ``probe_every`` envelopes.

    Returns:
        How many envelopes the node answered.

    Raises:
        Exception: whatever ``probe()`` raised (the node stopped answering real asks).
    """
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(address)
    answered = 0
    try:
        for i, frames in enumerate(hostile_envelopes(seed, count), 1):
            while True:
                try:
                    sock.send_multipart(frames, zmq.NOBLOCK)
                    break
                except zmq.Again:
                    answered += _drain(sock)
                    await probe()
            answered += _drain(sock)
            if i % probe_every == 0:
                await probe()
        await probe()
        return answered + _drain(sock)
    finally:
        sock.close()


def _drain(sock: zmq.Socket[bytes]) -> int:
    count = 0
    while sock.poll(0):
        sock.recv_multipart()
        count += 1
    return count


def unread_requests(address: str, target: str, msg: Any, count: int) -> zmq.Socket[bytes]:
    """A slow consumer: a DEALER that sends ``count`` REQUESTs of ``msg`` (a registered message) to the actor
    ``target`` at ``address`` and never reads a reply (its receive high-water mark is 2 messages). Close it when done.

    Raises:
        TypeError: ``msg`` is not a registered message.
    """
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.rcvhwm = 2
    sock.connect(address)
    for request_id in range(1, count + 1):
        sock.send_multipart(pack(Kind.REQUEST, request_id, target, msg))
    return sock
