"""The web face's cap on the connections open from one address counts an IPv6
client by its /64: one host gets a whole /64 (2^64 addresses), and counted one
address at a time it could take every connection the server keeps."""

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


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("2001:db8:0:1:ffff:ffff:ffff:ffff", "2001:db8:0:1::/64"),
        ("2001:db8:0:2::1", "2001:db8:0:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # a dual-stack socket's IPv4 peer
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        ("", ""),
    ],
)
def test_a_peer_is_counted_by_its_ipv4_address_or_its_ipv6_64(
    address: str, key: str
) -> None:
    assert counted_as(address) == key


class _Peer:
    """The part of an asyncio transport the protocol reads: who is at the other end
    (the network's side, which one machine cannot play with 2^64 addresses)."""

    def __init__(self, address: str) -> None:
        self.address, self.closed = address, False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": (self.address, 40000)}.get(name, default)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


@pytest.mark.timeout(10)
def test_many_addresses_of_one_64_share_its_cap() -> None:
    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(app=lambda *_: None, log_level="critical")
        config.load()
        protocol = _protocol_with(10.0)
        state = ServerState()
        peers = [_Peer(f"2001:db8:0:1::{n:x}") for n in range(1, 41)]
        for peer in peers:
            protocol(config, state, {}, loop).connection_made(peer)  # type: ignore[arg-type]
        other = _Peer("2001:db8:0:2::1")
        protocol(config, state, {}, loop).connection_made(other)  # type: ignore[arg-type]
    finally:
        loop.close()
    assert [peer.closed for peer in peers] == [False] * MAX_CONNECTIONS_PER_ADDRESS + [
        True
    ] * (40 - MAX_CONNECTIONS_PER_ADDRESS)
    assert not other.closed  # another /64 has its own
