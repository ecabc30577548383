"""Which expressions read the time (raspy.rules.document_when.reads_time): a `when:`
or a `wait_until` of one is tested again as the minute turns (docs/scenarios.md);
one that reads only keys, when a key changes."""

from __future__ import annotations

import pytest

from raspy.rules.document_when import reads_time
from raspy.rules.expr import compile_expression


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hour() >= 7", True),
        ("between('22:00', '06:00')", True),
        ("kv('/plan/{now:%H}') == 1", True),
        # `{now}` is the time too (ISO 8601): it was taken for a fixed key
        ("kv('/log/{now}') == 1", True),
        ("kv('/x') == 1", False),
        ("kv('/x/{host}') == 1", False),
    ],
)
def test_an_expression_reads_the_time_when_a_time_function_or_now_is_in_it(
    text: str, expected: bool
) -> None:
    assert reads_time(compile_expression(text)) is expected
