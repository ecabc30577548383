"""Cron parsing, the next fire of cron, at, every and sun triggers (issue 11: "Cron,
time and sun"); the DST cases are in test_rules_timing_dst.py."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from raspy.rules.model import (
    AtTrigger,
    CronTrigger,
    EveryTrigger,
    KvTrigger,
    SunEvent,
    SunTrigger,
    TimeTrigger,
)
from raspy.rules.timing import (
    CronSchedule,
    SunLocation,
    iso_local,
    next_at,
    next_every,
    next_fire,
    next_sun,
    parse_cron,
    resolve,
    sun_time,
)

BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_PLACE = SunLocation(52.52, 13.40, BERLIN)
TROMSO = SunLocation(69.65, 18.96, ZoneInfo("Europe/Oslo"))


def _berlin(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).timestamp()


# --- parse_cron ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("0 7 * * 1-5", "0 7 * * 1-5"),
        ("  0   7 * *   mon-fri ", "0 7 * * mon-fri"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("0 0 1 jan *", "0 0 1 jan *"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 0 29 2 *", "0 0 29 2 *"),
        ("@daily", "@daily"),
        ("@Hourly", "@hourly"),
        ("@midnight", "@midnight"),
    ],
)
def test_parse_cron_accepts_five_fields_and_aliases(text: str, expression: str) -> None:
    assert parse_cron(text) == CronSchedule(expression)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cron: empty expression"),
        (
            "* * * *",
            "cron '* * * *': expected 5 fields (minute hour day month weekday), got 4",
        ),
        (
            "0 * * * * *",
            "cron '0 * * * * *': expected 5 fields (minute hour day month weekday), got 6",
        ),
        (
            "@reboot",
            "cron: unknown alias '@reboot'; use @annually, @daily, @hourly, "
            "@midnight, @monthly, @weekly, @yearly (a scenario's `startup: true` "
            "trigger runs when raspyd starts)",
        ),
        (
            "@often",
            "cron: unknown alias '@often'; use @annually, @daily, @hourly, "
            "@midnight, @monthly, @weekly, @yearly",
        ),
        ("0 0 * * $", "cron '0 0 * * $': field 5: unexpected character in '$'"),
        (
            "0 0 31 2 *",
            "cron '0 0 31 2 *': it never matches a date (such as 31 February)",
        ),
        (
            "60 * * * *",
            "cron '60 * * * *': minute field: 60 is out of range (0-59)",
        ),
        ("*/0 * * * *", "cron '*/0 * * * *': minute field: step '0' is not allowed"),
        ("x" * 201, "cron: over 200 characters"),
        (
            "R 7 * * *",
            "cron 'R 7 * * *': field 1: `R` and `H` (a random or hashed time) are "
            "not read; give the time in 'R'",
        ),
        (
            "0 h * * *",
            "cron '0 h * * *': field 2: `R` and `H` (a random or hashed time) are "
            "not read; give the time in 'h'",
        ),
        (
            "0 0 1-40 * *",
            "cron '0 0 1-40 * *': day field: 40 is out of range (1-31)",
        ),
        ("0 24 * * *", "cron '0 24 * * *': hour field: 24 is out of range (0-23)"),
        ("0 0 0 * *", "cron '0 0 0 * *': day field: 0 is out of range (1-31)"),
        ("0 0 40W * *", "cron '0 0 40W * *': day field: 40 is out of range (1-31)"),
        ("0 0 W32 * *", "cron '0 0 W32 * *': day field: 32 is out of range (1-31)"),
        ("0 0 * * L9", "cron '0 0 * * L9': weekday field: 9 is out of range (0-7)"),
        ("0 0 * 13 *", "cron '0 0 * 13 *': month field: 13 is out of range (1-12)"),
        ("0 0 * * 8", "cron '0 0 * * 8': weekday field: 8 is out of range (0-7)"),
        (
            "*/61 * * * *",
            "cron '*/61 * * * *': minute field: a step of 61 is over its 60 values "
            "(it matches the first alone; an `every:` trigger takes any duration)",
        ),
        (
            "0 0-6/25 * * *",
            "cron '0 0-6/25 * * *': hour field: a step of 25 is over its 24 values "
            "(it matches the first alone; an `every:` trigger takes any duration)",
        ),
        (
            "0 0 * * 1,2-9/2",
            "cron '0 0 * * 1,2-9/2': weekday field: 9 is out of range (0-7)",
        ),
        (
            "0 0 * * 5#6",
            "cron '0 0 * * 5#6': in weekday#N, N is 1-5 (the first to the fifth of "
            "the month)",
        ),
        ("0 0 L-2 * *", "cron '0 0 L-2 * *': day field: range 'l-2' is not allowed"),
        (
            "0 0 * * 5L",
            "cron '0 0 * * 5L': a field is not read: use numbers, ranges (1-5), "
            "lists (1,3), steps (*/15), names (jan, mon), `L` for the last day, "
            "`1#2` for the second Monday",
        ),
    ],
    ids=[
        "empty",
        "four",
        "six",
        "reboot",
        "unknown-alias",
        "dollar",
        "never",
        "range",
        "step",
        "long",
        "random",
        "hashed",
        "bands",
        "hour-range",
        "day-zero",
        "nearest-weekday-range",
        "nearest-weekday-first-range",
        "last-weekday-range",
        "month-range",
        "weekday-range",
        "minute-step-over",
        "hour-step-over",
        "listed-range",
        "nth-weekday",
        "last-minus",
        "quartz-last",
    ],
)
def test_parse_cron_refuses_bad_expressions_with_one_line(
    text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=r"^cron") as caught:
        parse_cron(text)
    assert str(caught.value) == message


def test_a_cron_schedule_fires_strictly_after_the_given_instant() -> None:
    weekdays = parse_cron("0 7 * * 1-5")
    friday_7 = _berlin(2026, 1, 2, 7, 0)  # a Friday
    assert weekdays.next_after(friday_7 - 1, BERLIN) == friday_7
    assert weekdays.next_after(friday_7, BERLIN) == _berlin(2026, 1, 5, 7, 0)
    assert weekdays.matches(datetime(2026, 1, 5, 7, 0))  # noqa: DTZ001
    assert not weekdays.matches(datetime(2026, 1, 4, 7, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("expression", "days"),
    [
        ("0 7 1 * 1", [1, 5, 12, 19, 26]),  # the 1st or a Monday: either one
        # a field starting with `*` makes it both, as Debian's cron: odd Mondays
        ("0 7 */2 * 1", [5, 19, 9, 23, 9]),
        ("0 7 1 * */2", [1, 1, 1]),  # the 1st on a Sun/Tue/Thu/Sat: Jan, Apr, May
        ("0 7 1-31/2 * 1", [1, 3, 5, 7, 9, 11, 12, 13]),  # no `*`: either one
        ("0 7 * * 1", [5, 12, 19, 26]),  # a `*` day: the weekday alone
        ("0 7 13 * *", [13]),
        # the other crons' forms are either-one too (croniter alone intersects them)
        ("0 7 15 * 1#3", [15, 19, 15, 16, 15, 16]),  # the 15th or the 3rd Monday
        ("0 7 1 * 1#2", [1, 12, 1, 9, 1, 9]),  # the 1st or the 2nd Monday
        ("0 7 L * 5#5", [30, 31, 28, 31, 30]),  # the month's last day or 5th Friday
        ("0 7 1 * L5", [1, 30, 1, 27, 1, 27]),  # the 1st or the last Friday
        ("0 7 15W * *", [15, 16, 16, 15, 15, 15]),  # the weekday nearest the 15th
        ("0 7 1W * *", [1, 2, 2, 1, 1, 1, 1, 3]),  # never the month before: Mon 3 Aug
        ("0 7 ? * 1", [5, 12, 19, 26]),  # `?` is `*`: Mondays, not every day
        ("0 7 1 * ?", [1, 1, 1]),  # the 1st of each month
    ],
)
def test_cron_days_match_when_either_restricted_field_does(
    expression: str, days: list[int]
) -> None:
    """docs/scenarios.md: the day of the month and the weekday as Debian's cron
    reads them (a crontab line copied to a scenario fires on the same days)."""
    schedule, after = parse_cron(expression), _berlin(2025, 12, 31, 8, 0)
    found: list[int] = []
    while len(found) < len(days):
        after = schedule.next_after(after, BERLIN)
        found.append(datetime.fromtimestamp(after, BERLIN).day)
    assert found == days


@pytest.mark.parametrize(
    ("expression", "dates"),
    [
        # the 31st: only the months that have one, none skipped, none moved
        ("0 0 31 * *", ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"]),
        # docs/scenarios.md: 29 February of leap years only
        ("0 0 29 2 *", ["2028-02-29", "2032-02-29"]),
        # the year's end and its first minute
        ("59 23 31 12 *", ["2026-12-31", "2027-12-31"]),
        ("0 0 1 1 *", ["2027-01-01", "2028-01-01"]),
        ("0 0 L 2 *", ["2026-02-28", "2027-02-28", "2028-02-29"]),
    ],
)
def test_cron_days_that_some_months_or_years_lack(
    expression: str, dates: list[str]
) -> None:
    schedule, after = parse_cron(expression), _berlin(2026, 1, 1, 0, 0)
    found: list[str] = []
    while len(found) < len(dates):
        after = schedule.next_after(after, BERLIN)
        found.append(datetime.fromtimestamp(after, BERLIN).date().isoformat())
    assert found == dates


def test_cron_reads_local_time_of_the_timezone_passed_in() -> None:
    seven = parse_cron("0 7 * * *")
    after = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    assert (
        seven.next_after(after, BERLIN)
        == datetime(2026, 6, 1, 5, 0, tzinfo=UTC).timestamp()
    )
    assert (
        seven.next_after(after, ZoneInfo("America/New_York"))
        == datetime(2026, 6, 1, 11, 0, tzinfo=UTC).timestamp()
    )


# --- at, every ------------------------------------------------------------------------
def test_next_at_is_today_if_still_ahead_else_tomorrow() -> None:
    eleven_pm = 23 * 3600
    assert next_at(eleven_pm, _berlin(2026, 6, 1, 22, 0), BERLIN) == _berlin(
        2026, 6, 1, 23, 0
    )
    assert next_at(eleven_pm, _berlin(2026, 6, 1, 23, 0), BERLIN) == _berlin(
        2026, 6, 2, 23, 0
    )


@pytest.mark.parametrize("seconds", [-1, 86_400])
def test_next_at_refuses_a_time_outside_the_day(seconds: int) -> None:
    with pytest.raises(ValueError, match=r"at: seconds of day: expected 0\.\.86399"):
        next_at(seconds, 0.0, BERLIN)


def test_next_every_keeps_a_fixed_grid_from_its_anchor() -> None:
    assert next_every(600, 1000.0, 1000.0) == 1600.0
    assert next_every(600, 1000.0, 1599.9) == 1600.0
    assert next_every(600, 1000.0, 1600.0) == 2200.0
    assert next_every(600, 1000.0, 5000.5) == 5200.0  # a late wake-up: no drift
    assert next_every(600, 1000.0, 100.0) == 400.0  # before the anchor: same grid


@pytest.mark.parametrize("interval", [0.0, -5.0, float("nan"), float("inf")])
def test_next_every_refuses_an_interval_that_is_not_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="every: expected an interval > 0 s"):
        next_every(interval, 0.0, 0.0)


# --- sun ------------------------------------------------------------------------------
def test_sun_times_in_berlin_are_on_the_local_day_near_the_almanac() -> None:
    """Almanac (Berlin, 21 June 2026): sunrise 04:43, sunset 21:33 CEST."""
    noon = _berlin(2026, 6, 21, 12, 0)
    sunrise = sun_time(SunEvent.SUNRISE, noon, BERLIN_PLACE)
    sunset = sun_time(SunEvent.SUNSET, noon, BERLIN_PLACE)
    dawn = sun_time(SunEvent.DAWN, noon, BERLIN_PLACE)
    dusk = sun_time(SunEvent.DUSK, noon, BERLIN_PLACE)
    assert sunrise is not None
    assert sunset is not None
    assert dawn is not None
    assert dusk is not None
    assert abs(sunrise - _berlin(2026, 6, 21, 4, 43)) < 180
    assert abs(sunset - _berlin(2026, 6, 21, 21, 33)) < 180
    assert dawn < sunrise < sunset < dusk
    # Any instant of the same local day gives the same event.
    assert sun_time(SunEvent.SUNSET, _berlin(2026, 6, 21, 0, 0), BERLIN_PLACE) == sunset


@pytest.mark.parametrize(
    ("place", "day", "sunrise", "sunset"),
    [
        # the spring day in New York: the times after the change, in EDT
        (
            SunLocation(40.71, -74.01, ZoneInfo("America/New_York")),
            (2026, 3, 8),
            (7, 19),
            (18, 55),
        ),
        (
            SunLocation(51.51, -0.13, ZoneInfo("Europe/London")),
            (2026, 12, 21),
            (8, 4),
            (15, 53),
        ),
        (
            SunLocation(-33.87, 151.21, ZoneInfo("Australia/Sydney")),
            (2026, 10, 4),
            (6, 29),
            (19, 0),
        ),
    ],
)
def test_sun_times_on_a_dst_day_and_a_solstice_are_near_the_almanac(
    place: SunLocation,
    day: tuple[int, int, int],
    sunrise: tuple[int, int],
    sunset: tuple[int, int],
) -> None:
    """Almanac times (to the minute, local) of three capitals' days, the day the
    clocks change among them: within two minutes."""

    def local(hour_minute: tuple[int, int]) -> float:
        return datetime(*day, *hour_minute, tzinfo=place.tz).timestamp()

    noon = local((12, 0))
    rises, sets = (
        sun_time(e, noon, place) for e in (SunEvent.SUNRISE, SunEvent.SUNSET)
    )
    assert rises is not None
    assert sets is not None
    assert abs(rises - local(sunrise)) < 120
    assert abs(sets - local(sunset)) < 120


def test_sun_events_are_none_in_polar_day_and_night() -> None:
    midsummer = datetime(2026, 6, 21, 12, tzinfo=UTC).timestamp()
    midwinter = datetime(2026, 12, 21, 12, tzinfo=UTC).timestamp()
    assert sun_time(SunEvent.SUNSET, midsummer, TROMSO) is None
    assert sun_time(SunEvent.SUNRISE, midwinter, TROMSO) is None


def test_next_sun_skips_the_polar_night_to_the_first_sunrise() -> None:
    midwinter = datetime(2026, 12, 21, 12, tzinfo=UTC).timestamp()
    first = next_sun(SunEvent.SUNRISE, 0.0, midwinter, TROMSO)
    assert first is not None
    day = datetime.fromtimestamp(first, TROMSO.tz).date()
    assert datetime(2027, 1, 10).date() <= day <= datetime(2027, 1, 20).date()  # noqa: DTZ001
    assert sun_time(SunEvent.SUNRISE, first, TROMSO) == first


def test_next_sun_far_north_in_polar_day_is_the_first_sunset_after_it() -> None:
    pole = SunLocation(80.0, 0.0, ZoneInfo("UTC"))
    midsummer = datetime(2026, 6, 21, tzinfo=UTC).timestamp()
    sunset = next_sun(SunEvent.SUNSET, 0.0, midsummer, pole)
    assert sunset is not None
    assert 60 * 86_400 < sunset - midsummer < 80 * 86_400
    day_before = sun_time(SunEvent.SUNSET, sunset - 86_400, pole)
    assert day_before is None


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(91.0, 0.0), (-90.5, 0.0), (0.0, 180.5)]
)
def test_a_location_off_the_globe_is_refused(latitude: float, longitude: float) -> None:
    with pytest.raises(ValueError, match="itude: expected"):
        SunLocation(latitude, longitude, BERLIN)


# --- next_fire --------------------------------------------------------------------------
def test_next_fire_dispatches_on_the_trigger_kind() -> None:
    after = _berlin(2026, 6, 1, 12, 0)

    def fire(trigger: TimeTrigger) -> float | None:
        return next_fire(
            trigger, after, tz=BERLIN, location=BERLIN_PLACE, anchor_ts=after - 30
        )

    assert fire(CronTrigger("0 13 * * *")) == _berlin(2026, 6, 1, 13, 0)
    assert fire(AtTrigger(13 * 3600)) == _berlin(2026, 6, 1, 13, 0)
    assert fire(EveryTrigger(60.0)) == after + 30
    sunset = sun_time(SunEvent.SUNSET, after, BERLIN_PLACE)
    assert sunset is not None
    assert fire(SunTrigger(SunEvent.SUNSET, -900.0)) == (sunset - 900)


def test_next_fire_refuses_sun_without_a_location_and_bad_cron() -> None:
    with pytest.raises(ValueError, match=r"sun: no location \(\[core\] latitude"):
        next_fire(
            SunTrigger(SunEvent.SUNSET), 0.0, tz=BERLIN, location=None, anchor_ts=0
        )
    with pytest.raises(ValueError, match="expected 5 fields"):
        next_fire(CronTrigger("* *"), 0.0, tz=BERLIN, location=None, anchor_ts=0)
    with pytest.raises(TypeError, match="not a time trigger: KvTrigger"):
        next_fire(KvTrigger("/x"), 0.0, tz=BERLIN, location=None, anchor_ts=0)  # type: ignore[arg-type] # on purpose


def test_resolve_and_iso_local_on_an_ordinary_day() -> None:
    label = datetime(2026, 6, 1, 8, 15)  # noqa: DTZ001
    assert resolve(label, BERLIN) == _berlin(2026, 6, 1, 8, 15)
    assert iso_local(_berlin(2026, 6, 1, 8, 15), BERLIN) == "2026-06-01T08:15:00+02:00"
    with pytest.raises(ValueError, match="expected a naive local label"):
        resolve(label.replace(tzinfo=BERLIN), BERLIN)


def test_cron_next_after_an_instant_a_hair_before_a_whole_minute_is_that_minute() -> (
    None
):
    """fromtimestamp rounds 00:59:59.9999995 up to 01:00; the fire at 01:00 is still
    strictly after it and must not be skipped."""
    berlin = ZoneInfo("Europe/Berlin")
    after = 1420070399.9999995  # 2015-01-01 00:59:59.9999995 CET
    assert parse_cron("* * * * *").next_after(after, berlin) == 1420070400.0
