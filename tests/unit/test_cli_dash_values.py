"""A value that begins with `-` after its option and a space (`--since -1h`): read
as the value, as after `=`; argparse read it as an option and said the option
"expected one argument"."""

from __future__ import annotations

import argparse

import pytest

from raspy.cli.history import when
from raspy.cli.raspy import build_parser


def parsed(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("argv", "since", "until"),
    [  # until None: not given (now)
        (["--since", "-1h"], "-1h", None),
        (["--since", "-1h", "--until", "-10m"], "-1h", "-10m"),
        (["--sin", "-2d"], "-2d", None),  # an abbreviation, as argparse allows
        (["--since=-1h"], "-1h", None),
    ],
)
def test_a_dash_value_after_a_space_is_the_options(
    argv: list[str], since: str, until: str | None
) -> None:
    args = parsed("history", "pi.fake.attic", *argv)
    assert (args.since, args.until) == (since, until)


@pytest.mark.timeout(10)
def test_a_dash_number_that_is_not_plain_reaches_the_options_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parsed("call", "pi.echo", "--timeout", "-1e3")
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "raspy call: argument --timeout: expected seconds > 0, at most 31536000 "
        '(a year), got "-1e3"\n'
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "after", [[], ["--json"], ["-h"]], ids=["nothing", "an option", "a short option"]
)
def test_an_option_with_no_value_is_said_to_want_one(
    after: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parsed("history", "pi.fake.attic", "--since", *after)
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "raspy history: argument --since: expected a value, got none\n"
    )


@pytest.mark.timeout(10)
def test_after_a_double_dash_a_dash_word_is_a_positional() -> None:
    args = parsed("history", "--since", "-1h", "--", "-x")
    assert (args.since, args.key) == ("-1h", "-x")


@pytest.mark.timeout(10)
def test_a_minus_before_a_duration_means_back_from_now_too() -> None:
    assert when("-1h", 10_000.0) == when("1h", 10_000.0) == 6_400.0
    with pytest.raises(ValueError, match="expected a duration back from now"):
        when("--1h", 10_000.0)


def kv_parsed(*argv: str) -> argparse.Namespace:
    from raspy.cli.kv import _build_parser

    return _build_parser().parse_args(list(argv))


@pytest.mark.timeout(10)
def test_a_short_options_dash_value_after_a_space_is_its_value() -> None:
    """`-o -x.dump`: the value, as with a long option (it was said to have none)."""
    args = kv_parsed("dump", "--data-dir", "d", "-o", "-x.dump")
    assert args.output == "-x.dump"


@pytest.mark.timeout(10)
def test_a_short_option_with_its_value_attached_is_never_taken_as_a_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--data-dir -o/tmp/out`: `-o/tmp/out` is the option -o, not the data dir."""
    with pytest.raises(SystemExit) as exited:
        kv_parsed("dump", "--data-dir", "-o/tmp/out")
    assert exited.value.code == 2
    assert "argument --data-dir: expected a value, got none" in capsys.readouterr().err


@pytest.mark.timeout(10)
@pytest.mark.parametrize("number", ["-3", "-0.5", "-.5", "-1.5e2", "-1E3", "-2e-1"])
@pytest.mark.parametrize(
    "options",
    [
        ([], []),
        (["--json"], []),
        ([], ["--timeout", "3"]),
        (["--host", "pi"], ["--json"]),
    ],
    ids=["alone", "options before", "options after", "a flag after"],
)
def test_a_negative_number_is_a_value_wherever_it_stands(
    number: str, options: tuple[list[str], list[str]]
) -> None:
    before, after = options
    args = parsed("device", *before, "pi.fake.dimmer", "level", number, *after)
    assert (args.name, args.action, args.value) == ("pi.fake.dimmer", "level", number)
    # a real option after it is still one
    assert args.json is ("--json" in before + after)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("word", ["-x", "-inf", "-1e", "--1"])
def test_a_dash_word_that_is_no_number_is_still_an_option(
    word: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parsed("device", "pi.fake.dimmer", "level", word)
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"raspy: unrecognized arguments: {word}\n"
