"""A deterministic simulator of many membership cores, for tests and ``benchmarks/gossip_sim.py``.

Time is simulated (``now_s`` advances one gossip interval per :meth:`Simulation.step`, and each node gossips at its
own phase within the interval, jittered by 10% per round as the real gossip loop is, so heartbeats reach a node
directly and relayed at different moments); every message is encoded and
decoded with the real codec (so byte counts are real); links can be cut (partitions) and a fraction of messages
dropped, chosen by a seeded ``random.Random``. Thousands of nodes fit in one process because no socket or event
loop is involved, in chitchat's scenario-test style.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable, Iterable
from typing import Any

from zactor.errors import ClusterMismatch, DecodeError
from zactor.services.membership.gossip import Membership, MembershipConfig, MemberStatus
from zactor.transport.codec import decode_body, encode_body

__all__ = ["Simulation"]


class Simulation:
    """Membership cores wired by a simulated network.

    Args:
        seed: seeds every random choice (peer picks, message loss), so a run is reproducible.
        config: gossip settings shared by the nodes.
        loss_rate: the fraction of messages dropped (0.0 to 1.0).

    Attributes:
        now_s: simulated time in seconds.
        bytes_sent: bytes of encoded messages sent, by sender address.
        messages_sent: messages sent, by sender address.
    """

    def __init__(self, seed: int = 0, config: MembershipConfig | None = None, loss_rate: float = 0.0) -> None:
        self.config = config or MembershipConfig()
        self.loss_rate = loss_rate
        self.now_s = 0.0
        self._rng = random.Random(seed)
        self.nodes: dict[str, Membership] = {}
        self._running: set[str] = set()
        self._phase: dict[str, float] = {}
        self._cut: set[frozenset[str]] = set()
        self.bytes_sent: collections.Counter[str] = collections.Counter()
        self.messages_sent: collections.Counter[str] = collections.Counter()
        self.refused: collections.Counter[str] = collections.Counter()
        self.clusters: dict[str, str] = {}

    @staticmethod
    def address(node_id: str) -> str:
        """The simulated endpoint of ``node_id``."""
        return f"sim://{node_id}"

    def add_node(
        self, node_id: str, seeds: Iterable[str] = (), *, data_center: str = "dc1", cluster_id: str = "sim"
    ) -> Membership:
        """Start a node (a new generation when ``node_id`` ran before) gossiping with ``seeds`` (node ids); a node
        refuses a round opened by one of another ``cluster_id``, as a node refuses its envelope."""
        previous = self.nodes.get(node_id)
        generation = previous._self.key[1] + 1 if previous is not None else 1
        core = Membership(
            node_id,
            generation,
            self.address(node_id),
            data_center,
            [self.address(s) for s in seeds],
            self.config,
            rng=random.Random(self._rng.random()),
        )
        self.nodes[node_id] = core
        self.clusters[node_id] = cluster_id
        self._running.add(node_id)
        self._phase[node_id] = self._rng.uniform(0.1, 0.9)
        return core

    def kill(self, node_id: str) -> None:
        """Stop ``node_id`` at once: it neither gossips nor answers any more."""
        self._running.discard(node_id)

    def leave(self, node_id: str) -> None:
        """Stop ``node_id`` gracefully: it announces its leave to every live peer, then stops."""
        for address, syn in self.nodes[node_id].leave():
            self._round(node_id, address, syn)
        self.kill(node_id)

    def partition(self, side_a: Iterable[str], side_b: Iterable[str]) -> None:
        """Cut every link between the two groups of node ids."""
        for a in side_a:
            for b in side_b:
                self._cut.add(frozenset((a, b)))

    def heal(self) -> None:
        """Restore every cut link."""
        self._cut.clear()

    def step(self) -> None:
        """Advance one gossip interval: every running node ticks, at its own jittered phase of the interval, and
        completes its gossip rounds (each round is instantaneous)."""
        interval = self.config.gossip_interval_s
        start = self.now_s
        times = sorted(
            (start + interval * (self._phase[n] + self._rng.uniform(-0.1, 0.1)), n) for n in sorted(self._running)
        )
        for at_s, node_id in times:
            if node_id in self._running:
                self.now_s = at_s
                for address, syn in self.nodes[node_id].tick(at_s):
                    self._round(node_id, address, syn)
        self.now_s = start + interval

    def run_until(self, condition: Callable[[], bool], max_s: float) -> float:
        """Step until ``condition()`` holds; returns the simulated seconds it took.

        Raises:
            AssertionError: it did not hold within ``max_s`` simulated seconds.
        """
        start = self.now_s
        while not condition():
            if self.now_s - start > max_s:
                raise AssertionError(f"condition not reached within {max_s} simulated seconds")
            self.step()
        return self.now_s - start

    def run_for(self, seconds: float) -> None:
        """Step for ``seconds`` simulated seconds."""
        end = self.now_s + seconds
        while self.now_s < end:
            self.step()

    def sees(self, observer: str, node_id: str, status: MemberStatus) -> bool:
        """True when ``observer`` believes ``node_id`` has ``status``."""
        return self.nodes[observer].status_of(node_id) is status

    def all_see(self, node_ids: Iterable[str], status: MemberStatus, observers: Iterable[str] | None = None) -> bool:
        """True when every running observer (or each of ``observers``) sees every one of ``node_ids`` at ``status``."""
        targets = list(node_ids)
        watching = self._running if observers is None else observers
        return all(self.sees(o, n, status) for o in watching for n in targets if n != o)

    # ------------------------------------------------------------------------------------------------ wire

    def _deliver(self, src: str, dst: str, msg: Any) -> Any | None:
        """Encode ``msg`` as on the wire and decode it at ``dst``; ``None`` when the link loses it."""
        type_name, body, _ = encode_body(msg)
        self.bytes_sent[src] += len(body) + len(type_name)
        self.messages_sent[src] += 1
        if dst not in self._running or frozenset((src, dst)) in self._cut:
            return None
        if self.loss_rate and self._rng.random() < self.loss_rate:
            return None
        return decode_body(type_name, body)

    def _round(self, src: str, address: str, syn: Any) -> None:
        dst = address.removeprefix("sim://")
        if dst not in self.nodes:
            return
        received = self._deliver(src, dst, syn)
        if received is None:
            return
        try:
            if self.clusters[src] != self.clusters[dst]:
                raise ClusterMismatch(self.clusters[dst], self.clusters[src])
            synack = self.nodes[dst].handle_syn(received, self.now_s)
        except (ClusterMismatch, DecodeError):
            self.refused[dst] += 1
            return
        received = self._deliver(dst, src, synack)
        if received is None:
            return
        ack = self.nodes[src].handle_synack(received, self.now_s)
        received = self._deliver(src, dst, ack)
        if received is not None:
            self.nodes[dst].handle_ack(received, self.now_s)
