"""The DST rule of raspy.rules.timing for cron, `at` and sun + offset (issue 11: "a
local time that does not exist fires once at the first instant after it; a repeated
hour fires once" for fixed times; a `*` minute or hour field keeps its real-time
cadence, as Debian's cron), in Europe/Berlin and America/New_York, both transitions of
2026."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from raspy.rules.model import CronTrigger, EveryTrigger, SunEvent
from raspy.rules.timing import (
    Fired,
    SunLocation,
    TimeScheduler,
    label_of,
    next_at,
    next_sun,
    parse_cron,
    sun_time,
)


@dataclass(frozen=True)
class Night:
    """One DST change: the local day, the wall hour that is skipped or repeated, and
    the UTC instant of the change."""

    zone: str
    day: tuple[int, int, int]
    hour: int  # the local hour that does not exist (spring) or occurs twice (autumn)
    change_utc: tuple[int, int, int, int]
    latitude: float
    longitude: float

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def local(self, hour: int, minute: int = 0, *, day_offset: int = 0) -> datetime:
        year, month, day = self.day
        naive = datetime(year, month, day, hour, minute) + timedelta(days=day_offset)  # noqa: DTZ001
        return naive.replace(tzinfo=self.tz)

    def change(self) -> float:
        return datetime(*self.change_utc, tzinfo=UTC).timestamp()


BERLIN_SPRING = Night("Europe/Berlin", (2026, 3, 29), 2, (2026, 3, 29, 1), 52.52, 13.40)
BERLIN_AUTUMN = Night(
    "Europe/Berlin", (2026, 10, 25), 2, (2026, 10, 25, 1), 52.52, 13.40
)
NEW_YORK_SPRING = Night(
    "America/New_York", (2026, 3, 8), 2, (2026, 3, 8, 7), 40.71, -74.0
)
NEW_YORK_AUTUMN = Night(
    "America/New_York", (2026, 11, 1), 1, (2026, 11, 1, 6), 40.71, -74.0
)
SPRING = [
    pytest.param(BERLIN_SPRING, id="berlin"),
    pytest.param(NEW_YORK_SPRING, id="new_york"),
]
AUTUMN = [
    pytest.param(BERLIN_AUTUMN, id="berlin"),
    pytest.param(NEW_YORK_AUTUMN, id="new_york"),
]
BOTH = SPRING + AUTUMN


def _fires(expression: str, start: float, end: float, tz: ZoneInfo) -> list[float]:
    schedule, fires, at = parse_cron(expression), [], start
    while (at := schedule.next_after(at, tz)) < end:
        fires.append(at)
    return fires


def _day_bounds(night: Night) -> tuple[float, float]:
    return night.local(0).timestamp(), night.local(0, day_offset=1).timestamp()


# --- the skipped hour (spring) ------------------------------------------------------
@pytest.mark.parametrize("night", SPRING)
def test_a_daily_cron_time_in_the_gap_fires_once_at_the_end_of_the_gap(
    night: Night,
) -> None:
    tz = night.tz
    start = night.local(0, day_offset=-1).timestamp()
    fires = _fires(f"30 {night.hour} * * *", start, start + 3 * 86_400, tz)
    assert fires == [
        night.local(night.hour, 30, day_offset=-1).timestamp(),
        night.change(),  # 03:00 summer time, the first instant after the gap
        night.local(night.hour, 30, day_offset=1).timestamp(),
    ]
    assert label_of(night.change(), tz) == night.local(night.hour + 1).replace(
        tzinfo=None
    )


@pytest.mark.parametrize("night", SPRING)
def test_several_times_in_the_gap_and_the_hour_after_it_fire_once_together(
    night: Night,
) -> None:
    start, end = _day_bounds(night)
    hours = f"{night.hour},{night.hour + 1}"
    fires = _fires(f"0,30 {hours} * * *", start, end, night.tz)
    assert fires == [night.change(), night.change() + 1800]


@pytest.mark.parametrize("night", SPRING)
def test_an_hourly_cron_fires_once_per_existing_hour_on_the_spring_day(
    night: Night,
) -> None:
    start, end = _day_bounds(night)
    fires = _fires("0 * * * *", start - 1, end, night.tz)
    assert len(fires) == 23
    assert fires == [start + 3600 * n for n in range(23)]  # one per real hour


@pytest.mark.parametrize("night", SPRING)
@pytest.mark.parametrize("minute", [30, 45])
def test_an_hourly_cron_past_the_hour_fires_once_per_real_hour_on_the_spring_day(
    night: Night, minute: int
) -> None:
    """`30 * * * *` follows the clock, an hourly job: its 02:30, which does not
    exist, is its 03:30 in real time, and fires then, not at 03:00 too (two fires
    half an hour apart, 24 on a day of 23 hours)."""
    start, end = _day_bounds(night)
    fires = _fires(f"{minute} * * * *", start, end, night.tz)
    assert len(fires) == 23
    assert fires == [start + minute * 60 + 3600 * n for n in range(23)]


@pytest.mark.parametrize("night", SPRING)
def test_a_job_in_the_gap_with_no_fire_of_its_own_after_it_fires_at_its_end(
    night: Night,
) -> None:
    """`*/15 2 * * *` has no fire in the hour after the gap: its skipped times
    collapse into one fire at the gap's end, as a fixed time's do."""
    start, end = _day_bounds(night)
    assert _fires(f"*/15 {night.hour} * * *", start, end, night.tz) == [night.change()]


@pytest.mark.parametrize("night", SPRING)
def test_an_at_time_in_the_gap_fires_once_at_the_end_of_the_gap(night: Night) -> None:
    seconds = night.hour * 3600 + 30 * 60
    before = night.local(0).timestamp()
    fire = next_at(seconds, before, night.tz)
    assert fire == night.change()
    assert next_at(seconds, fire, night.tz) == (
        night.local(night.hour, 30, day_offset=1).timestamp()
    )


# --- the repeated hour (autumn) -----------------------------------------------------
@pytest.mark.parametrize("night", AUTUMN)
def test_a_daily_cron_time_in_the_repeated_hour_fires_only_at_its_first_occurrence(
    night: Night,
) -> None:
    tz = night.tz
    first = night.local(night.hour, 30).timestamp()  # fold=0: summer time
    second = night.local(night.hour, 30).replace(fold=1).timestamp()
    assert second - first == 3600
    start = night.local(0, day_offset=-1).timestamp()
    fires = _fires(f"30 {night.hour} * * *", start, start + 3 * 86_400, tz)
    assert fires == [
        night.local(night.hour, 30, day_offset=-1).timestamp(),
        first,
        night.local(night.hour, 30, day_offset=1).timestamp(),
    ]
    # From inside the second pass, the next fire is the next day's.
    assert parse_cron(f"30 {night.hour} * * *").next_after(second - 600, tz) == (
        night.local(night.hour, 30, day_offset=1).timestamp()
    )


@pytest.mark.parametrize("night", AUTUMN)
def test_an_hourly_cron_fires_once_per_real_hour_on_the_autumn_day(
    night: Night,
) -> None:
    """`0 * * * *` has `*` in its hour field: it follows the clock through both passes
    of the repeated hour (as Debian's cron), so it fires every real hour, 25 times."""
    tz = night.tz
    start, end = _day_bounds(night)
    assert end - start == 25 * 3600
    fires = _fires("0 * * * *", start - 1, end, tz)
    assert fires == [start + 3600 * n for n in range(25)]
    repeated = night.local(night.hour).timestamp()
    assert [label_of(f, tz).hour for f in fires].count(night.hour) == 2
    assert {repeated, repeated + 3600} <= set(fires)


@pytest.mark.parametrize("night", AUTUMN)
@pytest.mark.parametrize("expression", ["*/15 * * * *", "0-59/15 * * * *", "@hourly"])
def test_a_wildcard_cron_keeps_its_real_time_cadence_through_the_repeated_hour(
    night: Night, expression: str
) -> None:
    step = 3600 if expression == "@hourly" else 900
    start, end = _day_bounds(night)
    fires = _fires(expression, start - 1, end, night.tz)
    assert fires == [start + step * n for n in range(int((end - start) / step))]


@pytest.mark.parametrize("night", AUTUMN)
def test_a_minute_cron_fires_every_minute_of_both_passes_of_the_repeated_hour(
    night: Night,
) -> None:
    tz = night.tz
    last_first_pass = night.local(night.hour, 59).timestamp()
    fire = parse_cron("* * * * *").next_after(last_first_pass, tz)
    assert fire == last_first_pass + 60  # the repeated hour's second pass begins
    assert label_of(fire, tz) == label_of(night.local(night.hour).timestamp(), tz)


@pytest.mark.parametrize("night", AUTUMN)
def test_fixed_minutes_in_the_repeated_hour_fire_once_each(night: Night) -> None:
    """`0,30 H * * *` names fixed times: each label fires at its first pass only."""
    start, end = _day_bounds(night)
    fires = _fires(f"0,30 {night.hour} * * *", start, end, night.tz)
    first = night.local(night.hour).timestamp()
    assert fires == [first, first + 1800]


@pytest.mark.parametrize("night", AUTUMN)
def test_an_at_time_in_the_repeated_hour_fires_once(night: Night) -> None:
    seconds = night.hour * 3600 + 30 * 60
    first = night.local(night.hour, 30).timestamp()
    assert next_at(seconds, night.local(0).timestamp(), night.tz) == first
    assert next_at(seconds, first, night.tz) == (
        night.local(night.hour, 30, day_offset=1).timestamp()
    )
    inside_second_pass = first + 3600 - 60
    assert next_at(seconds, inside_second_pass, night.tz) == (
        night.local(night.hour, 30, day_offset=1).timestamp()
    )


# --- sun + offset ---------------------------------------------------------------------
@pytest.mark.parametrize("night", BOTH)
@pytest.mark.parametrize("offset_s", [-5 * 3600.0, -900.0, 0.0, 3600.0])
@pytest.mark.parametrize("event", [SunEvent.SUNRISE, SunEvent.SUNSET])
def test_sun_with_an_offset_fires_once_per_local_day_in_real_seconds_over_dst(
    night: Night, offset_s: float, event: SunEvent
) -> None:
    """The offset is real seconds from the event, so `sunrise - 5h` on the spring day
    lands before the change and still fires once."""
    location = SunLocation(night.latitude, night.longitude, night.tz)
    days = [night.local(12, day_offset=n).timestamp() for n in (-1, 0, 1)]
    events = [sun_time(event, noon, location) for noon in days]
    assert all(e is not None for e in events)
    expected = [e + offset_s for e in events if e is not None]
    at = expected[0] - 1
    fires = []
    for _ in expected:
        fire = next_sun(event, offset_s, at, location)
        assert fire is not None
        fires.append(fire)
        at = fire
    assert fires == expected
    assert [label_of(e, night.tz).date() for e in events if e is not None] == [
        label_of(noon, night.tz).date() for noon in days
    ]


# --- the scheduler over a whole DST day --------------------------------------------
@pytest.mark.parametrize("night", BOTH)
def test_the_scheduler_walking_minute_by_minute_fires_hourly_once_per_real_hour(
    night: Night,
) -> None:
    tz = night.tz
    start, end = _day_bounds(night)
    scheduler = TimeScheduler(tz)
    scheduler.add("hourly", CronTrigger("0 * * * *"), start - 30, 0.0)
    fired: list[float] = []
    now = start - 30
    while now + 60 < end:
        now += 60
        for output in scheduler.due(now, now - (start - 30)):
            assert isinstance(output, Fired)
            fired.append(output.scheduled_wall_ts)
    # One fire per real hour: 23 on the spring day, 25 on the autumn day.
    assert fired == [start + 3600 * n for n in range(round((end - start) / 3600))]
    assert len(fired) == (23 if night in (BERLIN_SPRING, NEW_YORK_SPRING) else 25)


# --- every: real seconds -----------------------------------------------------------
@pytest.mark.parametrize("night", BOTH)
def test_an_every_of_a_day_is_real_time_so_its_wall_hour_moves_with_dst(
    night: Night,
) -> None:
    """docs/scenarios.md: `every` follows real elapsed time, DST does not move it;
    so `every: 1d` begun at 07:00 the day before the change fires at 08:00 (spring)
    or 06:00 (autumn) on the day itself: a time of day is an `at:`."""
    scheduler = TimeScheduler(night.tz)
    start = night.local(7, day_offset=-1).timestamp()
    first = scheduler.add("daily", EveryTrigger(86_400.0), start, 0.0)
    assert first is not None
    out = scheduler.due(first, first - start)
    assert out == [Fired("daily", first)]
    spring = night in (BERLIN_SPRING, NEW_YORK_SPRING)
    assert label_of(first, night.tz) == night.local(8 if spring else 6).replace(
        tzinfo=None
    )
