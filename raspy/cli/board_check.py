"""When raspy-poller looks at its hub again, and what an answer means (no I/O).

Two boards that run as the same hostname (one booted from a copy of the other's SD
card) would serve one service name and write the same keys: the broker shares the
requests among them and the tree shows whichever wrote last. Each probe asks how
many workers serve this board's service. Ours may be counted twice for a while
after a reconnect (the broker keeps a lost connection's worker until it has been
silent for `expiry_s`), so a twin is only believed when two probes in a row, both
on a session older than that, count two or more. The probes come at jittered
intervals, so of two twins one sees it first and leaves; the other then counts one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

from raspy.client.hub_probe import HubAnswer


class Verdict(Enum):
    FINE = "fine"  # nothing to say (or no answer)
    TWIN = "twin"  # another board serves this board's name
    REFUSED = "refused"  # the hub refuses our handshake: say it once


@dataclass(slots=True)
class BoardCheck:
    """See the module docstring; `now` is monotonic seconds."""

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
        settled = session_since is not None and now - session_since >= self.expiry_s
        if answer.workers >= 2 and settled:
            self._strikes += 1
        else:
            self._strikes = 0
        return Verdict.TWIN if self._strikes >= 2 else Verdict.FINE
