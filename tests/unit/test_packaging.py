"""setup.cfg names every package (docs/style.md §1: `find:` ignores the folder mapping)."""

from __future__ import annotations

import configparser
from pathlib import Path

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
