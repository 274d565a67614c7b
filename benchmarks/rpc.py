"""RPC benchmark: zactor asks against a raw pyzmq DEALER/ROUTER echo, measured in the same run.

The same as ``zactor bench`` (see ``zactor bench --help`` and :mod:`zactor.services.cluster.cli_bench`): sequential
16-byte asks, 100 pipelined, a 64 MiB round trip with peak RSS, from an asyncio caller and from the blocking client.

Usage: ``python benchmarks/rpc.py [--seconds S] [--repeat N] [--no-large] [--curve] [--peers]``.
"""

from __future__ import annotations

import sys

from zactor.services.cluster.cli_bench import main

if __name__ == "__main__":
    sys.exit(main())
