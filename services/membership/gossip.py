"""The membership core: scuttlebutt gossip plus phi-accrual failure detection, without I/O (chitchat's design).

Rules (the protocol is explained in ``services/membership/ALGORITHM.md``):

- Each node gossips every ``gossip_interval_s``: it bumps its own heartbeat and sends a ``Syn`` to ``fanout`` random
  live peers, plus one dead peer with probability ``dead / (live + 1)`` (to notice a recovery), plus a seed when it
  knows fewer live peers than there are seeds or, otherwise, with probability ``seeds / (live + dead + 1)``.
- A peer is LIVE from the second time its heartbeat is seen to advance (a state heard second-hand may be stale),
  DEAD when its phi exceeds the threshold, LEFT when it announced a graceful leave; DEAD and LEFT states are forgotten
  after ``dead_grace_s``, with their ``(node_id, generation)`` and last heartbeat remembered: gossip carrying that
  heartbeat or an older one cannot bring them back, a newer heartbeat can (the node outlived a partition), as in
  chitchat.
- A higher generation of a node id replaces the lower one (a restart). Gossip about this node itself that claims
  more than it ever said (a newer generation, a higher heartbeat or version) is refuted, as SWIM/Lifeguard refute
  suspicion with a higher incarnation: this node moves to a generation above the claim, so its real state replaces
  the false one everywhere.
- A ``Syn``, ``SynAck`` or ``Ack`` from another cluster id is refused with ``ClusterMismatch``; nothing is merged.

Everything takes ``now_s`` (seconds, monotonic) and a ``random.Random``; the shell does the sending.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zactor.services.membership.detector import PhiAccrualDetector
from zactor.services.membership.messages import Ack, Syn, SynAck
from zactor.services.membership.model import EventKind, Member, MemberEvent, MembershipConfig, MemberStatus
from zactor.services.membership.state import DeltaEntry, NodeState, delta_for, digest_of, parse_delta, parse_digest

if TYPE_CHECKING:
    import random

__all__ = ["MembershipConfig", "Membership", "Member", "MemberStatus", "MemberEvent", "EventKind"]

log = logging.getLogger("zactor.membership")

KEY_ADDRESS = "address"
KEY_DC = "dc"
KEY_ACTORS = "actors"
KEY_STATUS = "status"
META_PREFIX = "meta."
_LEAVING = "leaving"


class Membership:
    """This node's view of the cluster, updated by gossip messages and the passage of time.

    Args:
        node_id: this node's id.
        generation: this incarnation's generation (e.g. start time in ms).
        address: this node's ROUTER endpoint.
        data_center: this node's data center.
        seeds: endpoints to gossip with until (and occasionally after) peers are known.
        config: gossip and detector settings.
        rng: the randomness for peer choice (seed it for deterministic tests).

    Attributes:
        events: membership changes not yet taken by the shell (``take_events``).
        stats: counters (``refuted``, ``stale_generation``, ``revived``, ``local_pauses``).
    """

    def __init__(
        self,
        node_id: str,
        generation: int,
        address: str,
        data_center: str,
        seeds: Sequence[str] = (),
        config: MembershipConfig | None = None,
        *,
        rng: random.Random,
    ) -> None:
        self.node_id = node_id
        self.address = address
        self.config = config or MembershipConfig()
        self.seeds: tuple[str, ...] = ()
        self.set_seeds(seeds)
        self._rng = rng
        self._self = NodeState((node_id, generation))
        self._self.set_own(KEY_ADDRESS, address)
        self._self.set_own(KEY_DC, data_center)
        self._states: dict[str, NodeState] = {node_id: self._self}
        self._detectors: dict[str, PhiAccrualDetector] = {}
        self._status: dict[str, MemberStatus] = {}
        self._since_s: dict[str, float] = {}
        self._forgotten: collections.OrderedDict[tuple[str, int], int] = collections.OrderedDict()
        self._last_tick_s: float | None = None
        self.events: list[MemberEvent] = []
        self.stats: collections.Counter[str] = collections.Counter()

    # ------------------------------------------------------------------------------------------ own state

    @property
    def generation(self) -> int:
        """This node's current generation (raised above any false claim about this node, see the module rules)."""
        return self._self.key[1]

    def set_seeds(self, seeds: Sequence[str]) -> None:
        """Replace the seed endpoints (this node's own address is left out)."""
        self.seeds = tuple(s for s in seeds if s != self.address)

    def set(self, key: str, value: str | list[str]) -> None:
        """Set one of this node's gossiped keys (``actors``, ``meta.*``, ...)."""
        self._self.set_own(key, value)

    def leave(self) -> list[tuple[str, Syn]]:
        """Announce a graceful leave; returns a Syn for every live peer (the shell completes those rounds)."""
        self._self.set_own(KEY_STATUS, _LEAVING)
        syn = self._syn()
        return [(address, syn) for address in self._addresses(MemberStatus.LIVE)]

    # ---------------------------------------------------------------------------------------------- rounds

    def tick(self, now_s: float) -> list[tuple[str, Syn]]:
        """One gossip round at ``now_s``: heartbeat, liveness and garbage collection, then the Syns to send.

        Returns:
            ``[(address, Syn), ...]`` for the chosen peers.
        """
        self._self.heartbeat += 1
        self._forgive_local_pause(now_s)
        self._update_liveness(now_s)
        syn = self._syn()
        return [(address, syn) for address in self._choose_targets()]

    def handle_syn(self, syn: Syn, now_s: float) -> SynAck:
        """Answer a peer's Syn.

        Raises:
            DecodeError: the digest's counters are impossible.
        """
        peer_digest = parse_digest(syn.digest)
        return SynAck(digest=digest_of(self._states.values()), delta=self._delta_for(peer_digest))

    def handle_synack(self, synack: SynAck, now_s: float) -> Ack:
        """Merge the delta of a SynAck and answer with what the peer lacks.

        Raises:
            DecodeError: the digest or delta is impossible (nothing of it is merged).
        """
        peer_digest = parse_digest(synack.digest)
        self._apply(synack.delta, now_s)
        return Ack(delta=self._delta_for(peer_digest))

    def handle_ack(self, ack: Ack, now_s: float) -> None:
        """Merge the delta of an Ack.

        Raises:
            DecodeError: the delta is impossible (nothing of it is merged).
        """
        self._apply(ack.delta, now_s)

    def take_events(self) -> list[MemberEvent]:
        """The membership changes since the last call, oldest first."""
        events, self.events = self.events, []
        return events

    # --------------------------------------------------------------------------------------------- views

    def members(self, now_s: float, *, include_down: bool = False) -> list[Member]:
        """This node and its LIVE peers (all known peers with ``include_down``), sorted by node id."""
        result = [self._member(self._self, MemberStatus.LIVE, 0.0)]
        for node_id, state in self._states.items():
            if node_id == self.node_id:
                continue
            status = self._status[node_id]
            if status is MemberStatus.LIVE or include_down:
                result.append(self._member(state, status, self._detectors[node_id].phi(now_s)))
        return sorted(result, key=lambda m: m.node_id)

    def status_of(self, node_id: str) -> MemberStatus | None:
        """What this node believes about ``node_id`` (LIVE for itself; ``None`` when unknown)."""
        if node_id == self.node_id:
            return MemberStatus.LIVE
        return self._status.get(node_id)

    def address_of(self, node_id: str) -> str | None:
        """The endpoint gossiped by ``node_id``, or ``None`` when unknown."""
        state = self._states.get(node_id)
        return None if state is None else state.get(KEY_ADDRESS)

    # ---------------------------------------------------------------------------------------- internals

    def _member(self, state: NodeState, status: MemberStatus, phi: float) -> Member:
        meta = {k[len(META_PREFIX) :]: v for k, (v, _) in state.kvs.items() if k.startswith(META_PREFIX)}
        return Member(
            node_id=state.key[0],
            generation=state.key[1],
            address=state.get(KEY_ADDRESS, ""),
            data_center=state.get(KEY_DC, ""),
            status=status,
            actors=tuple(state.get(KEY_ACTORS, ())),
            heartbeat=state.heartbeat,
            phi=phi,
            meta=meta,
        )

    def _syn(self) -> Syn:
        return Syn(digest=digest_of(self._states.values()))

    def _delta_for(self, peer_digest: dict[tuple[str, int], tuple[int, int]]) -> list[DeltaEntry]:
        return delta_for(self._states.values(), peer_digest, self.config.max_delta_bytes)

    def _addresses(self, status: MemberStatus) -> list[str]:
        return [
            self._states[node_id].get(KEY_ADDRESS)
            for node_id, s in self._status.items()
            if s is status and self._states[node_id].get(KEY_ADDRESS)
        ]

    def _choose_targets(self) -> list[str]:
        rng = self._rng
        live = sorted(self._addresses(MemberStatus.LIVE))
        dead = sorted(self._addresses(MemberStatus.DEAD))
        targets = rng.sample(live, min(self.config.fanout, len(live)))
        if dead and rng.random() < len(dead) / (len(live) + 1):
            targets.append(rng.choice(dead))
        seeds = [s for s in self.seeds if s not in targets]
        if seeds and (len(live) < len(self.seeds) or rng.random() < len(self.seeds) / (len(live) + len(dead) + 1)):
            targets.append(rng.choice(seeds))
        return targets

    def _apply(self, delta: list[DeltaEntry], now_s: float) -> None:
        for (node_id, generation), heartbeat, entries in parse_delta(delta):
            if node_id == self.node_id:
                self._about_myself(generation, heartbeat, entries)
                continue
            forgotten_heartbeat = self._forgotten.get((node_id, generation))
            if forgotten_heartbeat is not None:
                if heartbeat <= forgotten_heartbeat:
                    continue
                del self._forgotten[(node_id, generation)]
                self.stats["revived"] += 1
            state = self._states.get(node_id)
            if state is not None and state.key[1] > generation:
                self.stats["stale_generation"] += 1
                continue
            is_new = state is None or state.key[1] < generation
            if state is None or is_new:
                state = self._replace(node_id, generation, now_s)
            advanced, _ = state.apply(heartbeat, entries)
            status = self._status[node_id]
            if state.get(KEY_STATUS) == _LEAVING:
                if status is not MemberStatus.LEFT:
                    self._set_status(
                        node_id, MemberStatus.LEFT, now_s, EventKind.LEFT if status is MemberStatus.LIVE else None
                    )
            elif advanced and not is_new:
                self._detectors[node_id].heartbeat(now_s)
                if status is not MemberStatus.LIVE:
                    self._set_status(node_id, MemberStatus.LIVE, now_s, EventKind.JOINED)

    def _about_myself(self, generation: int, heartbeat: int, entries: list[tuple[str, Any, int]]) -> None:
        mine = self._self
        my_generation = mine.key[1]
        if generation < my_generation:
            return
        if generation == my_generation and heartbeat <= mine.heartbeat:
            if all(version <= mine.max_version for _, _, version in entries):
                return
        new_generation = max(generation, my_generation) + 1
        self.stats["refuted"] += 1
        log.warning(
            "gossip claims a state of this node (%r generation %d, heartbeat %d) it never had; refuting it with "
            "generation %d (if another process runs with this node id, stop one of them)",
            self.node_id,
            generation,
            heartbeat,
            new_generation,
        )
        refuted = NodeState((self.node_id, new_generation))
        refuted.heartbeat = mine.heartbeat
        for key, (value, _version) in sorted(mine.kvs.items(), key=lambda item: item[1][1]):
            refuted.set_own(key, value)
        self._self = refuted
        self._states[self.node_id] = refuted

    def _replace(self, node_id: str, generation: int, now_s: float) -> NodeState:
        old = self._states.get(node_id)
        if old is not None:
            self._remember_forgotten(old.key, old.heartbeat)
        state = NodeState((node_id, generation))
        self._states[node_id] = state
        self._detectors[node_id] = PhiAccrualDetector(self.config.detector, now_s)
        if self._status.get(node_id) is not MemberStatus.LIVE:
            self._status[node_id] = MemberStatus.JOINING
            self._since_s[node_id] = now_s
        return state

    def _set_status(self, node_id: str, status: MemberStatus, now_s: float, event: EventKind | None) -> None:
        self._status[node_id] = status
        self._since_s[node_id] = now_s
        if event is not None:
            address = self._states[node_id].get(KEY_ADDRESS, "")
            self.events.append(MemberEvent(event, node_id, address, now_s))
            log.info("member %r %s (%s)", node_id, event.value, address)

    def _forgive_local_pause(self, now_s: float) -> None:
        last, self._last_tick_s = self._last_tick_s, now_s
        if last is None or now_s - last <= self.config.max_local_pause_s:
            return
        paused_s = now_s - last - self.config.gossip_interval_s
        self.stats["local_pauses"] += 1
        log.warning(
            "this node was paused for %.1f s; its peers' silence in that time is not held against them", paused_s
        )
        for detector in self._detectors.values():
            detector.shift(paused_s)

    def _update_liveness(self, now_s: float) -> None:
        for node_id, status in list(self._status.items()):
            if status is MemberStatus.LIVE or status is MemberStatus.JOINING:
                if not self._detectors[node_id].is_alive(now_s):
                    was_live = status is MemberStatus.LIVE
                    self._set_status(node_id, MemberStatus.DEAD, now_s, EventKind.DEAD if was_live else None)
            elif now_s - self._since_s[node_id] > self.config.dead_grace_s:
                state = self._states[node_id]
                self._remember_forgotten(state.key, state.heartbeat)
                del self._states[node_id], self._detectors[node_id], self._status[node_id], self._since_s[node_id]

    def _remember_forgotten(self, key: tuple[str, int], heartbeat: int) -> None:
        self._forgotten[key] = heartbeat
        while len(self._forgotten) > self.config.remembered_gc_nodes:
            self._forgotten.popitem(last=False)
