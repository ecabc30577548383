"""Durations of scenario documents (issue #11: `90s`, `5m`, `1h30m` or seconds)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.rules.duration import MAX_DURATION_S, parse_duration, parse_offset


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("2d", 172_800.0),
        ("1h 5m", 3900.0),
        ("1.5s", 1.5),
        ("250ms", 0.25),
        ("1m 30s 500ms", 90.5),
        (" 10m ", 600.0),
        ("90", 90.0),
        ("0", 0.0),
        (60, 60.0),
        (0.5, 0.5),
        ("366d", 366 * 86_400.0),
    ],
)
def test_parse_duration_gives_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "expected a duration like 90s, 5m or 1h30m, got ''"),
        ("   ", "expected a duration like 90s, 5m or 1h30m, got ''"),
        ("soon", "expected a duration like 90s, 5m or 1h30m, got 'soon'"),
        (
            "5 minutes",
            "expected a duration like 90s, 5m or 1h30m, got '5 minutes' (write 5m)",
        ),
        ("90sec", "expected a duration like 90s, 5m or 1h30m, got '90sec' (write 90s)"),
        (
            "2 Hours",
            "expected a duration like 90s, 5m or 1h30m, got '2 Hours' (write 2h)",
        ),
        ("1 day", "expected a duration like 90s, 5m or 1h30m, got '1 day' (write 1d)"),
        ("5msec", "expected a duration like 90s, 5m or 1h30m, got '5msec' (write 5ms)"),
        ("5 mins ago", "expected a duration like 90s, 5m or 1h30m, got '5 mins ago'"),
        ("-5m", "expected a duration ≥ 0, got '-5m'"),
        (-1, "expected a duration ≥ 0, got -1"),
        (float("nan"), "expected a finite duration, got nan"),
        (float("inf"), "expected a finite duration, got inf"),
        (True, "expected a duration like 90s, 5m or 1h30m, got true"),
        (None, "expected a duration like 90s, 5m or 1h30m, got null"),
        ([1], "expected a duration like 90s, 5m or 1h30m, got a list"),
        (
            "5m1h",
            "duration units go from large to small, each once (d h m s ms), got '5m1h'",
        ),
        (
            "1m1m",
            "duration units go from large to small, each once (d h m s ms), got '1m1m'",
        ),
        ("367d", "duration too long (at most 366d), got '367d'"),
        (10**400, "duration too long (at most 366d), got a number of 401 characters"),
        (10**19, "duration too long (at most 366d), got 10000000000000000000"),
        ("1" * 400 + "s", "duration too long (at most 366d), got '" + "1" * 64 + "'…"),
    ],
)
def test_parse_duration_refuses_with_what_it_found(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        parse_duration(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("-15m", -900.0), ("+1h", 3600.0), ("30s", 30.0), (-900, -900.0), (0, 0.0)],
)
def test_parse_offset_accepts_a_sign(value: object, seconds: float) -> None:
    assert parse_offset(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-", "expected an offset like -15m or 30s, got '-'"),
        ("--5m", "expected an offset like -15m or 30s, got '--5m'"),
        ("-soon", "expected an offset like -15m or 30s, got '-soon'"),
        # a unit spelled out (`sunset -30min`)
        ("-30min", "expected an offset like -15m or 30s, got '-30min' (write -30m)"),
        ("+1 hour", "expected an offset like -15m or 30s, got '+1 hour' (write 1h)"),
        # a clock's form, as an unsigned one is told (`sunset -00:30`)
        (
            "-00:30:00",
            "expected an offset like -15m or 30s, got '-00:30:00' (a clock's time:"
            " write -30m)",
        ),
        (
            "-0:30",
            "expected an offset like -15m or 30s, got '-0:30' (a clock's time:"
            " write -30m or -30s)",
        ),
        (
            "+1:30:00",
            "expected an offset like -15m or 30s, got '+1:30:00' (a clock's time:"
            " write 1h30m)",
        ),
        # a dash that only looks like the minus (a phone's, a web page's): the
        # refusal said "a duration like 90s" of what read as -15m
        (
            "\u221215m",
            "expected an offset like -15m or 30s, got '\u221215m' (its sign is a"
            " minus sign (U+2212), not '-': write -15m)",
        ),
        (
            "\u2013 1h30m",
            "expected an offset like -15m or 30s, got '\u2013 1h30m' (its sign is an"
            " en dash (U+2013), not '-': write -1h30m)",
        ),
        (
            "\u2212soon",
            "expected an offset like -15m or 30s, got '\u2212soon' (its sign is a"
            " minus sign (U+2212), not '-')",
        ),
    ],
)
def test_parse_offset_refuses_garbage(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        parse_offset(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # a sun trigger's offset said in words: before the event is a minus
        ("30m before", "got '30m before' (write -30m)"),
        ("1 hour before", "got '1 hour before' (write -1h)"),
        ("10 min after", "got '10 min after' (write 10m)"),
        ("1h30m Before", "got '1h30m Before' (write -1h30m)"),
        # each part signed, as a sum: raspy signs the whole offset once
        ("-1h -30m", "got '-1h -30m' (write -1h30m)"),
        ("-1h-30m", "got '-1h-30m' (write -1h30m)"),
        ("+1h +5m", "got '+1h +5m' (write 1h5m)"),
        ("-1.5s -0.25s", "got '-1.5s -0.25s' (write -1.75s)"),
        # unsigned, an offset's refusal says offset, not duration
        ("soon", "got 'soon'"),
        ("30 minutes", "got '30 minutes' (write 30m)"),
        ("00:30", "got '00:30' (a clock's time: write 30m or 30s)"),
        (None, "got null"),
        (float("inf"), "got inf"),
    ],
)
def test_an_offset_refused_is_told_as_an_offset_with_raspys_form(
    value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=r"^expected an offset") as caught:
        parse_offset(value)
    assert str(caught.value) == f"expected an offset like -15m or 30s, {message}"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("400d", "'400d'"), ("-400d", "'-400d'"), (10**19, "1" + "0" * 19)],
)
def test_an_offset_too_long_is_told_so(value: object, shown: str) -> None:
    with pytest.raises(ValueError, match=r"^offset too long") as caught:
        parse_offset(value)
    assert str(caught.value) == f"offset too long (at most 366d), got {shown}"


def test_an_offset_of_hours_and_minutes_in_one_is_taken() -> None:
    """The documented form: units from large to small, the sign once."""
    assert [parse_offset(v) for v in ("1h30m", "-1h30m", "-1h 30m", "+1h 5m")] == [
        5400.0,
        -5400.0,
        -5400.0,
        3900.0,
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("0123456789.dhms -+ e"), max_size=20)
    | st.text(max_size=20)
    | st.floats()
    | st.integers()
)
def test_any_value_is_a_duration_or_a_value_error(value: object) -> None:
    """Hypothesis: parse or ValueError; a duration is finite, ≥ 0 and at most 366d."""
    for parse, low in ((parse_duration, 0.0), (parse_offset, -MAX_DURATION_S)):
        try:
            seconds = parse(value)
        except ValueError:
            continue
        assert low <= seconds <= MAX_DURATION_S
