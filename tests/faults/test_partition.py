"""A real network partition: three node processes in their own network namespaces on one bridge, one link taken
down. The minority side acknowledges no QUORUM write, the majority goes on, and after healing every node holds every
acknowledged write."""

from __future__ import annotations

from pathlib import Path

import pytest

from zactor.services.cluster.netns import unavailable_reason
from zactor.services.cluster.scenarios import isolate_one_of_three

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(180),
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


async def test_a_partitioned_minority_acknowledges_nothing_and_the_cluster_heals(tmp_path: Path) -> None:
    """node0's link down for 8 s: QUORUM writes through node0 get no acknowledgement, writes through node1 and
    node2 go on; after the link is back the three see each other and hold every acknowledged write."""
    args = ("--cluster-id", "part", "--replication-factor", "3", "--anti-entropy-interval", "0.5")
    outcome = await isolate_one_of_three(tmp_path, args, keyspace="part")
    assert outcome.minority_issued > 0 and outcome.minority_acked == []
    assert outcome.majority_acked_during > 50, "the majority side went on"
    assert not any(outcome.missing.values()), outcome.missing
