"""`raspy call` prints a reply frame as text only when it is printable, as
`raspy-kv` does: a frame comes from whichever worker serves the service (any
client of the hub may register one), and ESC or a C1 control printed raw would
act on the terminal of whoever asked (its colours, its title, the screen)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.daemon import hostname, running_daemon


def _call(endpoint: str, *frames: str) -> subprocess.CompletedProcess[bytes]:
    service = f"{hostname()}.echo"
    command = [sys.executable, "-m", "raspy.cli.raspy", "call", "--server", endpoint]
    return subprocess.run(
        [*command, service, "--", *frames],
        capture_output=True,
        timeout=30,
        check=False,
    )


def test_a_reply_frame_with_control_characters_is_printed_as_hex(
    tmp_path: Path,
) -> None:
    frames = ["plain text, °C", "a\x1b[2Jb", "c\u009b31md", "e\nf"]
    with running_daemon(tmp_path / "data") as daemon:
        result = _call(daemon.endpoint, *frames)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").splitlines() == [
        "plain text, °C",
        "0x" + b"a\x1b[2Jb".hex(),
        "0x" + "c\u009b31md".encode().hex(),
        "0x" + b"e\nf".hex(),
    ]
