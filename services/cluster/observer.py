"""The ``zactor.observer`` actor of every cluster node: its load, for ``zactor top`` and dashboards.

It answers :class:`GetNodeStats` from counters the node keeps anyway (per actor: messages handled, failures,
mailbox depth; envelopes in and out; documents in the replicated store), so asking costs the node almost nothing.
"""

from __future__ import annotations

from typing import Any

from zactor.actor import Actor, Context, handler
from zactor.services.replication import ReplicatedStore
from zactor.services.replication.replica import RESERVED_PREFIX
from zactor.transport.codec import Returns, message

__all__ = ["OBSERVER_ACTOR", "GetNodeStats", "NodeStats", "ObserverActor"]

OBSERVER_ACTOR = "zactor.observer"


@message("zactor.observer.GetNodeStats")
class GetNodeStats(Returns["NodeStats"]):
    """Ask a node for its load."""


@message("zactor.observer.NodeStats")
class NodeStats:
    """A node's load now.

    Attributes:
        node_id: the answering node.
        actors: ``{actor name: [messages handled, failures, mailbox depth]}``.
        envelopes_in: envelopes received since start. envelopes_out: envelopes sent since start.
        store_documents: live documents in its replicated store, or -1 without a store.
    """

    node_id: str
    actors: dict[str, Any]
    envelopes_in: int
    envelopes_out: int
    store_documents: int


class ObserverActor(Actor):
    """Answers :class:`GetNodeStats` (see the module docstring)."""

    max_concurrency = 4

    @handler
    async def stats(self, msg: GetNodeStats, ctx: Context) -> NodeStats:
        node = ctx.node
        actors: dict[str, Any] = {}
        for name in node.actors():
            mailbox = node.registry.get(name)
            if mailbox is not None:
                handled = mailbox.stats.asks + mailbox.stats.tells
                actors[name] = [handled, mailbox.stats.failures, len(mailbox)]
        try:
            replica = node.extension(ReplicatedStore).replica
            keyspaces = [ks for ks in replica.keyspaces() if not ks.startswith(RESERVED_PREFIX)]
            documents = sum(len(replica.crdt(ks).entries) for ks in keyspaces)
        except (LookupError, RuntimeError):
            documents = -1
        transport = node.transport.stats
        return NodeStats(
            node_id=node.node_id,
            actors=actors,
            envelopes_in=transport["envelopes_in"],
            envelopes_out=transport["envelopes_out"],
            store_documents=documents,
        )
