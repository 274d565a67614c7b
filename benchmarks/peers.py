"""The comparison zactor is judged on, in one command: raw pyzmq, zactor (asyncio caller and blocking client) and
Pyro5 with its msgpack serializer, on sequential and pipelined 16-byte calls, in the same run.

Needs the ``bench`` extra (``pip install -e '.[bench]'``: Pyro5). Usage: ``python benchmarks/peers.py [--seconds S]
[--repeat N]``; the same as ``zactor bench --peers --no-large``.
"""

from __future__ import annotations

import sys

from zactor.services.cluster.cli_bench import main

if __name__ == "__main__":
    sys.exit(main(["--peers", "--no-large", *sys.argv[1:]]))
