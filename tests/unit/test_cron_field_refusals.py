"""Every cron expression refused for a value past its field's range says which field
and which value (`_refuse_out_of_range`), before croniter sees it: croniter's own
"out of range" names neither field nor value, and is never what a user reads."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from raspy.rules.timing_cron import parse_cron

_NAMED = re.compile(
    r"(minute|hour|day|month|weekday) field: \d+ is out of range \(\d-\d\d?\)"
)
_NUMBER = st.integers(min_value=0, max_value=99).map(str)
_NAME = st.sampled_from(["jan", "dec", "mon", "sun", "fri", "L", "l", "W", "w"])
_VALUE = st.one_of(
    _NUMBER,
    _NAME,
    st.just("*"),
    st.just("?"),
    _NUMBER.map(lambda n: f"{n}W"),  # the weekday nearest a day
    _NUMBER.map(lambda n: f"W{n}"),
    _NUMBER.map(lambda n: f"L{n}"),  # the last such weekday of the month
    _NUMBER.map(lambda n: f"{n}L"),
    st.tuples(_NUMBER, _NUMBER).map(lambda p: f"{p[0]}#{p[1]}"),
)
_ITEM = st.one_of(
    _VALUE,
    st.tuples(_VALUE, _VALUE).map("-".join),  # a range
    st.tuples(_VALUE, _NUMBER).map("/".join),  # a step
    st.tuples(_VALUE, _VALUE, _NUMBER).map(lambda t: f"{t[0]}-{t[1]}/{t[2]}"),
)
_FIELD = st.lists(_ITEM, min_size=1, max_size=3).map(",".join)
# one field written, the others `*` (so that it is the one refused), or all five
_ONE_FIELD = st.tuples(st.integers(min_value=0, max_value=4), _FIELD).map(
    lambda p: " ".join(p[1] if i == p[0] else "*" for i in range(5))
)
_EXPRESSION = st.one_of(
    _ONE_FIELD, st.lists(_FIELD, min_size=5, max_size=5).map(" ".join)
)


@pytest.mark.timeout(60)
@settings(max_examples=1000, deadline=None)
@given(_EXPRESSION)
@example("0 0 W32 * *")  # the nearest weekday, its W written first
@example("0 0 * * L9")  # the last weekday 9 of the month
def test_an_out_of_range_refusal_always_names_its_field_and_value(
    expression: str,
) -> None:
    try:
        parse_cron(expression)
    except ValueError as exc:
        said = str(exc)
        if "out of range" in said or "out of bands" in said:
            assert _NAMED.search(said), said
