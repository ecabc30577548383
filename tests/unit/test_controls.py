"""raspy.controls: what a person types, turned into the value a control writes or
refused with a reason they read; hypothesis for any text in."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.controls import (
    Control,
    ControlError,
    as_input,
    breaks,
    check,
    default_label,
    set_elsewhere,
)
from raspy.errors import quote

pytestmark = pytest.mark.timeout(60)

SETPOINT = Control("/house/living/setpoint", "Setpoint", "number", 15, 25, 0.5, "°C")
MODE = Control("/house/mode", "Mode", "choice", options=("home", "away", "night"))
GUESTS = Control("/house/guests", "Guests", "switch")
NOTE = Control("/house/note", "Note", "text", max_length=10)
ANY_NUMBER = Control("/house/n", "N", "number")
CONTROLS = (SETPOINT, MODE, GUESTS, NOTE, ANY_NUMBER)


@pytest.mark.parametrize(
    ("control", "raw", "value"),
    [
        (SETPOINT, "22.5", 22.5),
        (SETPOINT, " 20 ", 20),
        (SETPOINT, "20.0", 20),
        (SETPOINT, "2.25e1", 22.5),
        (MODE, "away", "away"),
        (GUESTS, "on", True),
        (GUESTS, "False", False),
        (NOTE, "a note", "a note"),
        (NOTE, "", ""),  # an empty text is a value: the note cleared
        (ANY_NUMBER, "-0.1", -0.1),
        # a comma as the decimal mark (a browser in German)
        (SETPOINT, "21,5", 21.5),
        (SETPOINT, " 20,0 ", 20),
        (ANY_NUMBER, "-0,25", -0.25),
        (ANY_NUMBER, ",5", 0.5),
        # three decimals after a whole part of zeros: no thousands group
        (ANY_NUMBER, "0,125", 0.125),
        (ANY_NUMBER, "-0,250", -0.25),
    ],
)
def test_a_value_the_control_takes_is_the_json_value_to_write(
    control: Control, raw: str, value: object
) -> None:
    got = check(control, raw)
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(
    ("control", "raw", "reason"),
    [
        (SETPOINT, "22.3", "22.3 is not on the 0.5 step from 15"),
        (SETPOINT, "14.5", "14.5 is below the minimum, 15"),
        (SETPOINT, "30", "30 is above the maximum, 25"),
        (SETPOINT, "warm", "'warm' is not a number"),
        (SETPOINT, "nan", "'nan' is not a number"),
        # nothing sent (a field cleared before Set): asked for, not quoted
        (SETPOINT, "", "enter a number"),
        (SETPOINT, "  ", "enter a number"),
        (MODE, "", "choose one of home, away, night"),
        (GUESTS, " ", "choose on or off (true or false)"),
        (MODE, "holiday", "'holiday' is not one of home, away, night"),
        (GUESTS, "maybe", "'maybe' is not on or off (true or false)"),
        (NOTE, "x" * 11, "a text of 11 characters, more than 10"),
        (NOTE, "a\nb", "the text holds '\\n', a control character"),
        (ANY_NUMBER, "1e400", "1e400 is too large"),
        # said as the number read, not as typed
        (SETPOINT, "1e1", "10 is below the minimum, 15"),
        (SETPOINT, "1,5", "1.5 is below the minimum, 15"),
        (SETPOINT, "2.13e1", "21.3 is not on the 0.5 step from 15"),
        # a comma that may be a thousands separator: never read as another number
        (
            SETPOINT,
            "1,000",
            "'1,000' could mean 1 or 1000: write the number "
            "without a thousands separator",
        ),
        (
            ANY_NUMBER,
            "-1,250",
            "'-1,250' could mean -1.25 or -1250: write the "
            "number without a thousands separator",
        ),
        (SETPOINT, "21,5,0", "'21,5,0' is not a number"),
        (SETPOINT, "21.5,0", "'21.5,0' is not a number"),
        # too long to be a number: said so before any reading of its comma
        (
            ANY_NUMBER,
            "9" * 100 + ",123",
            f"{quote('9' * 100 + ',123')} is not a number",
        ),
    ],
)
def test_a_value_the_control_does_not_take_is_refused_with_a_reason(
    control: Control, raw: str, reason: str
) -> None:
    with pytest.raises(ControlError) as refused:
        check(control, raw)
    assert str(refused.value) == reason


@given(st.sampled_from(CONTROLS), st.text(max_size=80))
def test_any_text_gives_a_value_that_fits_or_a_typed_refusal(
    control: Control, raw: str
) -> None:
    try:
        value = check(control, raw)
    except ControlError as exc:
        reason = str(exc)
    else:
        reason = ""
        assert breaks(control, value) is None
    if reason:  # a refusal says why
        assert reason.strip() == reason


_STEPS = st.integers(min_value=0, max_value=20)


@given(_STEPS)
def test_every_value_on_the_step_round_trips(steps: int) -> None:
    value = check(SETPOINT, str(15 + steps * 0.5))
    assert check(SETPOINT, as_input(SETPOINT, value)) == value
    assert breaks(SETPOINT, value) is None


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**60), 2**60))
def test_any_number_round_trips_through_its_text(number: float) -> None:
    value = check(ANY_NUMBER, as_input(ANY_NUMBER, number))
    assert value == number
    assert check(ANY_NUMBER, as_input(ANY_NUMBER, value)) == value
    assert isinstance(value, int | float)
    assert math.isfinite(value)


def test_a_tree_value_that_breaks_the_spec_is_named() -> None:
    assert breaks(SETPOINT, True) == "true is not a number"
    assert breaks(SETPOINT, 22.3) == "22.3 is not on the 0.5 step from 15"
    assert breaks(GUESTS, "yes") == "'yes' is not on or off (true or false)"
    assert breaks(MODE, 3) == "3 is not one of home, away, night"
    assert breaks(MODE, "night") is None


def test_a_tree_value_that_breaks_the_spec_is_said_in_a_sentence_for_the_page() -> None:
    """The page said "value in the tree: 'party' is not one of home, away, …"."""
    holiday = Control("/house/mode", "Mode", "choice", options=("home", "holiday"))
    assert set_elsewhere(holiday, "party") == (
        'Set elsewhere to "party", which is not one of the choices'
    )
    assert set_elsewhere(SETPOINT, "warm") == (
        'Set elsewhere to "warm", which is not a number'
    )
    assert set_elsewhere(SETPOINT, 40) == (
        "Set elsewhere to 40, which is above the maximum, 25"
    )
    assert set_elsewhere(SETPOINT, 22.3) == (
        "Set elsewhere to 22.3, which is not on the 0.5 step from 15"
    )
    # an infinity as the page shows the value beside it (JavaScript's word)
    assert set_elsewhere(SETPOINT, math.inf) == (
        "Set elsewhere to Infinity, which is not a number"
    )
    assert set_elsewhere(SETPOINT, -math.inf) == (
        "Set elsewhere to -Infinity, which is not a number"
    )
    assert set_elsewhere(GUESTS, "yes") == (
        'Set elsewhere to "yes", which is neither on nor off'
    )
    assert set_elsewhere(NOTE, 5) == "Set elsewhere to 5, which is not a text"
    assert set_elsewhere(NOTE, "x" * 11) == (
        "Set elsewhere to a text of 11 characters, more than the 10 it takes"
    )
    assert set_elsewhere(NOTE, "a\nb") == (
        "Set elsewhere to a text that holds '\\n', a control character"
    )
    assert set_elsewhere(SETPOINT, 21.5) is None


def test_the_default_label_is_the_keys_last_part() -> None:
    assert default_label("/house/living/setpoint") == "Setpoint"
    assert default_label("/house/away_mode") == "Away mode"
