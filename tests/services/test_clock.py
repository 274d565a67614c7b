"""The hybrid logical clock: the paper's rules, its algebraic properties, and its use on every envelope."""

from __future__ import annotations

import asyncio

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from zactor import Actor, Context, Node, SystemTime, handler, message
from zactor.errors import ClockOffsetError, DecodeError
from zactor.services.clock import (
    CLOCK_ACTOR,
    MAX_LOGICAL,
    ClockService,
    GetTime,
    HLCTimestamp,
    HybridLogicalClock,
    Time,
)
from zactor.services.cluster import ClusterNode
from zactor.transport.envelope import Kind, pack, unpack_header

wall_ms = SystemTime().wall_ms


def test_send_follows_physical_time_and_counts_within_a_millisecond() -> None:
    """send() takes physical time when it advances, else bumps the logical counter (time going back included)."""
    clock = HybridLogicalClock("a")
    assert clock.send(100) == HLCTimestamp(100, 0, "a")
    assert clock.send(100) == HLCTimestamp(100, 1, "a")
    assert clock.send(90) == HLCTimestamp(100, 2, "a")
    assert clock.send(101) == HLCTimestamp(101, 0, "a")


def test_recv_takes_the_maximum_and_orders_after_the_remote() -> None:
    """recv() jumps to a remote physical time ahead of ours (within the offset) with logical = remote + 1."""
    clock = HybridLogicalClock("a", max_offset_ms=500)
    clock.send(100)
    assert clock.recv(HLCTimestamp(300, 4, "b"), 100) == HLCTimestamp(300, 5, "a")
    assert clock.recv(HLCTimestamp(300, 9, "b"), 200) == HLCTimestamp(300, 10, "a")
    assert clock.recv(HLCTimestamp(50, 0, "b"), 400) == HLCTimestamp(400, 0, "a")


def test_a_timestamp_too_far_ahead_is_refused_and_the_clock_does_not_move() -> None:
    """A remote stamp beyond max_offset_ms raises ClockOffsetError and leaves the clock where it was."""
    clock = HybridLogicalClock("a", max_offset_ms=500)
    before = clock.send(1000)
    with pytest.raises(ClockOffsetError) as info:
        clock.recv(HLCTimestamp(1000 + 501, 0, "b"), 1000)
    assert (info.value.node, info.value.ahead_ms, info.value.max_offset_ms) == ("b", 501, 500)
    assert clock.last == before and clock.rejected == 1


def test_timestamps_are_totally_ordered_with_node_id_as_tie_break() -> None:
    """Equal physical and logical parts are ordered by node id; the wire form round-trips."""
    assert HLCTimestamp(1, 2, "a") < HLCTimestamp(1, 2, "b") < HLCTimestamp(1, 3, "a") < HLCTimestamp(2, 0, "a")
    stamp = HLCTimestamp(1_700_000_000_000, 7, "n1")
    assert HLCTimestamp.from_wire(stamp.to_wire()) == stamp
    for bad in (None, [1, 2], [1, -1, "a"], ["1", 2, "a"], [1, 2, 3]):
        with pytest.raises(DecodeError):
            HLCTimestamp.from_wire(bad)


_ops = st.lists(
    st.tuples(st.sampled_from(["send", "recv"]), st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 50)),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ops=_ops)
def test_clock_is_monotonic_and_recv_dominates_the_remote(ops: list[tuple[str, int, int, int]]) -> None:
    """Every timestamp issued is greater than the previous one, and recv's result exceeds the remote stamp."""
    clock = HybridLogicalClock("a", max_offset_ms=10**9)
    previous = clock.last
    for op, physical, remote_physical, remote_logical in ops:
        if op == "send":
            stamp = clock.send(physical)
        else:
            remote = HLCTimestamp(remote_physical, remote_logical, "b")
            stamp = clock.recv(remote, physical)
            assert stamp > remote
        assert stamp > previous and stamp.physical_ms >= physical
        previous = stamp


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2_000), st.booleans()), min_size=1, max_size=80
    )
)
def test_happens_before_implies_less_than(events: list[tuple[int, int, int, bool]]) -> None:
    """Along any chain of local events and messages between three clocks, timestamps strictly increase."""
    clocks = [HybridLogicalClock(f"n{i}", max_offset_ms=10**9) for i in range(3)]
    latest: list[HLCTimestamp | None] = [None, None, None]
    for src, dst, physical, is_message in events:
        sent = clocks[src].send(physical)
        if latest[src] is not None:
            assert sent > latest[src]
        latest[src] = sent
        if is_message and dst != src:
            received = clocks[dst].recv(sent, physical)
            assert received > sent
            if latest[dst] is not None:
                assert received > latest[dst]
            latest[dst] = received


@message("test.clock.Ping")
class Ping:
    pass


class Echo(Actor):
    @handler
    async def ping(self, msg: Ping, ctx: Context) -> Ping:
        return msg


async def test_envelopes_carry_the_clock_and_the_receiver_merges_it() -> None:
    """After a request from a node whose clock is ahead (within the offset), the receiver's clock is past it."""
    ahead_ms = 300
    ahead = ClockService(physical_ms=lambda: wall_ms() + ahead_ms)
    server_clock = ClockService()
    async with Node(extensions=[server_clock]) as server, Node(extensions=[ahead]) as client:
        await server.add_actor("echo", Echo())
        sent_after = ahead.now()
        await client.ref("echo", address=server.address).ask(Ping())
        assert server_clock.now() > sent_after
        reply = await client.ref(CLOCK_ACTOR, address=server.address).ask(GetTime())
        assert isinstance(reply, Time) and HLCTimestamp.from_wire(reply.timestamp).node_id == server.node_id


async def test_request_from_a_clock_too_far_ahead_is_refused() -> None:
    """A request stamped 10 s ahead gets an ERROR (ClockOffsetError at the caller); the receiver's clock stays."""
    wild = ClockService(physical_ms=lambda: wall_ms() + 10_000)
    server_clock = ClockService()
    async with Node(extensions=[server_clock]) as server, Node(extensions=[wild]) as client:
        await server.add_actor("echo", Echo())
        with pytest.raises(ClockOffsetError) as info:
            await client.ref("echo", address=server.address).ask(Ping())
        assert info.value.node == server.node_id and info.value.ahead_ms >= 9_000
        assert server_clock.now().physical_ms < wall_ms() + 5_000
        assert server.stats["clock_rejected"] == 1 and server_clock.rejected == 1


async def test_removing_the_clock_extension_stops_stamping() -> None:
    """After remove_extension('clock') the node has no clock and its envelopes carry none; calls still work."""
    async with ClusterNode() as server, ClusterNode() as client:
        await server.add_actor("echo", Echo())
        assert server.extensions() == ["clock", "membership", "selector", "deathwatch", "virtual"]
        await client.remove_extension("clock")
        with pytest.raises(RuntimeError):
            client.clock.now()
        assert await client.ref("echo", address=server.address).ask(Ping()) == Ping()
        assert CLOCK_ACTOR not in client.actors() and "echo" in server.actors()


def test_a_logical_counter_beyond_the_bound_is_refused_and_the_clock_does_not_move() -> None:
    """A remote logical counter above MAX_LOGICAL (or negative) is a DecodeError; the clock keeps its state."""
    clock = HybridLogicalClock("a")
    before = clock.send(1_000)
    for logical in (MAX_LOGICAL + 1, 2**64 - 1, -1):
        with pytest.raises(DecodeError, match="logical"):
            clock.merge(1_200, logical, "evil", 1_000)
    assert clock.last == before
    with pytest.raises(DecodeError):
        HLCTimestamp.from_wire([1_000, MAX_LOGICAL + 1, "evil"])


def test_the_logical_counter_never_passes_the_bound() -> None:
    """Merging a stamp at the bound moves to the next millisecond instead of overflowing the counter."""
    clock = HybridLogicalClock("a")
    clock.merge(1_200, MAX_LOGICAL, "b", 1_000)
    assert clock.last == HLCTimestamp(1_201, 0, "a")
    assert clock.send(1_000) == HLCTimestamp(1_201, 1, "a")
    clock.merge(1_201, MAX_LOGICAL, "b", 1_000)
    assert clock.last.logical <= MAX_LOGICAL and clock.last > HLCTimestamp(1_201, MAX_LOGICAL, "b")


def test_an_overflow_push_beyond_the_max_offset_is_refused() -> None:
    """A counter overflow may not carry the clock past physical time plus the max offset."""
    clock = HybridLogicalClock("a", max_offset_ms=500)
    with pytest.raises(ClockOffsetError):
        clock.merge(1_500, MAX_LOGICAL, "b", 1_000)
    assert clock.last.physical_ms == 0


async def test_an_envelope_with_a_huge_logical_counter_leaves_the_node_reachable() -> None:
    """An envelope stamped [now + 450 ms, 2**64 - 1] is refused; the node's own stamps stay encodable."""
    server_clock = ClockService()
    async with Node(extensions=[server_clock]) as server:
        await server.add_actor("echo", Echo())
        request = pack(Kind.REQUEST, 7, "echo", Ping(), [wall_ms() + 450, 2**64 - 1, "evil"])
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(server.address)
        try:
            sock.send_multipart(request)
            assert await asyncio.to_thread(sock.poll, 5000)
            reply = unpack_header(sock.recv_multipart()[0])
            assert reply.kind is Kind.ERROR and reply.request_id == 7
        finally:
            sock.close()
        assert server_clock.now().logical <= MAX_LOGICAL
        async with Node(extensions=[ClockService()]) as client:
            assert await client.ref("echo", address=server.address).ask(Ping(), timeout_s=2.0) == Ping()
