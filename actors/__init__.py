"""zactor: typed RPC actors hosted by nodes that talk over ZeroMQ.

Public names: :func:`message`, :class:`Returns`, :class:`Actor`, :func:`handler`, :class:`Context`, :class:`Sender`,
:class:`Node`, :class:`NodeConfig`, :class:`ActorRef`, :class:`RestartPolicy`, :class:`Restart`,
:class:`Terminated`, :class:`TerminationReason`, :class:`Extension`, :class:`TimeSource`, :class:`SystemTime`,
:func:`connect` (a blocking client), ``__version__``; errors live in :mod:`zactor.errors`, the transport in
:mod:`zactor.transport`, the cluster services in :mod:`zactor.services`, the node composed with them
(:class:`~zactor.services.cluster.ClusterNode`, :class:`~zactor.services.cluster.LocalCluster`) in
:mod:`zactor.services.cluster`, and test helpers (a fake clock, seeded randomness, the transport conformance
suite) in :mod:`zactor.testing`.
"""

from importlib.metadata import PackageNotFoundError, version

from zactor.actor import Actor, Context, Sender, handler
from zactor.client import BlockingClient, BlockingRef, connect
from zactor.config import NodeConfig
from zactor.deathwatch import Terminated, TerminationReason
from zactor.extensions import Extension
from zactor.loops import run
from zactor.node import Node
from zactor.ref import ActorRef
from zactor.registry import Registry
from zactor.supervision import Restart, RestartPolicy
from zactor.timesource import SystemTime, TimeSource
from zactor.transport.codec import Returns, Streams, message

__all__ = [
    "Actor",
    "ActorRef",
    "BlockingClient",
    "BlockingRef",
    "Context",
    "Extension",
    "Node",
    "NodeConfig",
    "Registry",
    "Restart",
    "RestartPolicy",
    "Returns",
    "Streams",
    "Sender",
    "SystemTime",
    "Terminated",
    "TerminationReason",
    "TimeSource",
    "__version__",
    "connect",
    "handler",
    "message",
    "run",
]

try:
    __version__ = version("zactor")
except PackageNotFoundError:  # imported from a source tree that was not installed
    __version__ = "0+unknown"
