"""The command-line tools never show a traceback: a bad option value is a usage line
(exit 2), and an error nobody foresaw is one line and exit 70."""

from __future__ import annotations

import pytest

from raspy.cli import device, kv, kv_live, raspy, scenario
from raspy.cli.last_resort import EXIT_BUG, guarded


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["get", "--timeout", "inf", "/x"], "argument --timeout"),
        (["get", "--timeout", "nan", "/x"], "argument --timeout"),
        (["ls", "--timeout", "-1", "/"], "argument --timeout"),
        (["watch", "--count", "0", "/"], "argument --count"),
        (["watch", "--count", "-3", "/"], "argument --count"),
    ],
)
def test_a_live_command_with_a_bad_number_is_a_usage_line(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, `--timeout inf` reached the poll and ended in an OverflowError's
    traceback, and `--count 0` watched for ever."""
    assert kv.run(argv) == 2
    err = capsys.readouterr().err
    assert named in err
    assert "Traceback" not in err


@pytest.mark.parametrize("ttl", ["abc", "0", "-5", "inf", "nan"])
def test_set_with_a_bad_ttl_is_the_usage_line_of_every_duration(
    ttl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--ttl reads like --timeout (argparse's own 'invalid float value' before, and
    0, inf and nan went on to the server)."""
    assert kv.run(["set", "/x", "1", "--ttl", ttl]) == 2
    err = capsys.readouterr().err
    assert "argument --ttl: expected seconds" in err
    assert "Traceback" not in err


def test_an_unforeseen_error_is_one_line_and_exit_70(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RASPY_TRACEBACK", raising=False)

    def broken() -> int:
        raise OverflowError("cannot convert float infinity to integer")

    assert guarded("raspy-kv", broken) == EXIT_BUG
    err = capsys.readouterr().err
    assert err.startswith(
        "raspy-kv: internal error: OverflowError: cannot convert float infinity"
    )
    assert err.count("\n") == 1


def test_an_unforeseen_error_in_a_raspy_kv_command_is_headed_by_the_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every line of a command begins `raspy-kv COMMAND:`, this one too."""
    monkeypatch.delenv("RASPY_TRACEBACK", raising=False)

    def broken(args: object) -> int:
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(kv_live, "run", broken)  # the live commands' entry
    assert kv.main(["get", "/x"]) == EXIT_BUG
    err = capsys.readouterr().err
    assert err.startswith("raspy-kv get: internal error: OverflowError: cannot")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("module", "argv", "head"),
    [
        (scenario, ["scenario", "list"], "raspy scenario list"),
        (device, ["device", "pi.fake.lamp", "get"], "raspy device"),
    ],
    ids=["scenario", "device"],
)
def test_an_unforeseen_error_in_a_raspy_command_is_headed_by_the_command(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    module: object,
    argv: list[str],
    head: str,
) -> None:
    """`raspy: internal error` inside `raspy scenario list`: its other lines are
    headed `raspy scenario list:`, and raspy-kv's name the command too."""
    monkeypatch.delenv("RASPY_TRACEBACK", raising=False)

    def broken(args: object) -> int:
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(module, "run", broken)  # the command's entry
    assert raspy.main(argv) == EXIT_BUG
    err = capsys.readouterr().err
    assert err.startswith(f"{head}: internal error: OverflowError: cannot")
    assert err.count("\n") == 1


def test_an_unforeseen_error_before_a_command_is_chosen_is_headed_raspy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RASPY_TRACEBACK", raising=False)

    def broken() -> object:
        raise OverflowError("no parser")

    monkeypatch.setattr(raspy, "build_parser", broken)
    assert raspy.main(["status"]) == EXIT_BUG
    assert capsys.readouterr().err.startswith("raspy: internal error: OverflowError")


def test_with_raspy_traceback_set_the_error_goes_through_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RASPY_TRACEBACK", "1")

    def broken() -> int:
        raise KeyError("x")

    with pytest.raises(KeyError):
        guarded("raspy", broken)


def test_usage_errors_and_ctrl_c_pass_through_unchanged() -> None:
    def usage() -> int:
        raise SystemExit(2)

    def interrupted() -> int:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit):
        guarded("raspy", usage)
    with pytest.raises(KeyboardInterrupt):
        guarded("raspy", interrupted)
    assert guarded("raspy", lambda: 0) == 0
