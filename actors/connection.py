"""One blocking client thread's connection to one node: its DEALER, the socket monitor, and what the monitor said.

The monitor tells whether the ZMTP handshake succeeded (what is sent from then on reaches the node), whether a
connection that was up closed (a waiting ask's node died, or stopped answering the heartbeat), and whether no
connection could be made at all (refused, or a failed security handshake). An ask that never reached a node is
:class:`NotDelivered`, and may go to another host of its actor.
"""

from __future__ import annotations

import zmq

from zactor.errors import NodeUnavailable
from zactor.transport.curve import MONITOR_EVENTS, handshake_failure, next_event

__all__ = ["EVENTS", "LINGER_MS", "Connection", "NotDelivered"]

LINGER_MS = 100
"""How long closing a connection may wait to flush what it queued (such as a CANCEL), in ms."""
EVENTS = MONITOR_EVENTS | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED
"""The monitor events a connection follows."""
_POLLIN = int(zmq.POLLIN)


class NotDelivered(Exception):
    """The ask never reached a node: it may go to another host of the actor. ``error`` is what to raise if there
    is none."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Connection:
    """One thread's DEALER to one node, its monitor, what the monitor said, and the receive timeout last set.

    Args:
        sock: the DEALER, connecting or connected to ``endpoint``.
        monitor: its monitor socket, following :data:`EVENTS`.
        endpoint: the node's endpoint.
    """

    __slots__ = ("sock", "monitor", "endpoint", "is_ready", "is_lost", "refused", "_wait_ms")

    def __init__(self, sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes], endpoint: str) -> None:
        self.sock = sock
        self.monitor = monitor
        self.endpoint = endpoint
        self.is_ready = False  # the handshake succeeded: what is sent now reaches the node
        self.is_lost = False  # a ready connection closed
        self.refused: Exception | None = None  # why no connection could be made
        self._wait_ms = -1

    def set_wait(self, wait_ms: int) -> None:
        """Make the next blocking receive wait at most ``wait_ms`` ms (an option set only when it changes)."""
        if wait_ms != self._wait_ms:
            self.sock.setsockopt(zmq.RCVTIMEO, wait_ms)
            self._wait_ms = wait_ms

    def read_events(self) -> None:
        """Take what the monitor reported: handshakes, disconnects, refused connections (an option read when
        nothing is waiting, the common case: 1.5 us where a failed receive costs 4)."""
        if not int(self.monitor.get(zmq.EVENTS)) & _POLLIN:
            return
        while (event := next_event(self.monitor)) is not None:
            kind = event[0]
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.is_ready, self.refused = True, None
            elif kind == zmq.EVENT_DISCONNECTED and self.is_ready:
                self.is_lost = True
            elif kind == zmq.EVENT_CONNECT_RETRIED and not self.is_ready and self.refused is None:
                self.refused = NodeUnavailable(self.endpoint, "the connection was refused (is a node running there?)")
            else:
                self.refused = handshake_failure(self.endpoint, kind) or self.refused

    def close(self, linger_ms: int) -> None:
        """Close the socket, flushing what it queued for up to ``linger_ms`` ms (0: dropped), and its monitor."""
        self.sock.disable_monitor()
        self.monitor.close(linger=0)
        self.sock.close(linger=linger_ms)
