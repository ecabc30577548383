"""The history query: which tier answers a range, which slots to read, and the
merging of buckets down to at most MAX_POINTS points. Pure: rows come from a
passed-in fetch, `now` is passed in.

Every point lies in since..until and is dated at the first bucket it holds: the
buckets read are those dated in the range, and the bucket of an aggregate tier that
began before `since` but runs past it, dated at `since`; merging never dates a point
earlier.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final

from raspy.history.recorder import Bucket
from raspy.history.tiers import Tier, parse_duration
from raspy.records import frozen

MAX_POINTS: Final = 1000
AUTO: Final = "auto"

Fetch = Callable[[Tier, int], Bucket | None]  # (tier, slot) -> the stored bucket


@frozen
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
    """The buckets of `tier` at `starts` with samples in since..until, oldest first;
    a slot still holding an older lap's bucket (or another tier layout's) is
    skipped.

    An aggregate bucket that began before `since` also holds the samples of its step
    after `since`: it is read, dated at `since`, or a coarse tier's graph would start
    up to a bucket late. A raw point before `since` is a sample before it: skipped.
    """
    found: list[Bucket] = []
    for start in starts:
        bucket = fetch(tier, tier.slot_of(start))
        if bucket is None or tier.start_of(bucket.t) != start or bucket.t > until:
            continue
        if bucket.t < since:
            if tier.raw:
                continue
            bucket = replace(bucket, t=since)  # in its step: merged with it still
        found.append(bucket)
    return found


def _merged_steps(starts: range, step_s: int) -> int:
    """How many steps of `step_s`, aligned to the epoch, the tier steps at `starts`
    fall in: each one is at most one point."""
    return starts[-1] // step_s - starts[0] // step_s + 1 if starts else 0


def _factor(tier: Tier, starts: range) -> int:
    """The fewest tier steps a merged step takes so that the answer has at most
    MAX_POINTS points. The merged steps are aligned to the epoch, not to `since`
    (the points of a graph redrawn later stay where they were), so a range can
    touch one more of them than its length holds: then one more step each."""
    factor = max(1, math.ceil(len(starts) / MAX_POINTS))
    while _merged_steps(starts, tier.step_s * factor) > MAX_POINTS:
        factor += 1
    return factor


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
    factor = _factor(tier, starts)
    if factor == 1:
        return Answer(tier, tier.step_s, since, until, [b.point() for b in buckets])
    step_s = tier.step_s * factor
    points = [bucket.point() for bucket in merge(buckets, step_s)]
    return Answer(tier, step_s, since, until, points)
