"""The application layer: a node composed with its cluster services, local clusters, the CLI and the demo.

:class:`ClusterNode` is a :class:`~zactor.node.Node` with the clock, membership and selector services as typed
handles; :class:`LocalCluster` runs N node processes on loopback. The ``zactor`` command is
:mod:`zactor.services.cluster.cli`, the pytest plugin :mod:`zactor.services.cluster.pytest_plugin`.
"""

from zactor.services.cluster.local_cluster import LocalCluster
from zactor.services.cluster.node import ClusterNode

__all__ = ["ClusterNode", "LocalCluster"]
