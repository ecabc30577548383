"""Hypothesis on the cron DST rule near real DST changes (zones with 1-hour and
30-minute changes, both hemispheres): a `*/N` job keeps its real-time cadence through
every gap and repeat; a job at a fixed time fires once a day, never twice."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.rules.timing import label_of, parse_cron

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute change
    "America/Santiago",  # changes at midnight
]


def _changes(zone: str) -> list[float]:
    """The instants (epoch s) in 2025 to 2027 at which the zone's UTC offset changes,
    on a grid of 30 minutes: each day whose offset differs at its end is walked in
    steps of 30 minutes (a walk of the three years in such steps, 260,000 offsets
    for the five zones, took a second at the import of this module, in each worker
    of the suite). These zones change at most once a day."""
    tz = ZoneInfo(zone)

    def offset(at: datetime) -> timedelta | None:
        return at.astimezone(tz).utcoffset()

    day, step = timedelta(days=1), timedelta(minutes=30)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    found: list[float] = []
    while start.year < 2028:
        end = start + day
        if offset(end) != offset(start):
            at = start + step
            while offset(at) == offset(start):
                at += step
            found.append(at.timestamp())
        start = end
    return found


CHANGES = [(zone, change) for zone in ZONES for change in _changes(zone)]


def _fires(expression: str, start: float, end: float, zone: str) -> list[float]:
    schedule, tz = parse_cron(expression), ZoneInfo(zone)
    fires: list[float] = []
    at = start
    while (at := schedule.next_after(at, tz)) < end:
        fires.append(at)
    return fires


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(CHANGES),
    st.integers(-3 * 60, 60),
    st.sampled_from([1, 5, 10, 15, 30]),
)
def test_a_step_cron_keeps_its_cadence_in_real_time_across_any_dst_change(
    change: tuple[str, float], minutes_before: int, step_min: int
) -> None:
    zone, instant = change
    start = instant + 60 * minutes_before
    fires = _fires(f"*/{step_min} * * * *", start, start + 4 * 3600, zone)
    spacing = {round(b - a) for a, b in itertools.pairwise(fires)}
    assert spacing == {60 * step_min}
    assert all(label_of(f, ZoneInfo(zone)).minute % step_min == 0 for f in fires)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CHANGES), st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
def test_a_fixed_time_fires_once_a_day_around_any_dst_change(
    change: tuple[str, float], hour: int, minute: int
) -> None:
    zone, instant = change
    tz = ZoneInfo(zone)
    first_day = label_of(instant, tz).date() - timedelta(days=1)
    start = datetime.combine(first_day, datetime.min.time(), tz).timestamp()
    fires = _fires(
        f"{minute} {hour} * * *", start - 1, start + 3 * 86_400 - 7200, tz.key
    )
    days = [label_of(f, tz).date() for f in fires]
    assert days == [first_day + timedelta(days=n) for n in range(3)][: len(days)]
    assert len(fires) >= 2  # three local days (less two hours): two or three fires


@pytest.mark.parametrize(
    ("expression", "follows"),
    [
        ("*/15 * * * *", True),
        ("* * * * *", True),
        ("0 * * * *", True),
        ("0 */2 * * *", True),
        ("*/20 1,2 * * *", True),
        ("@hourly", True),
        ("30 2 * * *", False),
        ("0,30 2 * * *", False),
        ("0-59/15 2 * * *", False),
        ("@daily", False),
        ("@weekly", False),
    ],
)
def test_a_star_in_the_minute_or_hour_field_makes_a_job_follow_the_clock(
    expression: str, follows: bool
) -> None:
    """Debian's cron rule: only `*` fields (not ranges) make a job follow the clock
    through a repeated hour; the rest are fixed times, fired once."""
    assert parse_cron(expression).repeats_with_the_clock is follows
