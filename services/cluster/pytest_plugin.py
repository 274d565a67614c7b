"""A pytest plugin (registered as ``zactor`` under the ``pytest11`` entry point) with local-cluster fixtures, and local
asks through encode and decode.

``local_cluster_factory`` is a function that starts a :class:`~zactor.services.cluster.LocalCluster` with any of
its arguments (size, actors, data centers, ``data_dir`` for the store, ``secure``), as dask's ``gen_cluster`` does;
every cluster it started is SIGKILLed after the test, even when the test fails, and the node logs stay in the
test's ``tmp_path`` (pytest keeps the last runs' directories). ``local_cluster`` is the common case: 3 nodes in two
data centers hosting ``zactor.services.cluster.demo:Calculator`` as ``calc``.

The ini option ``zactor_serialize_local = true`` makes every node the tests start (in the test process or in the
processes it starts) default to ``NodeConfig.serialize_local``: local asks, their replies and local tells are encoded
and decoded as remote ones are (Akka's ``serialize-messages``). The ``serialize_local`` fixture does it for one test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from zactor.config import SERIALIZE_LOCAL_ENV
from zactor.services.cluster.local_cluster import LocalCluster

__all__ = ["local_cluster", "local_cluster_factory", "serialize_local"]

_INI = "zactor_serialize_local"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(_INI, "nodes send local asks through encode and decode (NodeConfig.serialize_local)", type="bool")


def pytest_configure(config: pytest.Config) -> None:
    if config.getini(_INI):
        os.environ[SERIALIZE_LOCAL_ENV] = "1"


@pytest.fixture
def serialize_local(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nodes made during the test (without an explicit ``serialize_local=``) encode and decode their local asks."""
    monkeypatch.setenv(SERIALIZE_LOCAL_ENV, "1")
    yield


@pytest.fixture
def local_cluster_factory(tmp_path: Path) -> Iterator[Callable[..., LocalCluster]]:
    """``local_cluster_factory(n=3, **LocalCluster arguments)`` starts a cluster; all are stopped by PID after the
    test."""
    clusters: list[LocalCluster] = []

    def start(n: int = 3, **kwargs: Any) -> LocalCluster:
        kwargs.setdefault("log_dir", tmp_path / f"cluster{len(clusters)}")
        cluster = LocalCluster(n, **kwargs)
        clusters.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in clusters:
            cluster.close()


@pytest.fixture
def local_cluster(local_cluster_factory: Callable[..., LocalCluster]) -> LocalCluster:
    """A started 3-node local cluster (two data centers) hosting ``calc``, stopped by PID after the test."""
    return local_cluster_factory(
        3, data_centers=("dc1", "dc2"), actors={"calc": "zactor.services.cluster.demo:Calculator"}
    )
