"""A pytest plugin (registered as ``zactor`` under the ``pytest11`` entry point) with a ``local_cluster`` fixture.

``local_cluster`` starts a 3-node :class:`~zactor.services.cluster.LocalCluster` hosting
``zactor.services.cluster.demo:Calculator`` as ``calc`` on every node, yields it, and SIGKILLs every node afterwards,
even when the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zactor.services.cluster.local_cluster import LocalCluster


@pytest.fixture
def local_cluster() -> Iterator[LocalCluster]:
    """A started 3-node local cluster (two data centers), stopped by PID after the test."""
    with LocalCluster(
        3, data_centers=("dc1", "dc2"), actors={"calc": "zactor.services.cluster.demo:Calculator"}
    ) as cluster:
        yield cluster
