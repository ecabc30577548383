"""The history query: tier chosen by range or resolution, slots read, merging."""

from __future__ import annotations

import pytest

from raspy.history import query
from raspy.history.recorder import Bucket, Recorder, RowId
from raspy.history.tiers import Tier, parse_tiers

_KEY = "/device/pi.fake.attic/value"
_T0 = 1_780_012_800.0
_TIERS = parse_tiers(("10s:48h", "5m:30d", "1h:5y"))
_HOUR = 3600.0
_DAY = 86400.0


def _recorded(
    start: float, end: float, every_s: float, modulo: int = 10
) -> dict[RowId, Bucket]:
    """The rows a recorder writes for a sample every `every_s` from start to end
    (value: the sample's index modulo `modulo`)."""
    recorder = Recorder(_TIERS)
    table: dict[RowId, Bucket] = {}
    t, index = start, 0
    while t < end:
        recorder.record(
            _KEY, t, float(index % modulo), lambda rows: [table.get(r) for r in rows]
        )
        t, index = t + every_s, index + 1
    table.update(recorder.take_pending())
    return table


def _fetch(table: dict[RowId, Bucket]) -> query.Fetch:
    return lambda tier, slot: table.get(RowId(_KEY, tier.step_s, slot))


@pytest.mark.parametrize(
    ("since_ago_s", "resolution", "tier"),
    [
        (_HOUR, "auto", "10s"),
        (47 * _HOUR, "auto", "10s"),
        (3 * _DAY, "auto", "5m"),
        (29 * _DAY, "auto", "5m"),
        (365 * _DAY, "auto", "1h"),
        (20 * 365 * _DAY, "auto", "1h"),
        (_HOUR, "1h", "1h"),
        (_HOUR, "300s", "5m"),
    ],
    ids=["1h", "47h", "3d", "29d", "1y", "20y-coarsest", "explicit-1h", "300s-is-5m"],
)
def test_the_tier_is_the_finest_that_keeps_since(
    since_ago_s: float, resolution: str, tier: str
) -> None:
    now = _T0 + 100 * _DAY
    assert query.choose_tier(_TIERS, now - since_ago_s, now, resolution).name == tier


def test_an_unknown_resolution_names_the_ones_there_are() -> None:
    with pytest.raises(ValueError, match=r"^expected one of auto, 10s, 5m, 1h$"):
        query.choose_tier(_TIERS, _T0, _T0 + 1, "2m")


def _auto(
    tiers: tuple[Tier, ...], since: float, until: float, now: float, fetch: query.Fetch
) -> query.Answer:
    """A query with resolution auto, as the service makes it."""
    return query.run(
        query.choose_tier(tiers, since, now, query.AUTO), since, until, now, fetch
    )


def test_a_day_of_raw_points_is_merged_to_at_most_a_thousand() -> None:
    now = _T0 + _DAY
    table = _recorded(_T0, now, 10)
    answer = _auto(_TIERS, _T0, now, now, _fetch(table))
    assert (answer.tier.name, answer.step_s) == ("10s", 90)
    assert len(answer.points) == 960
    assert answer.points[0] == [_T0, 4.0, 0.0, 8.0]  # samples 0..8 of 90 s
    assert [p[0] for p in answer.points] == [_T0 + 90 * i for i in range(960)]


@pytest.mark.parametrize(
    ("resolution", "step_s"), [("5m", 2700), (query.AUTO, 158_400)], ids=["5m", "auto"]
)
def test_a_range_older_than_the_tier_is_spaced_as_what_the_tier_keeps(
    resolution: str, step_s: int
) -> None:
    """history.md: since 0 at the 5-minute tier counts its 30 days (8,640 steps,
    merged by 9), not the 56 years since the epoch; auto reads the hourly tier's 5
    years (43,800 steps, merged by 44)."""
    now = _T0 + 1234.0
    tier = query.choose_tier(_TIERS, 0.0, now, resolution)
    answer = query.run(tier, 0.0, now, now, lambda tier, slot: None)
    assert answer.step_s == step_s


def test_an_hour_of_raw_points_comes_back_as_recorded() -> None:
    now = _T0 + _DAY
    table = _recorded(_T0, now, 10)
    answer = _auto(_TIERS, now - _HOUR, now, now, _fetch(table))
    assert (answer.tier.name, answer.step_s, len(answer.points)) == ("10s", 10, 360)
    assert answer.points[0] == [now - _HOUR, 0.0, 0.0, 0.0]  # sample 8280 % 10


def test_a_week_is_read_from_the_five_minute_buckets() -> None:
    now = _T0 + 8 * _DAY
    table = _recorded(_T0, now, 60, modulo=15)
    answer = _auto(_TIERS, now - 7 * _DAY, now, now, _fetch(table))
    assert (answer.tier.name, answer.step_s) == ("5m", 900)
    assert len(answer.points) == 672
    assert {tuple(p[1:]) for p in answer.points} == {(7.0, 0.0, 14.0)}


def test_slots_of_an_older_lap_are_not_shown() -> None:
    """Raw slots from more than 48 h ago still hold old points until overwritten;
    a query never returns them as if they were recent."""
    tier = Tier(10, 60, raw=True)
    table = {RowId(_KEY, 10, s): Bucket.of(_T0 + 10 * s, 1.0) for s in range(6)}
    now = _T0 + 85  # the slots of 60..80 s still hold the points of 0..20 s
    answer = _auto((tier,), _T0, now, now, _fetch(table))
    assert answer.points == [[_T0 + 30, 1.0, 1.0, 1.0], [_T0 + 40, 1.0, 1.0, 1.0],
                             [_T0 + 50, 1.0, 1.0, 1.0]]  # fmt: skip


def test_a_merged_point_is_never_dated_before_since_or_its_first_sample() -> None:
    """Merged points were dated at the start of their step: asked since 10:17:03,
    the first came back at 10:16:40, before `since` and before any sample in it."""
    now = _T0 + _DAY
    table = _recorded(_T0, now, 10)
    since = _T0 + 10 * _HOUR + 17 * 60 + 3
    answer = _auto(_TIERS, since, now, now, _fetch(table))
    assert (answer.tier.name, answer.step_s) == ("10s", 50)
    first_sample = _T0 + 10 * _HOUR + 17 * 60 + 10  # sample 3703 (value 3)
    assert answer.points[:2] == [
        [first_sample, 3.5, 3.0, 4.0],  # samples 3703, 3704 of the step 10:16:40
        [first_sample + 20, 7.0, 5.0, 9.0],  # the next step, full: 10:17:30
    ]
    assert all(since <= p[0] <= now for p in answer.points)


def test_merged_buckets_keep_their_first_time_and_add_up() -> None:
    buckets = [
        Bucket(_T0 + 300, 3, 30.0, 5.0, 15.0),
        Bucket(_T0 + 600, 1, 2.0, 2.0, 2.0),
        Bucket(_T0 + 3600, 2, 8.0, 3.0, 5.0),
    ]
    assert query.merge(buckets, 3600) == [
        Bucket(_T0 + 300, 4, 32.0, 2.0, 15.0),
        Bucket(_T0 + 3600, 2, 8.0, 3.0, 5.0),
    ]


def test_a_bucket_that_began_before_since_is_shown_dated_at_since() -> None:
    """The hour bucket of 10:00 holds the samples after since 10:17; it was left out,
    so the hourly graph began at 11:00, up to a bucket late."""
    now = _T0 + 3 * _DAY
    table = _recorded(_T0, now, 60, modulo=60)  # each hour: the values 0..59
    since = _T0 + 2 * _DAY + 10 * _HOUR + 17 * 60
    answer = query.run(_TIERS[2], since, now, now, _fetch(table))
    assert (answer.tier.name, answer.step_s) == ("1h", 3600)
    assert answer.points[:2] == [
        [since, 29.5, 0.0, 59.0],  # the bucket of 10:00, dated at since
        [_T0 + 2 * _DAY + 11 * _HOUR, 29.5, 0.0, 59.0],
    ]
    assert len(answer.points) == 14  # 10:00 (as since) to 23:00


def test_a_range_of_twice_the_points_off_the_merged_steps_is_not_one_too_many() -> None:
    """2000 raw steps from 00:00:10 merged by two into epoch-aligned 20 s steps touch
    1001 of them (the first and the last hold one step each)."""
    tier = _TIERS[0]
    since, until = _T0 + 10, _T0 + 20_005  # the steps of 10 s .. 20 000 s
    table = _recorded(_T0, until + 1, 10)
    answer = query.run(tier, since, until, until, _fetch(table))
    assert len(answer.points) <= query.MAX_POINTS
    assert answer.step_s == 30  # merged by three: 667 points
    assert len(answer.points) == 667
    assert answer.points[0] == [since, 1.5, 1.0, 2.0]  # the samples of 10 s and 20 s
