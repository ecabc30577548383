"""raspy.client's public names (and raspy.client.mdp's Worker), imported at first
use (PEP 562), are what a type checker reads from the modules' imports for it: a name it lacks is an error in an
application's check, not an object."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_a_name_raspy_client_lacks_fails_a_type_check(
    tmp_path: Path,
) -> None:
    """The module's __getattr__, seen by mypy, made every name an object: a
    misspelt import passed the check and failed only at run time."""
    app = tmp_path / "app.py"
    app.write_text(
        "from raspy.client import Client, Clinet\n"
        "from raspy.client.mdp import Worker, Wroker\n\n"
        "reveal_type(Client)\n"
        "reveal_type(Worker)\n"
    )
    # in a process of its own: mypy's main raises the recursion limit for good,
    # which changed what later tests of the same worker saw (deep JSON, deep TOML)
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports=silent",
            "--no-error-summary",
            str(app),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
        env={**os.environ, "MYPYPATH": str(ROOT)},  # the raspy package, as it is here
    )
    out, err, status = ran.stdout, ran.stderr, ran.returncode
    assert err == ""
    lines = out.splitlines()
    assert any(
        'Module "raspy.client" has no attribute "Clinet"' in line for line in lines
    ), out
    assert any(
        'Module "raspy.client.mdp" has no attribute "Wroker"' in line for line in lines
    ), out
    assert any("raspy.client.mdp.Client" in line for line in lines), out
    assert any("raspy.client.worker.Worker" in line for line in lines), out
    assert status == 1
