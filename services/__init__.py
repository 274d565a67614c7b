"""zactor cluster services (clock, membership, selector, replication), each an actor on every node."""
