"""An import while the secrets file cannot be read: a file nested too deeply for
the TOML parser, a FIFO in its place. A scenario that names no secret imports
without a word; one that names one imports with a warning that says why the file
cannot be used; the core never fails nor waits on the file (docs/scenarios.md
"Secrets")."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
)

from raspy.rules.secret_uses import WHY
from raspy.secrets_file import SecretsFile

pytestmark = pytest.mark.timeout(30)

PLAIN = """\
name: plain
actions:
  - http: "https://ntfy.sh/my-house-7fq2k"
    body: door
"""
TELL = """\
name: tell
actions:
  - http: "https://ntfy.sh/{secret.topic}"
    body: door
"""


def _deep(path: Path) -> str:
    path.write_text(
        "a = " + "[" * (sys.getrecursionlimit() + 100) + "\n", encoding="utf-8"
    )
    return f"{path}: not TOML: nested too deeply"


def _fifo(path: Path) -> str:
    os.mkfifo(path, 0o600)
    return f"{path}: not a regular file (a pipe, socket or device)"


@pytest.mark.parametrize("make", [_deep, _fifo])
def test_an_import_with_a_secrets_file_that_cannot_be_read_warns_or_says_nothing(
    core: Core, tmp_path: Path, make: Callable[[Path], str]
) -> None:
    path = tmp_path / "secrets.toml"
    why = make(path)
    core.secrets = SecretsFile(path)
    core.start()
    assert core.request("import", document=PLAIN, source="plain.yaml") == (
        b"200",
        {"name": "plain", "replaced": False},
    )
    assert core.request("import", document=TELL, source="tell.yaml") == (
        b"200",
        {
            "name": "tell",
            "replaced": False,
            "warnings": [f"tell.yaml:3:11: warning: http: secret topic: {why}: {WHY}"],
        },
    )
