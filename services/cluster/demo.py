"""``zactor demo``: all of zactor on real data, in one command.

1. a 3-node local cluster in 3 processes (two data centers), each with its own SQLite file; the member table;
2. a custom actor added at runtime on one node and called from another through membership lookup;
3. every ``.py`` file of this Python's standard library written into the replicated store with QUORUM;
4. one node SIGKILLed while writes go on (and some keys deleted); when the others declared it dead;
5. the node restarted; anti-entropy catching it up;
6. every node checked byte for byte (SHA-256 against the files on disk), deleted keys gone everywhere, and a summary.

Exits 0 when every node holds exactly the expected data, 1 naming what diverged.
"""

from __future__ import annotations

from zactor.actor import Actor, Context, handler
from zactor.transport.codec import Returns, message

__all__ = ["Calculator", "Add", "Result"]


@message("zactor.demo.Add")
class Add(Returns["Result"]):
    """Ask for ``a + b``."""

    a: float
    b: float


@message("zactor.demo.Result")
class Result:
    """The answer of a calculation."""

    value: float


class Calculator(Actor):
    """Adds two numbers: the actor ``zactor demo`` adds to a running node
    (``zactor.services.cluster.demo:Calculator``)."""

    @handler
    async def add(self, msg: Add, ctx: Context) -> Result:
        return Result(value=msg.a + msg.b)
