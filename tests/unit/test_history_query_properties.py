"""Properties of the history query for any stored buckets and any range: every point
lies in since..until and among the times of the buckets merged into it (an aggregate
that began before `since` counts as dated at `since`), merging keeps the counts,
totals, minima and maxima, and no range gets more than MAX_POINTS points."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.history import query
from raspy.history.recorder import Bucket
from raspy.history.tiers import Tier

_T0 = 1_780_012_800  # 2026-05-29 00:00 UTC


def _bucket(tier: Tier, t: float, values: list[int]) -> Bucket:
    """A raw point at its own time (count 1), or an aggregate dated at its step's
    start. Values are whole numbers: sums are exact in any order of addition."""
    if tier.raw:
        return Bucket.of(t, float(values[0]))
    return Bucket(
        float(tier.start_of(t)),
        len(values),
        float(sum(values)),
        float(min(values)),
        float(max(values)),
    )


_VALUES = st.lists(st.integers(-1000, 1000), min_size=1, max_size=4)
_FRACTIONS = st.sampled_from([0.0, 0.25, 0.5])
_SHARES = (0.0, 0.01, 0.3, 0.6, 0.9, 1.0, 1.3)  # of a tier's span: since, until


@st.composite
def _runs(draw: st.DrawFn, tier: Tier, low: int, high: int) -> list[Bucket]:
    """Buckets of consecutive steps from somewhere in low..high (a device that was
    recorded for a while), so that merged steps often hold several."""
    first = draw(st.integers(low, high))
    steps = draw(st.integers(1, 150))
    offset = draw(_FRACTIONS) * tier.step_s
    seed = draw(_VALUES)  # step i's values: the seed's plus i % 7 (cheaper to draw)
    return [
        _bucket(tier, first + i * tier.step_s + offset, [v + i % 7 for v in seed])
        for i in range(steps)
    ]


@dataclass(frozen=True)
class _Case:
    tier: Tier
    table: dict[int, Bucket]  # slot -> the bucket stored there last
    since: float
    until: float
    now: float


@st.composite
def _cases(draw: st.DrawFn) -> _Case:
    """A tier, a range (often long enough for merging, often off a step's start) and
    what the tier's slots hold: runs in and around the range, older laps, steps after
    `now`."""
    step_s = draw(st.sampled_from([1, 10, 60]))
    slots = draw(st.sampled_from([2, 7, 40, 1001, 2500, 4000])) + draw(
        st.integers(0, 3)
    )
    tier = Tier(step_s, step_s * slots, raw=draw(st.booleans()))
    now = _T0 + draw(st.integers(0, 10 * tier.span_s))
    back, length = (draw(st.sampled_from(_SHARES)) * tier.span_s for _ in "bl")
    since = now - back - draw(st.integers(1, 40)) / 4
    until = since + length + draw(st.integers(1, 40)) / 4
    windows = (
        (int(since) - 150 * step_s, int(since) + step_s),  # across since
        (int(since), int(until)),  # inside
        (now - 2 * tier.span_s, now + tier.span_s),  # anywhere: laps, the future
    )
    table: dict[int, Bucket] = {}
    for _ in range(draw(st.integers(0, 6))):
        low, high = draw(st.sampled_from(windows))
        for bucket in draw(_runs(tier, low, high)):
            table[tier.slot_of(bucket.t)] = bucket  # a later write takes the slot
    return _Case(tier, table, since, until, now)


def _covers(tier: Tier, bucket: Bucket, since: float, until: float) -> bool:
    """Whether `bucket` holds samples of since..until: a raw point is an instant,
    an aggregate holds its whole step."""
    end = bucket.t if tier.raw else bucket.t + tier.step_s
    return bucket.t <= until and (since <= bucket.t or since < end)


def _held(case: _Case) -> list[Bucket]:
    """What the range holds: the stored buckets with samples in since..until whose
    step the tier still keeps at `now` (not a newer step than now's), oldest first;
    an aggregate that began before `since` is dated at `since`."""
    tier = case.tier
    return sorted(
        (
            replace(bucket, t=max(bucket.t, case.since))
            for bucket in case.table.values()
            if _covers(tier, bucket, case.since, case.until)
            and tier.oldest_start(case.now) <= tier.start_of(bucket.t)
            and tier.start_of(bucket.t) <= tier.start_of(min(case.until, case.now))
        ),
        key=lambda bucket: bucket.t,
    )


def _answer(case: _Case) -> query.Answer:
    return query.run(
        case.tier,
        case.since,
        case.until,
        case.now,
        lambda _tier, slot: case.table.get(slot),
    )


@settings(max_examples=300, deadline=None)
@given(_cases())
def test_every_point_lies_in_the_range_and_among_the_buckets_it_merges(
    case: _Case,
) -> None:
    answer = _answer(case)
    held = _held(case)
    groups = {
        step: list(group)
        for step, group in itertools.groupby(held, key=lambda b: b.t // answer.step_s)
    }
    assert len(answer.points) == len(groups)
    for (t, avg, low, high), merged in zip(answer.points, groups.values(), strict=True):
        assert case.since <= t <= case.until
        assert merged[0].t <= t <= merged[-1].t
        assert low == min(b.low for b in merged)
        assert high == max(b.high for b in merged)
        count = sum(b.count for b in merged)
        assert avg == sum(b.total for b in merged) / count
    assert len(answer.points) <= query.MAX_POINTS


_SORTED_BUCKETS = st.lists(
    st.tuples(st.integers(_T0, _T0 + 100_000), _FRACTIONS, _VALUES),
    max_size=80,
).map(
    lambda drawn: sorted(
        (_bucket(Tier(1, 2, raw=False), t + f, v) for t, f, v in drawn),
        key=lambda b: b.t,
    )
)


@given(_SORTED_BUCKETS, st.integers(1, 20_000))
def test_merging_keeps_counts_totals_minima_and_maxima(
    buckets: list[Bucket], step_s: int
) -> None:
    merged = query.merge(buckets, step_s)
    assert sum(b.count for b in merged) == sum(b.count for b in buckets)
    assert sum(b.total for b in merged) == sum(b.total for b in buckets)
    if buckets:
        assert min(b.low for b in merged) == min(b.low for b in buckets)
        assert max(b.high for b in merged) == max(b.high for b in buckets)
    times = [b.t for b in merged]
    assert times == sorted(set(times))
    for bucket in merged:
        inside = [b for b in buckets if b.t // step_s == bucket.t // step_s]
        assert inside[0].t <= bucket.t <= inside[-1].t
        assert bucket.count == sum(b.count for b in inside)
        assert bucket.total == sum(b.total for b in inside)
        assert (bucket.low, bucket.high) == (
            min(b.low for b in inside),
            max(b.high for b in inside),
        )


@dataclass(frozen=True)
class _Range:
    tier: Tier
    since: float
    until: float
    now: float


# a number of tier steps: often just around a multiple of MAX_POINTS, where a range
# off the merged steps' alignment touched one merged step too many
_STEP_COUNTS = st.one_of(
    st.builds(
        lambda k, d: max(1, k * query.MAX_POINTS + d),
        st.integers(1, 6),
        st.integers(-3, 3),
    ),
    st.integers(1, 6 * query.MAX_POINTS),
)


@st.composite
def _ranges(draw: st.DrawFn) -> _Range:
    """A tier and a range of about `steps` of its steps that it keeps, starting at
    any step and at any time in it; `until` may lie after `now`."""
    step_s = draw(st.sampled_from([1, 10, 60, 300, 3600]))
    steps = draw(_STEP_COUNTS)
    slots = max(2, steps + draw(st.integers(0, 50)))
    tier = Tier(step_s, step_s * slots, raw=draw(st.booleans()))
    now = _T0 + draw(st.integers(0, 10 * tier.span_s)) + draw(_FRACTIONS) * step_s
    first = tier.oldest_start(now) + draw(st.integers(0, slots - steps)) * step_s
    since = first + draw(st.integers(0, 3)) * step_s / 4
    until = first + (steps - 1) * step_s + draw(st.integers(1, 8)) * step_s / 4
    return _Range(tier, since, until, now)


def _stocked(tier: Tier, now: float) -> query.Fetch:
    """Every step the tier keeps at `now` holds a bucket (the most points a range
    can have): a raw point within its step, an aggregate at its start."""
    oldest = tier.oldest_start(now)
    # what _bucket(tier, t, [1]) gives, built directly: a query asks for up to
    # thousands of slots an example, and this was most of the test's CPU
    step_s, slots, first_slot = tier.step_s, tier.slots, tier.slot_of(oldest)
    middle = step_s / 2 if tier.raw else 0.0

    def fetch(_tier: Tier, slot: int) -> Bucket:
        start = oldest + (slot - first_slot) % slots * step_s
        return Bucket(start + middle, 1, 1.0, 1.0, 1.0)

    return fetch


@settings(max_examples=200, deadline=None)
@given(_ranges())
def test_no_range_gets_more_than_max_points_nor_a_coarser_step_than_needed(
    case: _Range,
) -> None:
    tier = case.tier
    answer = query.run(tier, case.since, case.until, case.now, _stocked(tier, case.now))
    assert len(answer.points) <= query.MAX_POINTS
    # one tier step fewer to a merged step would have been too many points
    first = tier.start_of(max(case.since, tier.oldest_start(case.now)))
    last = tier.start_of(min(case.until, case.now))
    finer = answer.step_s - tier.step_s
    if finer:
        assert last // finer - first // finer + 1 > query.MAX_POINTS
