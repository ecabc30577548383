"""raspy.client's public names (and raspy.client.mdp's Worker), imported at first
use (PEP 562), are what a type checker reads from the modules' imports for it: a name it lacks is an error in an
application's check, not an object. Its submodules are attributes too, imported
when first asked for (`raspy.client.clone.CloneClient` after `import raspy.client`)."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the package's submodules, as its directory holds them
_SUBMODULES = sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "raspy/client")]))


@pytest.mark.timeout(60)
def test_a_submodule_is_an_attribute_of_raspy_client_imported_at_first_use() -> None:
    """`import raspy.client` loads none of them; `raspy.client.clone.CloneClient`
    (the path the README names) raised AttributeError unless a part had imported
    raspy.client.clone; a name that is neither stays an AttributeError."""
    code = (
        "import json, sys\n"
        "import raspy.client\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('raspy.client.'))\n"
        "name = raspy.client.clone.CloneClient.__name__\n"
        f"modules = [getattr(raspy.client, m).__name__ for m in {_SUBMODULES!r}]\n"
        "try:\n"
        "    raspy.client.nope\n"
        "except AttributeError as error:\n"
        "    missing = str(error)\n"
        "print(json.dumps([loaded, name, modules, missing]))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert ran.stderr == ""
    assert json.loads(ran.stdout) == [
        [],
        "CloneClient",
        [f"raspy.client.{m}" for m in _SUBMODULES],
        "module 'raspy.client' has no attribute 'nope'",
    ]


@pytest.mark.timeout(120)
def test_a_name_raspy_client_lacks_fails_a_type_check(
    tmp_path: Path,
) -> None:
    """The module's __getattr__, seen by mypy, made every name an object: a
    misspelt import passed the check and failed only at run time."""
    app = tmp_path / "app.py"
    app.write_text(
        "import raspy.client\n"
        "from raspy.client import Client, Clinet\n"
        "from raspy.client.mdp import Worker, Wroker\n\n"
        "reveal_type(Client)\n"
        "reveal_type(Worker)\n"
        "reveal_type(raspy.client.clone.CloneClient)\n"
        "raspy.client.nope\n" + "".join(f"raspy.client.{m}\n" for m in _SUBMODULES)
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
    assert any("-> raspy.client.clone.CloneClient" in line for line in lines), out
    # a submodule is an attribute for the checker too, a name that is none is not
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 3, out
    assert any('Module has no attribute "nope"' in line for line in errors), out
    assert status == 1
