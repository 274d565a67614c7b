"""zactor actors: typed RPC actors hosted by nodes that talk over ZeroMQ.

Public names: :func:`message`, :class:`Actor`, :func:`handler`, :class:`Context`, :class:`Node`,
:class:`NodeConfig`, :class:`ActorRef`, :class:`LocalCluster`; errors live in :mod:`actors.errors`.
"""

from actors.actor import Actor, Context, handler
from actors.config import NodeConfig
from actors.node import Node
from actors.ref import ActorRef
from actors.registry import Registry
from transport.codec import message

__all__ = ["Actor", "ActorRef", "Context", "LocalCluster", "Node", "NodeConfig", "Registry", "handler", "message"]


def __getattr__(name: str) -> object:
    # LocalCluster drives the membership service, which itself imports this package: load it on first use.
    if name == "LocalCluster":
        from actors.local_cluster import LocalCluster

        return LocalCluster
    raise AttributeError(f"module 'actors' has no attribute {name!r}")
