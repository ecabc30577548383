"""Round-robin tiers like rrdtool's: parsing "STEP:SPAN" and the slot arithmetic.

A tier keeps `span_s // step_s` slots; a time t lives in slot (t // step) % slots, so
a key's history never has more rows than the sum of its tiers' slots, whatever the
uptime. The first tier holds raw points (at most one per step), later ones min/avg/max
buckets of their step. Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from raspy.errors import shown
from raspy.records import frozen

UNITS_S: Final = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
MAX_TIERS: Final = 8
# a tier's slots are rows on an SD card: beyond this, a typo ("10s:5y") not a plan
MAX_SLOTS: Final = 200_000
MAX_STEP_S: Final = 365 * 86400
_DURATION: Final = re.compile(r"([1-9][0-9]{0,8})([smhdwy])")


@frozen
class Tier:
    """One tier: `step_s` per slot, kept for `span_s`; the first tier is raw."""

    step_s: int
    span_s: int
    raw: bool

    @property
    def slots(self) -> int:
        return self.span_s // self.step_s

    @property
    def name(self) -> str:
        """The step as written ("10s", "5m", "1h"): how a resolution names a tier."""
        return format_duration(self.step_s)

    def start_of(self, t: float) -> int:
        """The start (epoch s) of the step that contains t."""
        return int(t // self.step_s) * self.step_s

    def slot_of(self, t: float) -> int:
        return int(t // self.step_s) % self.slots

    def oldest_start(self, now: float) -> int:
        """The first step still kept at `now` (older ones are overwritten or due)."""
        return self.start_of(now) - (self.slots - 1) * self.step_s


def parse_duration(text: str) -> int:
    """Seconds in "10s", "5m", "48h", "30d", "2w", "5y" (y = 365 d); ValueError else."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"expected a duration like 10s, 5m, 48h, 30d, 5y, got {shown(text)}"
        )
    return int(match.group(1)) * UNITS_S[match.group(2)]


def format_duration(seconds: int) -> str:
    """The shortest exact spelling of a whole number of seconds ("300" -> "5m")."""
    for unit in ("y", "w", "d", "h", "m"):
        if seconds % UNITS_S[unit] == 0 and seconds >= UNITS_S[unit]:
            return f"{seconds // UNITS_S[unit]}{unit}"
    return f"{seconds}s"


def _parse_tier(spec: str, raw: bool) -> Tier:
    step_text, colon, span_text = spec.partition(":")
    if not colon:
        raise ValueError(f"expected STEP:SPAN like 10s:48h, got {shown(spec)}")
    step_s, span_s = parse_duration(step_text), parse_duration(span_text)
    if step_s > MAX_STEP_S:
        raise ValueError(f"step {step_text.strip()} over a year")
    if span_s % step_s or span_s < 2 * step_s:
        raise ValueError(
            f"span {span_text.strip()} is not a multiple (>= 2) of the step"
        )
    if span_s // step_s > MAX_SLOTS:
        raise ValueError(
            f"{span_s // step_s} slots (over {MAX_SLOTS}): use a longer step"
        )
    return Tier(step_s, span_s, raw)


def parse_tiers(specs: Sequence[str]) -> tuple[Tier, ...]:
    """The tiers of `[history] tiers`, finest first; ValueError naming the bad one.

    Steps and spans must both grow from one tier to the next (a coarser tier that
    keeps less than a finer one would never be chosen).
    """
    if not 1 <= len(specs) <= MAX_TIERS:
        raise ValueError(f"expected 1 to {MAX_TIERS} tiers, got {len(specs)}")
    tiers: list[Tier] = []
    for index, spec in enumerate(specs):
        try:
            tier = _parse_tier(spec, raw=index == 0)
        except ValueError as exc:
            raise ValueError(f"tier {index + 1}: {exc}") from None
        if tiers and (
            tier.step_s <= tiers[-1].step_s or tier.span_s <= tiers[-1].span_s
        ):
            raise ValueError(
                f"tier {index + 1}: {shown(spec)} must have a longer step and span "
                f"than {shown(specs[index - 1])}"
            )
        tiers.append(tier)
    return tuple(tiers)


def max_rows(tiers: Sequence[Tier]) -> int:
    """The most rows one key can ever have: the sum of its tiers' slots."""
    return sum(tier.slots for tier in tiers)
