"""Leaders of groups: Raft's election without the log, leases, and the term as fencing token.

``election = await node.add_extension(Election(group="db-0"))``; then ``election.leader``, ``election.term``,
``election.is_leader``, ``await election.wait_for_leader(timeout_s=5)``, ``async for change in election.watch()``,
``await election.resign()``. A resource guards itself from stale leaders with a :class:`Fence` fed with the terms of
the writes it receives.
"""

from zactor.services.election.core import GroupElection
from zactor.services.election.fence import Fence, StaleTerm
from zactor.services.election.model import ElectionConfig, LeaderChange, Role
from zactor.services.election.service import ELECTION_ACTOR, Election, NoLeader

__all__ = [
    "ELECTION_ACTOR",
    "Election",
    "ElectionConfig",
    "Fence",
    "GroupElection",
    "LeaderChange",
    "NoLeader",
    "Role",
    "StaleTerm",
]
