"""Every `(README, "Section")` that raspy's own text points to (a help line, a
shipped config's comment, a docstring, a page of docs/) names a section the README
has: `raspy device -h` pointed to "Device services", which the README calls
"Devices", and two pages pointed to "Sensors on a second Pi", a step of a list."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
# `(README, Devices)`, `(README, "GPIO on a Raspberry Pi")`, `README "The daemon"`
# (unquoted, only after a comma: prose such as "the two README install commands")
REFERENCE: Final = re.compile(r"""README(?:,?\s+"([^"]+)"|,\s+([^)"]+)\))""")
HEADING: Final = re.compile(r"^#{2,4} (.+)$", re.MULTILINE)
# `**Title.** Text` or `**Title** is …`
RUN_IN: Final = re.compile(r"^\*\*([^*]+?)\.?\*\*", re.MULTILINE)
# where the pointers are: raspy's own code and files, the actors, the docs
SEARCHED: Final = (("raspy", "*"), ("actors", "*"), ("docs", "*.md"))


def _sections() -> set[str]:
    """The README's headings, each also without its parenthesised tail
    (`GPIO on a Raspberry Pi (relays, ...)`), and its bold run-in titles."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    headings = HEADING.findall(text)
    return (
        set(headings)
        | {re.sub(r" \([^)]*\)$", "", h) for h in headings}
        | set(RUN_IN.findall(text))
    )


def references(text: str) -> list[str]:
    """The sections `text` points to; a comment's line breaks are spaces."""
    joined = re.sub(r"\s*\n\s*(?:#\s*)?", " ", text)
    return [" ".join((a or b).split()) for a, b in REFERENCE.findall(joined)]


def _raspy_references() -> list[tuple[str, str]]:
    found = []
    for folder, pattern in SEARCHED:
        for path in sorted((ROOT / folder).rglob(pattern)):
            if path.is_file() and path.suffix not in {".pyc", ".png", ".ico"}:
                text = path.read_text(encoding="utf-8", errors="replace")
                found += [(str(path.relative_to(ROOT)), s) for s in references(text)]
    return found


def test_the_references_are_found_in_each_form() -> None:
    assert references(
        'x (README, Device services).\n# see (README, "GPIO on a\n# Raspberry'
        ' Pi").\nREADME "Built-in services", docs; the two README commands (a, b)'
    ) == ["Device services", "GPIO on a Raspberry Pi", "Built-in services"]


def test_a_run_in_title_is_a_section_with_its_period_or_without() -> None:
    assert RUN_IN.findall("**Upgrading** is x.\n**A restore.** Stop it.\n") == [
        "Upgrading",
        "A restore",
    ]


def test_raspy_points_to_readme_sections() -> None:
    found = {path.split("/")[0] for path, _ in _raspy_references()}
    assert len(_raspy_references()) >= 15  # the search itself still finds them
    assert {"raspy", "docs"} <= found  # in the code and in the docs


@pytest.mark.parametrize(("path", "section"), _raspy_references())
def test_each_readme_reference_names_a_section_it_has(path: str, section: str) -> None:
    assert section in _sections(), f"{path}: README has no section {section!r}"
