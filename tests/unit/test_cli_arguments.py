"""argparse types of the command-line tools: a value or a one-line usage error."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.cli.arguments import seconds_argument


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ten", 'expected seconds, got "ten"'),
        ("0", 'expected seconds > 0, got "0"'),
        ("-1.5", 'expected seconds > 0, got "-1.5"'),
        ("nan", 'expected seconds > 0, got "nan"'),
    ],
)
def test_bad_seconds_are_refused_naming_the_value(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        seconds_argument(text)
    assert str(refused.value) == message


def test_seconds_are_read_as_a_float() -> None:
    assert seconds_argument("2.5") == 2.5


@given(st.text(max_size=40))
def test_any_text_gives_seconds_above_zero_or_a_usage_error(text: str) -> None:
    try:
        seconds = seconds_argument(text)
    except argparse.ArgumentTypeError:
        return
    assert seconds > 0 or math.isinf(seconds)
