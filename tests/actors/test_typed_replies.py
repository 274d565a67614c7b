"""A message that declares its reply type (``Returns[...]`` or ``reply=``) gets a reply of that type or a
``DecodeError``."""

from __future__ import annotations

import pytest
from calc import Add, Calculator, Sum
from conftest import NodePair

from zactor import Actor, Context, Returns, handler, message
from zactor.errors import DecodeError
from zactor.transport import reply_type_of


@message("test.typed.Ping")
class Ping(Returns[None]):
    pass


@message("test.typed.Lie")
class Lie(Returns[Sum]):
    pass


@message("test.typed.Untyped")
class Untyped:
    pass


@message("test.typed.Fib", reply=Sum)
class Fib:
    pass


@message("test.typed.Silent", reply=None)
class Silent:
    pass


class Liar(Actor):
    @handler
    async def ping(self, msg: Ping, ctx: Context) -> Sum:
        return Sum(value=1)

    @handler
    async def lie(self, msg: Lie, ctx: Context) -> Ping:
        return Ping()

    @handler
    async def untyped(self, msg: Untyped, ctx: Context) -> Ping:
        return Ping()

    @handler
    async def fib(self, msg: Fib, ctx: Context) -> Ping:
        return Ping()


def test_declared_reply_types_resolve_forward_references() -> None:
    """``Returns["Sum"]`` resolves to the class of that name; ``Returns[None]`` to NoneType; none declared: None."""
    assert reply_type_of(Add) is Sum
    assert reply_type_of(Ping) is type(None)
    assert reply_type_of(Untyped) is None
    assert reply_type_of(Fib) is Sum and reply_type_of(Silent) is type(None)


def test_two_different_reply_declarations_are_refused() -> None:
    """``reply=`` that contradicts ``Returns[...]`` is a TypeError at class definition."""
    with pytest.raises(TypeError, match="two replies"):

        @message("test.typed.Confused", reply=Ping)
        class Confused(Returns[Sum]):
            pass


@pytest.mark.parametrize("remote", [False, True])
async def test_a_reply_of_the_declared_type_passes_and_another_is_a_decode_error(
    node_pair: NodePair, remote: bool
) -> None:
    """Local and remote asks alike: the declared type passes, any other type is refused at the caller."""
    async with node_pair() as (server, client):
        await server.add_actor("calc", Calculator())
        await server.add_actor("liar", Liar())
        caller = client if remote else server
        address = server.address if remote else None
        total = await caller.ref("calc", address=address).ask(Add(a=1, b=2))
        assert total.value == 3
        liar = caller.ref("liar", address=address)
        with pytest.raises(DecodeError, match="test.typed.Lie, which returns Sum"):
            await liar.ask(Lie())
        with pytest.raises(DecodeError, match="answered test.Sum"):
            await liar.ask(Ping())
        assert await liar.ask(Untyped()) == Ping()
        with pytest.raises(DecodeError, match="test.typed.Fib, which returns Sum"):
            await liar.ask(Fib())
