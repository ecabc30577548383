"""Cron ranges that wrap around the end of their field (`5-2` in minutes, `FRI-MON`).
croniter reads one as it is meant, on past the end and on from the start (5-2 is
5-59,0-2), so it is taken; with a step it counts across the wrap one off (50-10/7
fired at :05 where :04 is meant), so that is refused at its place, with the two
ranges to write."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from raspy.rules.document import validate_scenario
from raspy.rules.timing_cron import parse_cron

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC).timestamp()  # a Monday, 03:00


def fires(expression: str, count: int) -> list[str]:
    schedule, after, seen = parse_cron(expression), T0, []
    for _ in range(count):
        after = schedule.next_after(after, UTC)
        seen.append(datetime.fromtimestamp(after, UTC).strftime("%a %H:%M"))
    return seen


@pytest.mark.timeout(10)
def test_a_minute_range_that_wraps_is_read_on_from_the_fields_start() -> None:
    assert fires("58-1 * * * *", 5) == [
        "Mon 03:01", "Mon 03:58", "Mon 03:59", "Mon 04:00", "Mon 04:01",
    ]  # fmt: skip
    assert fires("5-2 3 * * *", 4) == [
        "Mon 03:01",
        "Mon 03:02",
        "Mon 03:05",
        "Mon 03:06",
    ]


@pytest.mark.timeout(10)
def test_a_weekday_range_that_wraps_is_friday_to_monday() -> None:
    assert fires("0 9 * * FRI-MON", 4) == [
        "Mon 09:00",
        "Fri 09:00",
        "Sat 09:00",
        "Sun 09:00",
    ]
    assert fires("0 9 * * 5-1", 5)[4] == "Mon 09:00"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "50-10/7 * * * *",
            "minute field: a range that wraps around takes no step ('50-10/7'); "
            "write 50-59/7,4-10/7",
        ),
        (
            "0 20-3/3 * * *",
            "hour field: a range that wraps around takes no step ('20-3/3'); "
            "write 20-23/3,2-3/3",
        ),
        (
            "0 0 * * FRI-MON/2",
            "weekday field: a range that wraps around takes no step ('FRI-MON/2'); "
            "write 5-6/2,0-1/2",
        ),
        (
            "0 0 * NOV-FEB/2 *",
            "month field: a range that wraps around takes no step ('NOV-FEB/2'); "
            "write 11-12/2,1-2/2",
        ),
    ],
)
def test_a_wrapping_range_with_a_step_is_refused_naming_the_field(
    expression: str, message: str
) -> None:
    with pytest.raises(ValueError, match="takes no step") as refused:
        parse_cron(expression)
    assert str(refused.value) == f"cron '{expression}': {message}"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "expression",
    [
        "0 0 * * 7-2/2",
        "0 8 * * 1-7/2",  # Monday to Sunday: 7 as an end is the week's last day
        "0 0 * * 3-7/2",
        "0 0 * * WED-SUN/2",
        "5-2/1 * * * *",
        "1-5/2 * * * *",
    ],
)
def test_a_step_without_a_wrap_is_taken(expression: str) -> None:
    parse_cron(expression)


@pytest.mark.timeout(10)
def test_the_refusal_is_at_its_line_and_column() -> None:
    text = "name: a\ntriggers:\n  - cron: '50-10/7 * * * *'\nactions: [{wait: 1s}]\n"
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:3:11: triggers[0].cron: cron '50-10/7 * * * *': minute field: a range "
        "that wraps around takes no step ('50-10/7'); write 50-59/7,4-10/7"
    ]
