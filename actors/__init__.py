"""zactor actors: typed RPC actors hosted by nodes that talk over ZeroMQ.

Public names: :func:`message`, :class:`Actor`, :func:`handler`, :class:`Context`, :class:`Node`,
:class:`NodeConfig`, :class:`ActorRef`; errors live in :mod:`actors.errors`.
"""

from actors.actor import Actor, Context, handler
from actors.config import NodeConfig
from actors.node import Node
from actors.ref import ActorRef
from actors.registry import Registry
from transport.codec import message

__all__ = ["Actor", "ActorRef", "Context", "Node", "NodeConfig", "Registry", "handler", "message"]
