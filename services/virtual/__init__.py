"""Virtual actors: instances addressed by kind and key, activated on the node that leads the key's shard, moved when
it changes (see :mod:`zactor.services.virtual.model`)."""

from zactor.services.virtual.blocking import BlockingVirtualRef
from zactor.services.virtual.durable import DurableActor
from zactor.services.virtual.host import VirtualActors
from zactor.services.virtual.instance import VirtualActor
from zactor.services.virtual.model import NotOwner, Redirect, shard_of
from zactor.services.virtual.ref import VirtualRef

__all__ = [
    "BlockingVirtualRef",
    "DurableActor",
    "NotOwner",
    "Redirect",
    "VirtualActor",
    "VirtualActors",
    "VirtualRef",
    "shard_of",
]
