"""The ``zactor.observer`` actor of every cluster node: its load, for ``zactor top`` and dashboards.

It answers :class:`GetNodeStats` from counters the node keeps anyway (per actor: messages handled, failures,
mailbox depth; envelopes in and out; documents in the replicated store), so asking costs the node almost nothing.
"""

from __future__ import annotations

import asyncio
import time

import attrs

from zactor.actor import Actor, Context, handler
from zactor.config import NodeConfig
from zactor.errors import ActorError
from zactor.node import Node
from zactor.services.cluster.local_cluster import fetch_members
from zactor.services.membership.messages import MemberRows
from zactor.services.replication import ReplicatedStore
from zactor.services.replication.frontend import KV_ACTOR
from zactor.services.replication.replica import RESERVED_PREFIX
from zactor.services.virtual import VirtualActors
from zactor.transport.codec import Returns, message

__all__ = [
    "GONE",
    "OBSERVER_ACTOR",
    "ClusterLoad",
    "GetNodeStats",
    "LoadSample",
    "NodeStats",
    "ObserverActor",
    "replica_note",
    "restarts_of",
    "supervision_note",
    "with_replica_set",
]

OBSERVER_ACTOR = "zactor.observer"


@message("zactor.observer.GetNodeStats")
class GetNodeStats(Returns["NodeStats"]):
    """Ask a node for its load."""


@message("zactor.observer.NodeStats")
class NodeStats:
    """A node's load now.

    Attributes:
        node_id: the answering node.
        actors: ``{actor name: (messages handled, failures, mailbox depth)}``.
        envelopes_in: envelopes received since start. envelopes_out: envelopes sent since start.
        store_documents: live documents in its replicated store, or -1 without a store.
        fetched: documents its anti-entropy has fetched from other replicas since start (catch-up progress).
        replica_set: the node ids of its store's replica set, dead members included (empty without a store).
        supervised: ``{actor name: (restarts, restarts its budget allows now, last error as "Type: message")}`` for
            each actor added with a restart policy.
        terminations: actors that terminated since start, by reason (``"gave_up"``, ``"removed"``, ...).
        virtual: ``{kind: (shards it leads, keys active, keys being activated)}`` for each virtual kind it hosts.
    """

    node_id: str
    actors: dict[str, tuple[int, int, int]]
    envelopes_in: int
    envelopes_out: int
    store_documents: int
    fetched: int
    replica_set: list[str]
    supervised: dict[str, tuple[int, int, str]] = attrs.field(factory=dict)
    terminations: dict[str, int] = attrs.field(factory=dict)
    virtual: dict[str, tuple[int, int, int]] = attrs.field(factory=dict)


class ObserverActor(Actor):
    """Answers :class:`GetNodeStats` (see the module docstring)."""

    max_concurrency = 4

    @handler
    async def stats(self, msg: GetNodeStats, ctx: Context) -> NodeStats:
        node = ctx.node
        actors: dict[str, tuple[int, int, int]] = {}
        supervised: dict[str, tuple[int, int, str]] = {}
        registry = node.registry
        for name in node.actors():
            mailbox = registry.get(name)
            if mailbox is not None:
                handled = mailbox.stats.asks + mailbox.stats.tells
                actors[name] = (handled, mailbox.stats.failures, len(mailbox))
            supervisor = registry.supervisor(name)
            if supervisor is not None:
                supervised[name] = (supervisor.restarts, supervisor.budget_left(), supervisor.last_error)
        documents, fetched, replica_set = -1, 0, []
        try:
            store = node.extension(ReplicatedStore)
            replica = store.replica
        except (LookupError, RuntimeError):
            store = None
        if store is not None:
            keyspaces = [ks for ks in replica.keyspaces() if not ks.startswith(RESERVED_PREFIX)]
            documents = sum(len(replica.crdt(ks).entries) for ks in keyspaces)
            fetched = store.anti_entropy.stats["docs_fetched"] if store.anti_entropy is not None else 0
            replica_set = sorted(store.replica_set.members) if store.replica_set is not None else []
        transport = node.transport.stats
        return NodeStats(
            node_id=node.node_id,
            actors=actors,
            envelopes_in=transport["envelopes_in"],
            envelopes_out=transport["envelopes_out"],
            store_documents=documents,
            fetched=fetched,
            replica_set=replica_set,
            supervised=supervised,
            terminations=dict(registry.terminations),
            virtual=_virtual_summary(node),
        )


def restarts_of(stats: NodeStats | None) -> str:
    """A node's ``restarts`` cell: the restarts of its supervised actors since start (``-`` without any)."""
    if stats is None or not stats.supervised:
        return "-"
    return str(sum(restarts for restarts, _, _ in stats.supervised.values()))


def supervision_note(stats: dict[str, NodeStats]) -> str:
    """A line per supervised actor that has restarted: how often, the restarts its budget still allows, and its
    last error; then the actors each node saw give up or fail for good. Empty when there is nothing to say."""
    lines = []
    for node_id in sorted(stats):
        load = stats[node_id]
        for name, (restarts, left, error) in sorted(load.supervised.items()):
            if restarts:
                last = f"; last: {error}" if error else ""
                lines.append(f"{node_id}/{name}: {restarts} restarts, {left} more allowed now{last}")
        failed = {r: n for r, n in load.terminations.items() if r in ("gave_up", "failed")}
        if failed:
            lines.append(f"{node_id}: actors terminated " + ", ".join(f"{r} {n}" for r, n in sorted(failed.items())))
    return "\n".join(lines)


def _virtual_summary(node: Node) -> dict[str, tuple[int, int, int]]:
    try:
        return node.extension(VirtualActors).summary()
    except LookupError:
        return {}


GONE = "gone"
"""The status shown for a replica that membership has forgotten (dead longer than its grace) but that a store's
replica set still holds."""


def with_replica_set(table: MemberRows, stats: dict[str, NodeStats]) -> MemberRows:
    """``table`` with a row (status :data:`GONE`) for every member of a live node's replica set that the table no
    longer has: consistency levels still count it, so it must not vanish from view."""
    known = {row[0] for row in table.rows}
    gone = sorted({node_id for load in stats.values() for node_id in load.replica_set} - known)
    rows = [*table.rows, *((node_id, "-", "-", GONE, 0.0, [KV_ACTOR], 0) for node_id in gone)]
    return MemberRows(node_id=table.node_id, rows=rows, hlc=table.hlc)


def replica_note(table: MemberRows, seed: str) -> str:
    """A line naming the store's replicas that are not live (dead, or gone from the table), which consistency levels
    still count, and how to remove one for good; empty when every replica is live."""
    down = [f"{row[0]} ({row[3]})" for row in table.rows if row[3] != "live" and KV_ACTOR in row[5]]
    if not down:
        return ""
    return (
        f"replicas not live, still counted by consistency levels: {', '.join(down)}; "
        f"if one is gone for good: zactor kv remove-node NODE_ID --seed {seed}"
    )


@attrs.frozen
class LoadSample:
    """One look at the cluster: the seed's member table (with the replicas it forgot, see
    :func:`with_replica_set`), the load of each live member that answered, and the rates since the previous sample
    (``{node_id: (messages/s, envelopes in/s, anti-entropy documents/s)}``)."""

    table: MemberRows
    stats: dict[str, NodeStats]
    rates: dict[str, tuple[float, float, float]]


class ClusterLoad:
    """Samples a cluster's load through a client node, keeping what rates need between samples.

    Args:
        node: the started client node the asks go from.
        seed: any node of the cluster.
        client: the client's configuration (its keyring, for a secure cluster).
        timeout_s: the deadline of each query, in seconds.
    """

    def __init__(self, node: Node, seed: str, client: NodeConfig, timeout_s: float) -> None:
        self._node, self._seed, self._client, self._timeout_s = node, seed, client, timeout_s
        self._previous: dict[str, tuple[float, int, int, int]] = {}

    async def sample(self) -> LoadSample:
        """The member table and every live member's load, now.

        Raises:
            NodeUnavailable: the seed did not answer.
            ActorError: the seed refused (a handshake failure, for instance).
        """
        table = await fetch_members(self._seed, timeout_s=self._timeout_s, client=self._client)
        live = [row for row in table.rows if row[3] == "live"]
        answers = await asyncio.gather(*(self._load(row[1]) for row in live))
        now = time.monotonic()
        stats = {row[0]: load for row, load in zip(live, answers, strict=True) if load is not None}
        rates: dict[str, tuple[float, float, float]] = {}
        for node_id, load in stats.items():
            handled = sum(a[0] for a in load.actors.values())
            if node_id in self._previous:
                at, was_handled, was_in, was_fetched = self._previous[node_id]
                span = max(now - at, 1e-6)
                rates[node_id] = (
                    (handled - was_handled) / span,
                    (load.envelopes_in - was_in) / span,
                    (load.fetched - was_fetched) / span,
                )
            self._previous[node_id] = (now, handled, load.envelopes_in, load.fetched)
        return LoadSample(with_replica_set(table, stats), stats, rates)

    async def _load(self, address: str) -> NodeStats | None:
        try:
            return await self._node.ref(OBSERVER_ACTOR, address=address).ask(GetNodeStats(), timeout_s=self._timeout_s)
        except ActorError:
            return None
