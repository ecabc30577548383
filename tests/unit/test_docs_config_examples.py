"""The configuration a user copies from the docs is taken by raspyd as written: every
TOML example of the README and the user pages (a `[[devices.gpio]]` relay, `[mqtt]`,
`[[controls]]`, ...) passes the checks of `raspyd --check-config`, but for the files
it names (the reader's own, `/etc/raspy/mqtt-password`), and each secrets file shown
reads as one. A renamed key or a narrower range then fails here, not in a household."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from raspy import config, config_files
from raspy.actors.config_check import check_config
from raspy.errors import ConfigError
from raspy.secrets_file import parse_secrets

ROOT = Path(__file__).resolve().parents[2]
PAGES = (
    "README.md",
    "docs/cookbook.md",
    "docs/history.md",
    "docs/mqtt.md",
    "docs/scenarios.md",
    "docs/web.md",
)
_FENCED = re.compile(r"^( *)```toml\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
_HEADER = re.compile(r"\[\[?[a-z_.]+\]\]?(?:\s*#.*)?")
# an indented code block (four spaces or more, after a blank line) whose first line
# is a table
_INDENTED = re.compile(r"(?:^|\n\n)(( {4,})\[.*\n(?:\2.*\n|\n(?=\2))*)")


def _fenced(text: str) -> list[str]:
    return [
        "".join(line[len(indent) :] + "\n" for line in body.splitlines())
        for indent, body in _FENCED.findall(text)
    ]


def _indented(text: str) -> list[str]:
    """Each indented block that begins with a table header, without the paragraphs
    of it that are no TOML (the README's `[http]` is followed by shell commands)."""
    found = []
    for block, indent in _INDENTED.findall(text):
        lines = [line[len(indent) :] for line in block.splitlines()]
        paragraphs = "\n".join(lines).split("\n\n")
        kept = [p for p in paragraphs if _HEADER.fullmatch(p.strip().splitlines()[0])]
        found.append("\n\n".join(kept) + "\n")
    return found


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        blocks = _fenced(text) + _indented(text)
        found += [(f"{page} toml {index}", block) for index, block in enumerate(blocks)]
    return found


EXAMPLES = _examples()
CONFIGS = [(where, text) for where, text in EXAMPLES if re.search(r"^\[", text, re.M)]
SECRETS = [(where, text) for where, text in EXAMPLES if (where, text) not in CONFIGS]


def _devices_on(document: dict[str, Any]) -> dict[str, Any]:
    """The example with the device services of its tables turned on: a table of a
    service that is off is not checked, and the page's text is about it running."""
    devices = document.get("devices", {})
    for service in ("fake", "gpio", "onewire"):
        if service in devices:
            devices.setdefault(f"{service}_enabled", True)
    if "gpio" in devices:
        devices.setdefault("pin_factory", "mock")
    return document


def test_the_pages_show_the_examples_this_test_reads() -> None:
    """The collection finds what is there: a page's examples that the patterns
    missed would go unchecked."""
    assert len(CONFIGS) >= 15
    pages = {where.split(" toml")[0] for where, _ in CONFIGS}
    assert pages == set(PAGES) - {"docs/scenarios.md"}
    assert [where.split(" toml")[0] for where, _ in SECRETS] == [
        "docs/cookbook.md",
        "docs/scenarios.md",
    ]


@pytest.mark.parametrize(("where", "text"), CONFIGS, ids=[w for w, _ in CONFIGS])
def test_every_config_example_passes_raspyds_checks(where: str, text: str) -> None:
    cfg = config.from_mapping(_devices_on(tomllib.loads(text)), where)
    problems: list[str] = []
    try:
        check_config(cfg)
    except ConfigError as exc:
        problems = exc.problems
    readers_files = config_files.problems(cfg)
    assert [problem for problem in problems if problem not in readers_files] == []


@pytest.mark.parametrize(("where", "text"), SECRETS, ids=[w for w, _ in SECRETS])
def test_every_secrets_example_reads_as_a_secrets_file(where: str, text: str) -> None:
    assert parse_secrets(text, where)
