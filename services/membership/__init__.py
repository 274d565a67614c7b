"""Cluster membership: scuttlebutt gossip with phi-accrual failure detection (chitchat's design).

The sans-I/O core is :class:`~zactor.services.membership.gossip.Membership`; :class:`MembershipService` is the extension
that runs it on a node; :class:`~zactor.services.membership.simulation.Simulation` runs many cores on simulated time.
"""
