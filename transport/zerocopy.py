"""Zero-copy sends from many threads: make pyzmq's shared machinery for them once, before threads race to make it.

A frame sent with ``copy=False`` lends its buffer to libzmq, which hands it back when done through one PUSH socket to
pyzmq's garbage-collection thread, sends on it under one mutex. pyzmq (27.x) makes the thread, the socket and the
mutex on the first zero-copy frame, and the socket and the mutex without a lock: two threads whose first zero-copy
frames are made at once may each make a socket (one is then closed while frames still name it) or a mutex (two
libzmq I/O threads then send on one socket at once). Either can hang the process: 5 of 30 runs of 8 threads sending
100 KB frames hung within 20 s. Making one zero-copy frame first, under a lock, leaves nothing for threads to race on.
"""

from __future__ import annotations

import os
import threading

import zmq

__all__ = ["prepare_zero_copy"]

_lock = threading.Lock()
_ready_in: int | None = None  # the process (pid) in which it was made: a forked child makes its own


def prepare_zero_copy() -> None:
    """Make pyzmq's zero-copy garbage collector, its PUSH socket and its mutex, unless this process has them.

    Call before more than one thread may send with ``copy=False``; cheap after the first call (one lock).
    Thread-safe and idempotent.
    """
    global _ready_in
    with _lock:
        if _ready_in != os.getpid():
            zmq.Frame(b"\0", copy=False)
            _ready_in = os.getpid()
