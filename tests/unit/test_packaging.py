"""setup.cfg names every package (docs/style.md §1: `find:` ignores the folder mapping),
and an install carries the PEP 561 marker."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_MAPPING = {"raspy": "raspy", "raspy.actors": "actors", "raspy.storage": "storage"}


def _packages_on_disk() -> set[str]:
    found: set[str] = set()
    for package, folder in _MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *relative)))
    return found


def test_setup_cfg_lists_exactly_the_packages_that_exist() -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = set(parser["options"]["packages"].split())
    assert listed == _packages_on_disk()


@pytest.mark.timeout(60)
def test_an_installed_raspy_is_marked_typed(tmp_path: Path) -> None:
    """What setuptools copies for an install holds py.typed (PEP 561): without it
    mypy skips raspy.client in an application's checks ("missing library stubs or
    py.typed marker") and every name it imports is Any."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "--quiet",
            "build_py",
            "--build-lib",
            str(tmp_path),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=50,
    )
    assert (tmp_path / "raspy" / "py.typed").is_file()
    assert (tmp_path / "raspy" / "client" / "__init__.py").is_file()
