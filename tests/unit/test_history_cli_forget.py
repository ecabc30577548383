"""`raspy history KEY --forget --since 1h`: --forget deletes every recorded value
of KEY (docs/history.md), whatever range is given; the range was taken in silence
and a user who meant the last hour lost years. Refused, as --plot is with it: one
line and status 2, before the hub is asked."""

from __future__ import annotations

import pytest

from raspy.cli.raspy import main

_SAID = "--forget: goes without --since and --until (it deletes every value)"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "given",
    [
        ["--since", "1h"],
        ["--until", "1h"],
        ["--since=-2h"],
        ["--since", "7d"],
        ["--since", "24h"],  # the default, given: a range all the same
        ["--until", "now"],
    ],
)
def test_forget_with_a_range_is_refused_before_the_hub_is_asked(
    given: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # a port nothing listens on: the refusal must come before any request
    hub = ["--server", "tcp://127.0.0.1:1", "--timeout", "0.2"]
    assert main(["history", "pi.fake.attic", "--forget", *given, *hub]) == 2
    assert capsys.readouterr().err == f"raspy history: {_SAID}\n"
