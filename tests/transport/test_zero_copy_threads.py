"""Threads whose first zero-copy frames are made at once share pyzmq's one garbage-collection PUSH socket.

pyzmq makes that socket lazily and without a lock; when two threads each made one, frames naming the discarded socket
hung the process (the blocking client's thread test hung a CI run). Each run is a fresh process, since the socket is
made once per process; 8 threads switching every microsecond made two sockets in about 2 of 5 runs before
``prepare_zero_copy``."""

from __future__ import annotations

import subprocess
import sys

import pytest

_SCRIPT = """
import sys, threading, zmq
from zactor.transport.zerocopy import prepare_zero_copy
made = []
make = zmq.Context.socket
def counting(self, kind, *args, **kwargs):
    if kind == zmq.PUSH:
        made.append(kind)
    return make(self, kind, *args, **kwargs)
zmq.Context.socket = counting
prepare_zero_copy()
prepare_zero_copy()
sys.setswitchinterval(1e-6)
barrier = threading.Barrier(8)
def first_frame():
    barrier.wait()
    zmq.Frame(b"x" * 1000, copy=False)
threads = [threading.Thread(target=first_frame) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(made))
"""


def _push_sockets_made() -> int:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.fault
def test_threads_racing_to_their_first_zero_copy_frame_share_one_gc_socket() -> None:
    """After ``prepare_zero_copy`` (twice), 8 threads making their first zero-copy frames at once make no socket."""
    assert [_push_sockets_made() for _ in range(8)] == [1] * 8
