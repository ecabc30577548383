"""The history query: which tier answers a range, which slots to read, and the
merging of buckets down to at most MAX_POINTS points. Pure: rows come from a
passed-in fetch, `now` is passed in.

Every point lies in since..until and is dated at the first bucket it holds: only
buckets dated in the range are read, and merging never dates a point earlier.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from raspy.history.recorder import Bucket
from raspy.history.tiers import Tier, parse_duration

MAX_POINTS: Final = 1000
AUTO: Final = "auto"

Fetch = Callable[[Tier, int], Bucket | None]  # (tier, slot) -> the stored bucket


@dataclass(frozen=True, slots=True)
class Answer:
    """The points of a range from `tier`, merged into steps of `step_s`."""

    tier: Tier
    step_s: int
    since: float
    until: float
    points: list[list[float]]


def choose_tier(
    tiers: Sequence[Tier], since: float, now: float, resolution: str
) -> Tier:
    """`auto`: the finest tier that still keeps `since` (else the coarsest);
    otherwise the tier named by its step ("5m"). ValueError for another name."""
    if resolution == AUTO:
        for tier in tiers:
            if tier.oldest_start(now) <= since:
                return tier
        return tiers[-1]
    try:
        step_s = parse_duration(resolution)
    except ValueError:
        step_s = 0
    for tier in tiers:
        if tier.step_s == step_s:
            return tier
    names = ", ".join([AUTO, *(tier.name for tier in tiers)])
    raise ValueError(f"expected one of {names}")


def _step_starts(tier: Tier, since: float, until: float, now: float) -> range:
    """The starts of the steps of `tier` in since..until that it still keeps."""
    first = max(tier.start_of(since), tier.oldest_start(now))
    last = tier.start_of(min(until, now))
    return range(first, last + 1, tier.step_s)


def _collect(
    tier: Tier, starts: range, since: float, until: float, fetch: Fetch
) -> list[Bucket]:
    """The buckets of `tier` at `starts` whose time is in since..until, oldest first;
    a slot still holding an older lap's bucket (or another tier layout's) is
    skipped."""
    found: list[Bucket] = []
    for start in starts:
        bucket = fetch(tier, tier.slot_of(start))
        if (
            bucket is not None
            and tier.start_of(bucket.t) == start
            and since <= bucket.t <= until
        ):
            found.append(bucket)
    return found


def merge(buckets: Sequence[Bucket], step_s: int) -> list[Bucket]:
    """Buckets (oldest first) merged by steps of `step_s`: counts and totals added
    (so the average is weighted), min of mins, max of maxes.

    A merged bucket is dated at the first bucket it holds, not at its step's start:
    that start may lie before `since` and before the first sample it summarises (a
    query since 10:17 showed a point at 10:00). Where the data is unbroken, a step's
    first bucket is at its start (raw points: within one tier step of it), so the
    points stay about `step_s` apart, as the chart's gap test expects.
    """
    merged: list[Bucket] = []
    for bucket in buckets:
        last = merged[-1] if merged else None
        if last is not None and last.t // step_s == bucket.t // step_s:
            merged[-1] = Bucket(
                last.t,
                last.count + bucket.count,
                last.total + bucket.total,
                min(last.low, bucket.low),
                max(last.high, bucket.high),
            )
        else:
            merged.append(bucket)
    return merged


def run(tier: Tier, since: float, until: float, now: float, fetch: Fetch) -> Answer:
    """Answer one query from `tier` (see choose_tier); since < until is the caller's
    check."""
    starts = _step_starts(tier, since, until, now)
    buckets = _collect(tier, starts, since, until, fetch)
    factor = max(1, math.ceil(len(starts) / MAX_POINTS))
    if factor == 1:
        return Answer(tier, tier.step_s, since, until, [b.point() for b in buckets])
    step_s = tier.step_s * factor
    points = [bucket.point() for bucket in merge(buckets, step_s)]
    return Answer(tier, step_s, since, until, points)
