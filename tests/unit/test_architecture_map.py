"""docs/architecture.md's module map names every module under raspy/, actors/ and
storage/ (a new one was added to the code and left out of the map more than once:
`scenario_files.py`, `scenario_text.py`, the `timing_*` modules)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"\| `([^`]+)`(?: top level)? \| (.*)\|\s*$")


def _rows() -> dict[str, list[str]]:
    """Each row of the map: its folder and the names written in backticks in it."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        row = _ROW.match(line)
        if row is not None:
            rows[row.group(1)] = re.findall(r"`([^`]+)`", row.group(2))
    return rows


def _named(module: Path, names: list[str]) -> bool:
    """`x.py`, `x` (as in `titanic_*.py` (`output`, ...)), `sub/x.py` or a glob."""
    for written in names:
        name = written.rsplit("/", 1)[-1]
        if name in (module.name, module.stem) or (
            "*" in name and fnmatch.fnmatch(module.name, name)
        ):
            return True
    return False


@pytest.mark.timeout(10)
def test_every_module_is_named_in_the_module_map() -> None:
    rows = _rows()
    missing = []
    for top in ("raspy", "actors", "storage"):
        for module in sorted((REPO / top).rglob("*.py")):
            if module.name == "__init__.py":
                continue  # its package's row names it
            relative = module.relative_to(REPO)
            folders = [f"{p}/" for p in relative.parents if str(p) != "."]
            if not any(_named(module, rows.get(folder, [])) for folder in folders):
                missing.append(str(relative))
    assert missing == []
