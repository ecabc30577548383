"""An unknown option is named, before the required ones missing: `raspy-kv backup
--bogus` said only `the following arguments are required: --data-dir, --to`, and so
did `raspy-kv --bogus backup`, the option before the sub-command."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from raspy.cli import kv, poller
from raspy.cli import raspy as raspy_cli


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("main", "argv", "line"),
    [
        (
            kv.main,
            ["backup", "--bogus"],
            "raspy-kv backup: unrecognized arguments: --bogus; the following "
            "arguments are required: --data-dir, --to",
        ),
        (
            kv.main,
            ["backup", "--data-dir", "d", "--bogus=1", "-q"],
            "raspy-kv backup: unrecognized arguments: --bogus=1 -q; the following "
            "arguments are required: --to",
        ),
        (
            poller.main,
            ["--bogus"],
            "raspy-poller: unrecognized arguments: --bogus; the following "
            "arguments are required: --connect, --service",
        ),
        # one before the sub-command: the sub-command's parser says the error
        (
            kv.main,
            ["--bogus", "backup"],
            "raspy-kv backup: unrecognized arguments: --bogus; the following "
            "arguments are required: --data-dir, --to",
        ),
        (
            kv.main,
            ["--bogus", "backup", "--data-dir", "d", "-q"],
            "raspy-kv backup: unrecognized arguments: --bogus -q; the following "
            "arguments are required: --to",
        ),
        (
            raspy_cli.main,
            ["scenario", "--replace", "import"],
            "raspy scenario import: unrecognized arguments: --replace; the "
            "following arguments are required: FILE",
        ),
        (
            raspy_cli.main,
            ["--bogus", "scenario", "--bad", "import"],
            "raspy scenario import: unrecognized arguments: --bogus --bad; the "
            "following arguments are required: FILE",
        ),
        # known options, their abbreviations, values and negative numbers are not
        # named; nor what follows `--`
        (
            kv.main,
            ["backup", "--data", "d", "--", "--bogus"],
            "raspy-kv backup: the following arguments are required: --to",
        ),
        (
            poller.main,
            ["--conn", "tcp://127.0.0.1:5514", "-1.5e2"],
            "raspy-poller: the following arguments are required: --service",
        ),
    ],
)
def test_an_unknown_option_is_named_before_the_required_ones(
    main: Callable[[list[str]], int],
    argv: list[str],
    line: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        status = main(argv)
    except SystemExit as exc:  # a usage error argparse's way
        status = exc.code  # type: ignore[assignment]
    assert (status, capsys.readouterr().err) == (2, line + "\n")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("argv", "line"),
    [
        # the top parser leaves a sub-command's words to it (none of them are its)
        (["call", "--bogus"], "raspy call: unrecognized arguments: --bogus"),
        # and names its own unknown ones, headed by the sub-command all the same
        (["--bogus", "call"], "raspy call: unrecognized arguments: --bogus"),
        (
            ["--bogus", "call", "--bad"],
            "raspy call: unrecognized arguments: --bogus --bad",
        ),
    ],
)
def test_a_sub_commands_options_are_its_own(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = raspy_cli.main(argv)
    except SystemExit as exc:  # a usage error argparse's way
        status = exc.code  # type: ignore[assignment]
    assert (status, capsys.readouterr().err) == (2, line + "\n")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["set", "/k", "v", "extra"], "raspy-kv set: unrecognized arguments: extra"),
        (["get", "/k", "--bogus"], "raspy-kv get: unrecognized arguments: --bogus"),
        (["--bogus", "ls", "/"], "raspy-kv ls: unrecognized arguments: --bogus"),
        (
            ["check", "--data-dir", "d", "more"],
            "raspy-kv check: unrecognized arguments: more",
        ),
    ],
)
def test_a_raspy_kv_commands_extra_words_are_headed_by_it(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """README: a line of a sub-command begins with the tool and the sub-command,
    whatever kind of line it is; `raspy-kv set /k v extra` said `raspy-kv:`."""
    assert (kv.main(argv), capsys.readouterr().err) == (2, line + "\n")
