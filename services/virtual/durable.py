"""``DurableActor[S]``: a virtual actor whose ``state`` survives its activation, in the replicated store at QUORUM.

The state of kind ``k``, key ``key`` is one row of the store's fenced keyspace ``virtual.<k>``
(:mod:`~zactor.services.replication.fenced`), versioned by the activation's fencing term (its shard's election term)
and a sequence number. An activation first claims the row for its term on a quorum, which loads the newest state and
keeps any older activation from writing again (:class:`~zactor.services.replication.fenced.StaleTerm`); each save
then writes at a quorum. With ``autosave`` (the default), a handler that changed the state saves it before its reply
goes out, so an acknowledged reply is durable; a handler that raises, or a save that fails, puts the state back as
last saved, and the caller gets the error.
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

from zactor.actor import Context
from zactor.services.replication import ReplicatedStore
from zactor.services.replication.fenced_store import FencedKeyspace, next_seq
from zactor.services.virtual.instance import VirtualActor
from zactor.transport.codec import decode_body, encode_body, type_name_of

__all__ = ["DurableActor", "STATE_PREFIX"]

S = TypeVar("S")

STATE_PREFIX = "virtual."
"""The fenced keyspace of a kind's states: this prefix and the kind."""

_saving_handlers: dict[type, list[str]] = {}


class DurableActor(VirtualActor, Generic[S]):
    """A virtual actor with durable ``state`` (see the module docstring).

    ``class Counter(DurableActor[CounterState])``: the state class is taken from the subscript (or give
    ``state_type``); it is a ``@message`` class, so a stored state is decoded with the same checks as a message. A new
    key starts from :meth:`initial_state` (``state_type()`` by default).

    Attributes:
        state: the instance's state; replace or change it in handlers.
        autosave: save after each handler that changed the state (class attribute; ``False``: call :meth:`save`); a
            streaming handler saves with ``await self.save()`` itself.
        state_type: the ``@message`` class of ``state``.
    """

    state_type: ClassVar[type[Any]]
    autosave: ClassVar[bool] = True
    state: S

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            args = typing.get_args(base)
            if typing.get_origin(base) is DurableActor and args and isinstance(args[0], type):
                cls.state_type = args[0]
        names = [name for name in dir(cls) if getattr(getattr(cls, name, None), "__zactor_handler__", False)]
        _saving_handlers[cls] = [name for name in names if not inspect.isasyncgenfunction(getattr(cls, name))]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        self = super().__new__(cls)
        for name in _saving_handlers.get(cls, ()):
            setattr(self, name, _saving(self, getattr(self, name)))
        return self

    def initial_state(self) -> S:
        """The state of a key never saved (``state_type()``)."""
        return typing.cast(S, self.state_type())

    async def on_start(self, ctx: Context) -> None:
        try:
            store = ctx.node.extension(ReplicatedStore)
        except LookupError:
            raise RuntimeError(
                f"kind {self.kind!r} keeps durable state: its nodes need the replicated store (zactor node --data-dir)"
            ) from None
        self._registers: FencedKeyspace = store.fenced(STATE_PREFIX + self.kind)
        self._now_s = ctx.node.time_source.monotonic_s
        row = await self._registers.load(self.key, self.term, self._now_s())
        self._seq = row.seq
        self._saved = row.value
        self.state = self.initial_state() if row.value is None else self._decode(row.value)
        await super().on_start(ctx)

    async def save(self) -> None:
        """Write ``state`` at a quorum under this activation's term (nothing is sent when it did not change).

        Raises:
            StaleTerm: a newer activation of the key exists (this one must stop; the guard stops it).
            NotEnoughNodes, ConsistencyFailure: no quorum took the write (it may still surface later, ordered
                below any newer activation's writes).
            TypeError: ``state`` does not encode.
        """
        _, body, _ = encode_body(self.state, sys.maxsize)
        if body == self._saved:
            return
        seq = next_seq(self._seq, self._now_s())
        try:
            await self._registers.write(self.key, self.term, seq, body)
        except BaseException:
            self.restore()
            raise
        self._seq, self._saved = seq, body

    def restore(self) -> None:
        """Put ``state`` back as last saved (or loaded)."""
        self.state = self.initial_state() if self._saved is None else self._decode(self._saved)

    def _decode(self, body: bytes) -> S:
        return typing.cast(S, decode_body(type_name_of(self.state_type), body))


def _saving(actor: DurableActor[Any], method: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """``method`` (``async def`` or ``def``) followed by ``actor.save()`` when ``autosave`` is on: the reply waits for
    the state's write."""

    @functools.wraps(method)
    async def run(msg: Any, ctx: Context) -> Any:
        try:
            result = method(msg, ctx)
            if inspect.isawaitable(result):
                result = await result
        except BaseException:
            if actor.autosave:
                actor.restore()
            raise
        if actor.autosave:
            await actor.save()
        return result

    return run
