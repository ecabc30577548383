"""The times the command-line tools print name their zone by its UTC offset, and read
back through `raspy history --since`."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.cli.history import when
from raspy.cli.raspy import main
from raspy.cli.time_text import wall_text

T_2026_12_03_13_30_UTC = 1_796_304_600.0
T_2026_07_01_12_00_UTC = 1_782_907_200.0
BERLIN = ZoneInfo("Europe/Berlin")
# 2026-10-25 01:00 UTC: Berlin's clocks go back from 03:00 CEST to 02:00 CET
T_BERLIN_BACK = 1_792_890_000.0


@pytest.mark.parametrize(
    ("wall_ts", "zone", "text"),
    [
        (T_2026_12_03_13_30_UTC, UTC, "2026-12-03 13:30:00 +00:00"),
        (T_2026_12_03_13_30_UTC, BERLIN, "2026-12-03 14:30:00 +01:00"),
        (T_2026_07_01_12_00_UTC, BERLIN, "2026-07-01 14:00:00 +02:00"),
        (T_2026_12_03_13_30_UTC, ZoneInfo("America/St_Johns"), "2026-12-03 10:00:00 -03:30"),
        (T_2026_12_03_13_30_UTC, timezone(timedelta(hours=5, minutes=45)), "2026-12-03 19:15:00 +05:45"),
        (T_2026_12_03_13_30_UTC + 0.999, UTC, "2026-12-03 13:30:00 +00:00"),
    ],
    ids=["utc", "berlin-winter", "berlin-summer", "half-hour-west", "quarter-hour-east", "cut-to-seconds"],
)  # fmt: skip
def test_a_time_prints_its_wall_clock_and_its_offset(
    wall_ts: float, zone: timezone | ZoneInfo, text: str
) -> None:
    assert wall_text(wall_ts, zone) == text


def test_the_hour_that_repeats_at_a_dst_switch_is_told_apart_by_its_offset() -> None:
    """Without the offset, 02:30 CEST and 02:30 CET printed the same."""
    assert [
        wall_text(T_BERLIN_BACK - 1800, BERLIN),
        wall_text(T_BERLIN_BACK + 1800, BERLIN),
    ] == ["2026-10-25 02:30:00 +02:00", "2026-10-25 02:30:00 +01:00"]


@pytest.mark.parametrize(
    ("wall_ts", "text"),
    [(float("nan"), "NaN"), (1e300, "1e+300"), (-1e300, "-1e+300"), (10**30, str(10**30))],
    ids=["nan", "huge", "huge-negative", "huge-int"],
)  # fmt: skip
def test_a_number_no_calendar_holds_prints_as_the_number(
    wall_ts: float, text: str
) -> None:
    assert wall_text(wall_ts, UTC) == text


_ZONES = st.sampled_from(
    [UTC, BERLIN, ZoneInfo("America/St_Johns"), ZoneInfo("Australia/Lord_Howe")]
)


@given(st.integers(min_value=0, max_value=4_102_444_800), _ZONES)
def test_any_printed_time_reads_back_as_the_same_instant(
    wall_ts: int, zone: timezone | ZoneInfo
) -> None:
    """The offset makes the text one instant, even in an hour that repeats."""
    assert when(wall_text(wall_ts, zone), now=0.0) == wall_ts


def test_history_help_says_how_a_date_without_a_zone_is_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exits:
        main(["history", "--help"])
    assert exits.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "ISO date in this machine's local time unless it names a zone" in help_text
    assert "a printed time names its UTC offset" in help_text


def test_an_epoch_no_float_holds_is_refused_as_a_time() -> None:
    """`--until 1000…0` (400 digits) read as an infinity, sent as `Infinity`, and
    the hub's refusal, "Infinity is not JSON (bad_json)", did not name the option."""
    with pytest.raises(ValueError, match="epoch seconds"):
        when("1" + "0" * 400, now=0.0)


_WHEN_TEXT = st.one_of(
    st.text(max_size=30),
    st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat),
    st.builds(
        lambda number, unit: f"{number}{unit}",
        st.integers(0, 10**30) | st.floats(allow_nan=False),
        st.sampled_from(["", "s", "m", "h", "d", "w", "x"]),
    ),
)


@given(_WHEN_TEXT, st.floats(0, 4_102_444_800))
def test_any_since_or_until_text_is_a_finite_time_or_a_value_error(
    text: str, now: float
) -> None:
    """--since/--until as typed: a finite epoch time, or the ValueError argparse
    shows as a usage error (a year-1 date, an hour of 10**30 included)."""
    try:
        moment = when(text, now)
    except ValueError:
        return
    assert math.isfinite(moment)
