"""`raspy scenario VERB NAME` with an empty NAME (`"$NAME"` with NAME unset): bad
input, named, status 2, as README says of every tool; it went to the hub, which
refused it as no string (`raspy scenario enable: : enable: expected "name": a
string`), status 1."""

from __future__ import annotations

import pytest

from raspy.cli.raspy import main


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "argv",
    [
        ["show", ""],
        ["enable", ""],
        ["disable", "a", ""],
        ["run", ""],
        ["stop", ""],
        ["delete", ""],
        ["export", ""],
    ],
)
def test_an_empty_name_is_bad_input_said_before_the_hub_is_asked(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # a port nothing listens on: the line must come before any request
    given = ["scenario", *argv, "--server", "tcp://127.0.0.1:1", "--timeout", "0.2"]
    with pytest.raises(SystemExit) as exited:
        main(given)
    assert (exited.value.code, capsys.readouterr().err) == (
        2,
        f"raspy scenario {argv[0]}: argument NAME: expected a scenario name, got "
        "an empty one\n",
    )
