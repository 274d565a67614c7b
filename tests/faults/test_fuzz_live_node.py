"""A live node process survives hostile frames: no crash, real asks answered, memory flat."""

from __future__ import annotations

from pathlib import Path

import pytest

from zactor import Node, NodeConfig
from zactor.services.clock import CLOCK_ACTOR, GetTime, Time
from zactor.services.cluster.process import NodeProcess, rss_mib
from zactor.transport.fuzzing import fuzz_node

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]


async def test_a_live_node_survives_hostile_frames(tmp_path: Path) -> None:
    """20,000 hostile envelopes (garbage, bad headers, deep nesting, forged clocks) at a node running every service:
    it answers a real ask after every 2,000, is alive at the end, grows by less than 20 MiB, and logs at a bounded
    rate."""
    log_path = tmp_path / "fuzzed.log"
    args = ("--data-dir", str(tmp_path), "--cluster-id", "fuzz")
    with NodeProcess("fuzzed", extra_args=args, log_path=log_path) as proc:
        async with Node(NodeConfig(node_id="prober")) as client:
            clock = client.ref(CLOCK_ACTOR, address=proc.address)

            async def probe() -> None:
                assert isinstance(await clock.ask(GetTime(), timeout_s=5.0), Time)

            await fuzz_node(proc.address, seed=1, count=2_000, probe=probe)
            before = rss_mib(proc.pid)
            answered = await fuzz_node(proc.address, seed=2, count=20_000, probe=probe, probe_every=2_000)
            grown = rss_mib(proc.pid) - before
        assert proc.is_alive()
        assert answered > 1_000, "requests with a known id are answered with ERROR envelopes"
        assert grown < 20, f"the node grew by {grown:.1f} MiB"
        assert log_path.stat().st_size < 1024 * 1024, "refusals are logged at a bounded rate"
