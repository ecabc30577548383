"""`raspy keys DIR NAME` as a process: a NAME with a control character in it (a
newline, a tab, ESC, DEL, a C1 code) is refused, exit 2, naming the character, and
nothing is written; the files were made with the newline in their names, which `ls`
and every script that reads file names a line at a time take for two."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(30)


def _keys(folder: Path, name: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspy", "keys", str(folder), name],
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("name", "shown", "code"),
    [
        ("a\nb", '"a\\nb"', "U+000A"),
        ("hub\t", '"hub\\t"', "U+0009"),
        ("\x1b[31mhub", '"\\u001b[31mhub"', "U+001B"),
        ("hub\x7f", '"hub\\u007f"', "U+007F"),
        ("hub\x85", '"hub\\u0085"', "U+0085"),
    ],
)
def test_a_name_with_a_control_character_is_refused(
    tmp_path: Path, name: str, shown: str, code: str
) -> None:
    assert _keys(tmp_path / "keys", name) == (
        2,
        "",
        f"raspy keys: bad NAME {shown}: it holds a control character ({code}); "
        "a key file's name is printable text without /\n",
    )
    assert not (tmp_path / "keys").exists()


def test_a_printable_name_with_spaces_and_letters_is_taken(tmp_path: Path) -> None:
    status, _out, err = _keys(tmp_path, "Küche lamp")
    assert (status, err) == (0, "")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "Küche lamp.key",
        "Küche lamp.key_secret",
    ]
