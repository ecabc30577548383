"""A bad number given to an option is said as the other argument errors say it:
the value in double quotes as `shown` writes outside text, never Python's repr
(`raspy-kv backup --keep 0` said `got '0'`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from raspy.cli import raspyd
from raspy.cli.kv import _build_parser


def _refusal(capsys: pytest.CaptureFixture[str], parse: Callable[[], object]) -> str:
    with pytest.raises(SystemExit) as exited:
        parse()
    assert exited.value.code == 2
    return capsys.readouterr().err


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("keep", "reason"),
    [
        ("0", 'expected a count >= 1, got "0"'),
        ("-2", 'expected a count >= 1, got "-2"'),
        ("x", 'expected a count, got "x"'),
        ("1.5", 'expected a count, got "1.5"'),
    ],
)
def test_a_bad_keep_is_said_as_a_count(
    capsys: pytest.CaptureFixture[str], keep: str, reason: str
) -> None:
    argv = ["backup", "--data-dir", "d", "--to", "b", "--keep", keep]
    err = _refusal(capsys, lambda: _build_parser().parse_args(argv))
    assert err == f"raspy-kv backup: argument --keep: {reason}\n"


@pytest.mark.timeout(10)
def test_a_good_keep_is_the_count() -> None:
    argv = ["backup", "--data-dir", "d", "--to", "b", "--keep", "3"]
    assert _build_parser().parse_args(argv).keep == 3


@pytest.mark.timeout(10)
def test_a_port_base_that_is_no_number_is_quoted_as_outside_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--port-base", "65x"]
    err = _refusal(capsys, lambda: raspyd.build_parser().parse_args(argv))
    assert err.endswith('argument --port-base: expected a port number, got "65x"\n')
