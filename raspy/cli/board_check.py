"""When raspy-poller looks at its hub again, and what an answer means (no I/O).

Two boards that run as the same hostname (one booted from a copy of the other's SD
card) would serve one service name and write the same keys: the broker shares the
requests among them and the tree shows whichever wrote last. Each probe asks how
many workers serve this board's service. Ours may be counted twice for a while
after a reconnect (the broker keeps a lost connection's worker until it has been
silent for `expiry_s`), so a twin is only believed when two probes in a row, both
on a session older than that, count two or more. The probes come at jittered
intervals, so of two twins one sees it first and leaves; the other then counts one.

A board under the hub's own hostname is another matter, whatever its service:
the names `<host>.…` and the keys `/device/<host>.…` are the hub's (a reload that
turns one of the hub's services off deletes that service's keys, a board's among
them). raspyd serves `<host>.echo` whatever its config, and `<host>.<part>.mmi` for
each part it supervises (its device service of kind `fake`:
`<host>.devices.fake.mmi`), which no board serves and no lost connection leaves
behind, so the first answer that has either is believed. One `mmi.workers`
question asks for every name under `<hostname>.` at once.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from raspy import names
from raspy.client.hub_probe import HubAnswer
from raspy.devices.registry import devices_service
from raspy.records import frozen


class Verdict(Enum):
    FINE = "fine"  # nothing to say (or no answer)
    TWIN = "twin"  # another board serves this board's name
    HUB = "hub"  # the hub's raspyd runs under this board's name
    REFUSED = "refused"  # the hub refuses our handshake: say it once


@frozen
class BoardNames:
    """The names a look at the hub is about, all under `<hostname>.`."""

    hostname: str
    service: str  # the device service's kind: onewire, fake

    @property
    def devices(self) -> str:
        """This board's device service, `<hostname>.<service>.devices`."""
        return devices_service(self.hostname, self.service)

    @property
    def hub_part(self) -> str:
        """The `.mmi` service of the hub's own device service of this name (a
        supervised part, `devices.<service>`: actors/devices/hardware.py)."""
        return f"{self.hostname}.devices.{self.service}.mmi"

    @property
    def hub_echo(self) -> str:
        """`<hostname>.echo`: raspyd serves it whatever its config, a board never."""
        return f"{self.hostname}.{names.ECHO_SERVICE}"

    @property
    def pattern(self) -> bytes:
        """The mmi.workers glob that matches all three (and the rest of the host's)."""
        # a hostname is a name segment (raspy.names: no glob characters in it)
        return f"{self.hostname}.*".encode()

    def is_hub(self, workers: Mapping[str, int]) -> bool:
        """The hub runs under our hostname: its echo is there, or its own device
        service of our kind (its echo may be restarting)."""
        return self.hub_echo in workers or self.hub_part in workers


@dataclass(slots=True)
class BoardCheck:
    """See the module docstring; `now` is monotonic seconds."""

    names: BoardNames
    expiry_s: float
    every_s: float
    rng: random.Random = field(default_factory=random.Random)
    _next_at: float = 0.0
    _strikes: int = 0
    _said: str | None = None

    def due(self, now: float) -> bool:
        return now >= self._next_at

    def answer(
        self, answer: HubAnswer, now: float, session_since: float | None
    ) -> Verdict:
        """Take one probe's answer; `session_since`: when our worker's current
        session began (None: it has none)."""
        self._next_at = now + self.every_s * self.rng.uniform(0.75, 1.25)
        if answer.refused is not None:
            self._strikes = 0
            if answer.refused == self._said:
                return Verdict.FINE
            self._said = answer.refused
            return Verdict.REFUSED
        if answer.workers is None:
            return Verdict.FINE  # the hub is away: nothing learned
        self._said = None
        if self.names.is_hub(answer.workers):
            return Verdict.HUB  # sure at once: see the module docstring
        settled = session_since is not None and now - session_since >= self.expiry_s
        if answer.workers.get(self.names.devices, 0) >= 2 and settled:
            self._strikes += 1
        else:
            self._strikes = 0
        if self._strikes >= 2:
            return Verdict.TWIN
        return Verdict.FINE
