"""Rewrite imports of moved modules, from tools/module_moves.txt (`old new` per line).

Usage: python tools/rewrite_imports.py [--moves FILE] PATH...   (files or folders)

Both import forms are handled, in one pass per file (so a new name that starts with
an old one is never rewritten twice):
- dotted names anywhere (`raspy.actors.outbox` -> `raspy.transport.outbox`), whole
  names only (`raspy.actors.core` does not match `raspy.actors.core_tree`);
- `from raspy.actors import outbox [as x]` -> `from raspy.transport import outbox [as x]`,
  and names that moved between modules (`from M import a, b`: split by destination);
  a parenthesised import over several lines naming a moved name is reported instead.
Run `ruff check --select I --fix` afterwards to sort the imports again.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_DEFAULT_MOVES = Path(__file__).with_name("module_moves.txt")


def read_moves(path: Path) -> dict[str, str]:
    moves: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        parts = entry.split()
        if len(parts) != 2:
            raise SystemExit(f"{path} line {number}: expected `old new`, got {entry!r}")
        moves[parts[0]] = parts[1]
    return moves


def rewrite(text: str, moves: dict[str, str]) -> tuple[str, list[str]]:
    """The text with every moved module and name renamed, and the lines left for a
    person (imports in parentheses over several lines that name a moved name)."""
    problems: list[str] = []
    from_form = re.compile(r"^(\s*)from ([\w.]+) import ([^()#]+?)(\s*#.*)?$")

    def from_line(line: str) -> str:
        match = from_form.match(line)
        if match is None:
            return line
        indent, package, names, tail = match.group(1, 2, 3, 4)
        groups: dict[str, list[str]] = {}
        for item in names.split(","):
            name, _, alias = item.strip().partition(" as ")
            new = moves.get(f"{package}.{name}")
            if new is None:
                groups.setdefault(package, []).append(item.strip())
                continue
            new_package, _, new_name = new.rpartition(".")
            alias = alias or ("" if new_name == name else name)
            groups.setdefault(new_package, []).append(
                f"{new_name} as {alias}" if alias else new_name
            )
        if list(groups) == [package]:
            return line
        lines = [f"{indent}from {p} import {', '.join(n)}" for p, n in groups.items()]
        lines[0] += tail or ""
        return "\n".join(lines)

    lines = [from_line(line) for line in text.split("\n")]
    for number, line in enumerate(lines):
        opened = re.match(r"^\s*from ([\w.]+) import \($", line)
        if opened is None:
            continue
        for inner in lines[number + 1 :]:
            if inner.strip().startswith(")"):
                break
            name = inner.strip().rstrip(",").partition(" as ")[0]
            if f"{opened.group(1)}.{name}" in moves:
                problems.append(f"{line.strip()} ... {name}")
    pattern = re.compile(
        r"(?<![\w.])("
        + "|".join(re.escape(old) for old in sorted(moves, key=len, reverse=True))
        + r")(?![\w])"
    )
    return pattern.sub(lambda m: moves[m.group(1)], "\n".join(lines)), problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=Path, default=_DEFAULT_MOVES)
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    moves = read_moves(args.moves)
    files: list[Path] = []
    for path in args.paths:
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    status = 0
    for file in files:
        if ".venv" in file.parts or file.resolve() == Path(__file__).resolve():
            continue
        text = file.read_text(encoding="utf-8")
        new, problems = rewrite(text, moves)
        for line in problems:
            print(f"{file}: rewrite by hand: {line}", file=sys.stderr)
            status = 1
        if new != text:
            file.write_text(new, encoding="utf-8")
            print(f"rewrote {file}")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
