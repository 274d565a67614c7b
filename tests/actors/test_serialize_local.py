"""``NodeConfig.serialize_local``: a local ask, its reply and a local tell go through encode and decode, so what the
wire cannot carry, or a field of the wrong type, fails in a one-process test as it would between processes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from zactor import Actor, Context, Node, NodeConfig, Returns, handler, message
from zactor.config import SERIALIZE_LOCAL_ENV
from zactor.errors import DecodeError


@message("test.serialize.Count")
class Count(Returns["Counted"]):
    items: list[int]
    extra: Any = None


@message("test.serialize.Counted")
class Counted:
    n: int


class Counter(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    @handler
    async def count(self, msg: Count, ctx: Context) -> Counted:
        self.seen.append(msg)
        return Counted(n=len(msg.items) if msg.extra != "bad reply" else "many")  # type: ignore[arg-type]


@pytest.mark.parametrize("serialize", [False, True])
async def test_a_local_ask_meets_the_wire_only_when_serialized(serialize: bool) -> None:
    async with Node(NodeConfig(serialize_local=serialize)) as node:
        counter = Counter()
        ref = await node.add_actor("counter", counter)
        sent = Count(items=[1, 2])
        assert await ref.ask(sent) == Counted(n=2)
        assert (counter.seen[-1] is sent) is not serialize  # a copy, decoded, when serialized
        unencodable = Count(items=[1], extra=1j)
        wrong_type = Count(items=["one"])  # type: ignore[list-item]
        if not serialize:
            assert await ref.ask(unencodable) == Counted(n=1) and await ref.ask(wrong_type) == Counted(n=1)
            assert await ref.ask(Count(items=[], extra="bad reply")) == Counted(n="many")  # type: ignore[arg-type]
            return
        with pytest.raises(TypeError, match=r"test\.serialize\.Count\.extra: cannot encode a value of type complex"):
            await ref.ask(unencodable)
        with pytest.raises(DecodeError, match=r"test\.serialize\.Count\.items\[0\]: expected int, got str"):
            await ref.ask(wrong_type)
        with pytest.raises(DecodeError, match=r"test\.serialize\.Counted\.n: expected int, got str"):
            await ref.ask(Count(items=[], extra="bad reply"))
        with pytest.raises(TypeError, match="complex"):
            await ref.tell(unencodable)
        await ref.tell(Count(items=[3]))
        await asyncio.sleep(0)
        assert counter.seen[-1] == Count(items=[3])


def test_the_default_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SERIALIZE_LOCAL_ENV, raising=False)
    assert NodeConfig().serialize_local is False
    monkeypatch.setenv(SERIALIZE_LOCAL_ENV, "1")
    assert NodeConfig().serialize_local is True and NodeConfig(serialize_local=False).serialize_local is False


def test_this_suite_runs_with_local_asks_serialized() -> None:
    """The project's tests set ``zactor_serialize_local = true`` (pyproject.toml)."""
    assert os.environ.get(SERIALIZE_LOCAL_ENV) == "1" and NodeConfig().serialize_local
