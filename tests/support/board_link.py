"""A flaky network between a second board and the hub, made of `support.relay`.

`BoardLink` relays a whole port base (raspyd's N..N+3: MDP, snapshot, publisher,
collector) from its own base to the hub's, so a raspy-poller given `link.endpoint`
reaches the hub only through it; `stall()`, `cut()` and `heal()` act on all four
ports as `Relay`'s do on one (`stall(SNAPSHOT)`: only the one a Clone client takes
its first copy from, while MDP goes on).
"""

from __future__ import annotations

from typing import Final

from support.net import free_port_base
from support.relay import Relay

_SPAN: Final = 4  # raspyd's ports from its base
SNAPSHOT: Final = 1  # the Clone snapshot port's offset from the base


class BoardLink:
    """Relays `hub_port_base`..+3 from a free base of its own."""

    def __init__(self, hub_port_base: int) -> None:
        self.port_base = free_port_base(_SPAN)
        self._relays = [
            Relay(hub_port_base + offset, port=self.port_base + offset)
            for offset in range(_SPAN)
        ]

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port_base}"

    def stall(self, *offsets: int) -> None:
        """All four ports, or those at `offsets` from the base."""
        for offset in offsets or range(_SPAN):
            self._relays[offset].stall()

    def heal(self) -> None:
        for relay in self._relays:
            relay.heal()

    def cut(self) -> None:
        for relay in self._relays:
            relay.cut()

    def close(self) -> None:
        for relay in self._relays:
            relay.close()

    def __enter__(self) -> BoardLink:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
