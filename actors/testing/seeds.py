"""Reproducible randomness for tests: independent, named generators drawn from one seed."""

from __future__ import annotations

import hashlib
import random

__all__ = ["Seeds"]


class Seeds:
    """Named random generators derived from one seed, so a failing run is replayed from one number.

    Each name gets its own stream (a SHA-256 of the seed and the name), so adding a node or a component does not
    shift the numbers every other one draws::

        seeds = Seeds(42)
        network = InMemoryNetwork(seed=seeds.seed_for("network"))
        node = Node(config, transport=network.transport(), rng=seeds.rng("n0"))

    Args:
        seed: the run's seed (any int).

    Attributes:
        seed: as given.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def seed_for(self, name: str) -> int:
        """The 64-bit seed of the stream ``name``."""
        digest = hashlib.sha256(f"{self.seed}/{name}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def rng(self, name: str) -> random.Random:
        """A fresh ``random.Random`` on the stream ``name`` (the same name always starts the same sequence)."""
        return random.Random(self.seed_for(name))

    def __repr__(self) -> str:
        return f"Seeds({self.seed})"
