"""`raspy status`'s UPTIME and the web face's durations come from one function
(they were two copies of the same arithmetic): each keeps its own look."""

from __future__ import annotations

import pytest

from raspy.cli import status
from raspy.elapsed_text import elapsed_text

SPANS = [0, 41.9, 60, 281.513, 3599, 3600, 3600 * 3 + 720, 86399, 86400 * 2 + 14400]


@pytest.mark.timeout(10)
def test_a_page_says_the_two_largest_units() -> None:
    assert [elapsed_text(s) for s in SPANS] == [
        "0 s",
        "41 s",
        "1 min 0 s",
        "4 min 41 s",
        "59 min 59 s",
        "1 h 0 min",
        "3 h 12 min",
        "23 h 59 min",
        "2 d 4 h",
    ]


@pytest.mark.timeout(10)
def test_the_status_column_writes_them_compact_and_padded() -> None:
    assert [elapsed_text(s, compact=True) for s in SPANS] == [
        "0m00s",
        "0m41s",
        "1m00s",
        "4m41s",
        "59m59s",
        "1h00m",
        "3h12m",
        "23h59m",
        "2d04h",
    ]


@pytest.mark.timeout(10)
def test_raspy_status_shows_a_running_parts_uptime_compact() -> None:
    def row(state: str, uptime_s: float) -> status.Row:
        return status.Row("pi", "clone", state, 1, uptime_s, 0, (), "")

    lines = status.table([row("running", 86400 * 2 + 14400), row("stopped", 50)])
    assert [line.split()[3] for line in lines] == ["UPTIME", "2d04h", "-"]
