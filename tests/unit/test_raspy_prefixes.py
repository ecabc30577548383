"""Every line `raspy` writes about a command is headed `raspy COMMAND:`, as argparse
heads a usage error (`raspy call: argument --server: …`); some were `raspy: call:`."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspy.cli.raspy import main


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["keys", "{tmp}", ""], 'raspy keys: bad NAME ""'),
        (["keys", "{tmp}/file", "k"], "raspy keys: {tmp}/file: not a directory"),
        (
            ["call", "pi.echo", "--server-key", "hub.key"],
            "raspy call: --server-key and --client-cert go together",
        ),
        (["call", "--server", "tcp://127.0.0.1:1"], "raspy call: SERVICE is required"),
        (["call", "pi.echo", "--bogus"], "raspy call: unrecognized arguments: --bogus"),
        (
            ["call", "pi.echo", "--wait", "5", "--server", "tcp://127.0.0.1:1"],
            "raspy call: --wait is for --titanic; a plain request waits --timeout S "
            "for each of its --retries",
        ),
        (
            ["scenario", "validate", "x.yaml", "--host", "h"],
            "raspy scenario validate: unrecognized arguments: --host h",
        ),
        (
            ["web-token", "--data-dir", "{tmp}/file"],
            "raspy web-token: {tmp}/file: not a directory",
        ),
    ],
)
def test_a_commands_line_is_headed_by_the_command(
    argv: list[str], line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    try:
        status = main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    except SystemExit as exc:  # a usage error argparse's way
        status = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(line.replace("{tmp}", str(tmp_path))), err
    assert len(err.splitlines()) == 1
