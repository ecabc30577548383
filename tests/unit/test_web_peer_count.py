"""The web face's cap on the connections open from one address counts an IPv6
client from beyond the hub's own /64 by its /64: one host gets a whole /64 (2^64
addresses), and counted one address at a time it could take every connection the
server keeps. A host of the hub's own /64 (the home LAN) or a link-local one is
counted by its address: by /64 the whole LAN shared one cap."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from raspy.actors.web.server import (
    MAX_CONNECTIONS_PER_ADDRESS,
    _protocol_with,
    counted_as,
)

HUB = "2001:db8:0:9::1"  # the hub's address on the home LAN, its /64 the LAN's


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("2001:db8:0:1:ffff:ffff:ffff:ffff", "2001:db8:0:1::/64"),
        ("2001:db8:0:2::1", "2001:db8:0:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # a dual-stack socket's IPv4 peer
        ("", ""),
    ],
)
def test_a_peer_is_counted_by_its_ipv4_address_or_its_ipv6_64(
    address: str, key: str
) -> None:
    assert counted_as(address, HUB) == key


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("address", "local", "key"),
    [
        # the home LAN: every host's address is in the router's one /64
        ("2001:db8:0:9::2", HUB, "2001:db8:0:9::2"),
        ("2001:db8:0:9:a1b2:c3ff:fed4:e5f6", HUB, "2001:db8:0:9:a1b2:c3ff:fed4:e5f6"),
        ("fd00:1:2:3::7", "fd00:1:2:3::1", "fd00:1:2:3::7"),  # reached at a ULA
        # link-local: all of them in fe80::/64, whatever address the hub has
        ("fe80::1%eth0", "fe80::aa:1%eth0", "fe80::1"),
        ("fe80::2", HUB, "fe80::2"),
        ("::1", "::1", "::1"),  # the hub itself
        # another /64 than the one it reached the hub at
        ("2001:db8:0:9::2", "fd00:1:2:3::1", "2001:db8:0:9::/64"),
        ("2001:db8:0:9::2", "", "2001:db8:0:9::/64"),  # no local address known
        ("2001:db8:0:9::2", "192.0.2.1", "2001:db8:0:9::/64"),
    ],
)
def test_a_peer_of_the_hubs_own_64_or_link_local_is_counted_by_its_address(
    address: str, local: str, key: str
) -> None:
    assert counted_as(address, local) == key


class _Peer:
    """The part of an asyncio transport the protocol reads: who is at the other end
    and the address it reached (the network's side, which one machine cannot play
    with 2^64 addresses)."""

    def __init__(self, address: str, local: str = HUB) -> None:
        self.address, self.local, self.closed = address, local, False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        info = {"peername": (self.address, 40000), "sockname": (self.local, 8080)}
        return info.get(name, default)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _connect(peers: list[_Peer]) -> None:
    """Each peer's connection made to one server's protocol (one count)."""
    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(app=lambda *_: None, log_level="critical")
        config.load()
        protocol = _protocol_with(10.0)
        state = ServerState()
        for peer in peers:
            protocol(config, state, {}, loop).connection_made(peer)  # type: ignore[arg-type]
    finally:
        loop.close()


@pytest.mark.timeout(10)
def test_many_addresses_of_one_64_share_its_cap() -> None:
    peers = [_Peer(f"2001:db8:0:1::{n:x}") for n in range(1, 41)]
    other = _Peer("2001:db8:0:2::1")
    _connect([*peers, other])
    assert [peer.closed for peer in peers] == [False] * MAX_CONNECTIONS_PER_ADDRESS + [
        True
    ] * (40 - MAX_CONNECTIONS_PER_ADDRESS)
    assert not other.closed  # another /64 has its own


@pytest.mark.timeout(10)
def test_the_hosts_of_the_hubs_own_64_and_link_local_ones_have_a_cap_each() -> None:
    """A home LAN's phones, tablets and wall dashboards, each with its SLAAC address
    in the router's one /64 (or a link-local one), shared 32 connections."""
    lan = [_Peer(f"2001:db8:0:9::{n:x}") for n in range(2, 42)]
    link = [_Peer(f"fe80::{n:x}%eth0", "fe80::aa:1%eth0") for n in range(1, 41)]
    one = [_Peer("2001:db8:0:9::99") for _ in range(MAX_CONNECTIONS_PER_ADDRESS + 1)]
    _connect([*lan, *link, *one])
    assert [peer.closed for peer in lan + link] == [False] * 80
    # one address of the LAN is capped as an IPv4 one
    assert [peer.closed for peer in one] == [False] * MAX_CONNECTIONS_PER_ADDRESS + [
        True
    ]
