"""Seed discovery: static endpoints, ``dns:NAME:PORT`` re-resolved, ``file:PATH`` re-read, custom schemes."""

from __future__ import annotations

from pathlib import Path

import pytest

from zactor import NodeConfig
from zactor.services.cluster import ClusterNode
from zactor.services.membership.discovery import (
    DnsSeeds,
    FileSeeds,
    SeedResolver,
    StaticSeed,
    parse_seed,
    register_scheme,
)
from zactor.services.membership.gossip import MembershipConfig
from zactor.services.membership.service import MembershipService
from zactor.testing import FakeClock, wait_until
from zactor.transport import InMemoryNetwork


def test_entries_name_their_source() -> None:
    assert isinstance(parse_seed("tcp://10.0.0.1:7000"), StaticSeed)
    dns = parse_seed("dns:zactor.default.svc:7000")
    assert isinstance(dns, DnsSeeds) and (dns.name, dns.port) == ("zactor.default.svc", 7000)
    assert isinstance(parse_seed("file:/etc/zactor/seeds"), FileSeeds)
    for bad in ("dns:nameonly", "dns:name:0", "dns::7000", "dns:name:http"):
        with pytest.raises(ValueError):
            parse_seed(bad)


async def test_dns_gives_every_address_of_a_name() -> None:
    assert "tcp://127.0.0.1:7000" in await DnsSeeds("localhost", 7000).resolve()


async def test_a_file_lists_endpoints_and_a_source_that_fails_keeps_its_last_answer(tmp_path: Path) -> None:
    path = tmp_path / "seeds"
    path.write_text("# the cluster\ntcp://10.0.0.1:7000\n\ntcp://10.0.0.2:7000  # rack 2\n")
    resolver = SeedResolver(["tcp://10.0.0.9:7000", f"file:{path}", "tcp://10.0.0.1:7000"])
    assert resolver.is_dynamic
    assert await resolver.resolve() == ["tcp://10.0.0.9:7000", "tcp://10.0.0.1:7000", "tcp://10.0.0.2:7000"]
    path.unlink()
    assert await resolver.resolve() == ["tcp://10.0.0.9:7000", "tcp://10.0.0.1:7000", "tcp://10.0.0.2:7000"]
    path.write_text("10.0.0.3:7000\n")
    with pytest.raises(ValueError, match="not an endpoint"):
        await FileSeeds(path).resolve()
    assert not SeedResolver(["tcp://10.0.0.9:7000"]).is_dynamic


async def test_a_registered_scheme_is_a_seed_source() -> None:
    class Fixed:
        def __init__(self, rest: str) -> None:
            self.rest = rest

        def describe(self) -> str:
            return f"fixed:{self.rest}"

        async def resolve(self) -> list[str]:
            return [f"tcp://{self.rest}"]

    register_scheme("fixed:", Fixed)
    assert await SeedResolver(["fixed:10.1.1.1:7000"]).resolve() == ["tcp://10.1.1.1:7000"]


async def test_a_node_joins_once_its_seed_file_names_the_cluster(tmp_path: Path, clock: FakeClock) -> None:
    """The seed file lists no live node at first; rewritten while the node runs, it is re-read and the node joins."""
    network = InMemoryNetwork()
    config = MembershipConfig(gossip_interval_s=0.05, seed_refresh_s=0.5)
    path = tmp_path / "seeds"
    path.write_text("mem://nobody:1\n")
    first = ClusterNode(NodeConfig(node_id="a", bind="mem://a:0"), transport=network.transport(), time_source=clock)
    late = ClusterNode(
        NodeConfig(node_id="b", bind="mem://b:0", seeds=(f"file:{path}",)),
        transport=network.transport(),
        membership=MembershipService(config),
        time_source=clock,
    )
    async with first, late:
        path.write_text(f"{first.address}\n")
        await wait_until(lambda: len(late.membership.members()) == 2, timeout_s=10, what="b joined through the file")


async def test_a_node_joins_through_a_dns_name() -> None:
    """``dns:localhost:PORT`` resolves to the seed's loopback endpoint."""
    async with ClusterNode(NodeConfig(node_id="a", bind="tcp://127.0.0.1:0")) as first:
        port = int(first.address.rsplit(":", 1)[1])
        joined = NodeConfig(node_id="b", bind="tcp://127.0.0.1:0", seeds=(f"dns:localhost:{port}",))
        async with ClusterNode(joined) as late:
            await wait_until(lambda: len(late.membership.members()) == 2, timeout_s=10, what="b joined through DNS")
