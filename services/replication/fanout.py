"""Fan-out of one replicated operation: send to every live replica at once, succeed at the required count.

Each replica is asked in its own task; the caller waits until the acknowledgements (the local write counted by the
caller beforehand) satisfy the :class:`~zactor.services.selector.AckCounter`, or every replica has answered, or the
deadline passes. Replicas still answering when the requirement is met keep going in the background, so a write still
reaches every live replica; only the caller stops waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from zactor.errors import ActorError, ActorNotFound
from zactor.services.membership.model import Member
from zactor.services.replication.handlers import REPLICATION_ACTOR
from zactor.services.replication.messages import HostsStore
from zactor.services.replication.replica_set import ReplicaSet
from zactor.services.selector.policy import AckCounter, NotEnoughNodes

if TYPE_CHECKING:
    from zactor import Node

__all__ = ["ConsistencyFailure", "Sends", "send_each", "await_acks", "learn_hosts"]

log = logging.getLogger("zactor.replication")

Sends = list[tuple[str, "asyncio.Task[Any]"]]
"""``[(node_id, task), ...]``: one ask per replica; a task's result is the reply, or ``None`` when it failed."""

_running: set[asyncio.Task[Any]] = set()


class ConsistencyFailure(ActorError):
    """Fewer replicas acknowledged than the consistency level requires before the deadline (the local write stays,
    and anti-entropy spreads it later).

    Attributes:
        acked: how many replicas acknowledged, this node's own write included.
        required: how many the level required.
    """

    def __init__(self, acked: int, required: int) -> None:
        super().__init__(f"{acked} of {required} required replicas acknowledged")
        self.acked = acked
        self.required = required


def send_each(
    node: Node, address_of: Callable[[str], str], node_ids: Sequence[str], msg: Any, timeout_s: float
) -> Sends:
    """Ask the replication actor of each of ``node_ids`` (found at ``address_of(node_id)``, which raises
    ``NodeUnavailable`` for a node that is not live) with ``msg``, all at once, each with a ``timeout_s`` deadline.

    Returns:
        The :data:`Sends`; a task never raises (a failed ask gives ``None`` and is logged at DEBUG).
    """

    async def ask(node_id: str) -> Any:
        try:
            ref = node.ref(REPLICATION_ACTOR, address=address_of(node_id))
            reply = await ref.ask(msg, timeout_s=timeout_s)
        except ActorError as exc:
            log.debug("replica %s did not acknowledge: %s", node_id, exc)
            return None
        return True if reply is None else reply

    sends = []
    for node_id in node_ids:
        task = asyncio.ensure_future(ask(node_id))
        _running.add(task)
        task.add_done_callback(_running.discard)
        sends.append((node_id, task))
    return sends


async def await_acks(
    sends: Sends, counter: AckCounter, timeout_s: float, check: Callable[[Any], None] | None = None
) -> dict[str, Any]:
    """Wait until ``counter`` is satisfied by the replies of ``sends``; ``check``, when given, sees each reply
    before it counts and may raise to end the wait (a replica that refused).

    Returns:
        ``{node_id: reply}`` of the replicas that answered while waiting.

    Raises:
        ConsistencyFailure: every replica answered or ``timeout_s`` seconds passed, and the requirement is not met.
        Exception: what ``check`` raised for a reply.
    """
    replies: dict[str, Any] = {}
    by_task = {task: node_id for node_id, task in sends}
    pending = set(by_task)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not counter.is_satisfied and pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        done, pending = await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            reply = task.result()
            if reply is not None:
                if check is not None:
                    check(reply)
                replies[by_task[task]] = reply
                counter.add(by_task[task])
    if not counter.is_satisfied:
        raise ConsistencyFailure(counter.acked, counter.required.needed)
    return replies


async def learn_hosts(
    node: Node, replica_set: ReplicaSet, members: Sequence[Member], not_hosting_s: float, timeout_s: float
) -> None:
    """Ask the live members that gossip does not show hosting the store whether they do (a :class:`HostsStore` to
    each, at once, within ``timeout_s`` seconds), so that a level is counted over every live host (see
    :mod:`~zactor.services.replication.replica_set`). A host joins ``replica_set``; a member without a replication
    actor is not asked again for ``not_hosting_s`` seconds.

    Raises:
        NotEnoughNodes: a member did not answer, so the replica set is not known.
    """
    now_s = node.time_source.monotonic_s()
    unknown = replica_set.unknown(members, now_s)
    if not unknown:
        return
    probe = HostsStore()
    answers = await asyncio.gather(
        *(node.ref(REPLICATION_ACTOR, address=m.address).ask(probe, timeout_s=timeout_s) for m in unknown),
        return_exceptions=True,
    )
    unanswered = []
    for member, answer in zip(unknown, answers, strict=True):
        if answer is None:
            await replica_set.confirm(member)
        elif isinstance(answer, ActorNotFound):
            replica_set.not_hosting(member, now_s + not_hosting_s)
        else:
            unanswered.append(f"{member.node_id} ({answer})")
    if unanswered:
        live = len(replica_set.live(members))
        reason = f"could not learn whether these members host the store: {', '.join(unanswered)}"
        raise NotEnoughNodes(live, live + len(unanswered), reason)
