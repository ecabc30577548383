"""The seconds each test file took in a run, as tests/support/file_seconds.py lists them.

Run:  .venv/bin/python tools/file_seconds.py TIMES.xml [MORE.xml ...] [--min 3]

TIMES.xml is pytest's JUnit report of a `make test` run (its four workers share the
machine as they do in CI), made with `-o junit_duration_report=total`: a test's setup
and teardown count, and a module's raspyd starts in its first test's setup. Prints
the body of FILE_SECONDS, the longest file first: every file that took --min seconds
or more, and every file with a test of its own timeout (which is placed by that
timeout when it is not listed). Paste it over the old body.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def source_of(classname: str) -> Path | None:
    """tests.e2e.test_x (or tests.unit.test_y.SomeClass) -> its file under tests/."""
    parts = classname.split(".")
    while parts:
        path = ROOT.joinpath(*parts).with_suffix(".py")
        if path.is_file():
            return path
        parts.pop()
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--min", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args()
    seconds: dict[Path, float] = defaultdict(float)
    for report in args.reports:
        for case in ET.parse(report).iter("testcase"):  # noqa: S314  # our own report
            path = source_of(case.get("classname", ""))
            if path is not None:
                seconds[path] += float(case.get("time", "0"))
    for path in sorted(TESTS.rglob("test_*.py")):
        if "mark.timeout" in path.read_text(encoding="utf-8"):
            seconds.setdefault(path, 0.0)
    for path, took in sorted(seconds.items(), key=lambda item: -item[1]):
        if took >= args.min or "mark.timeout" in path.read_text(encoding="utf-8"):
            shown = round(took) if took >= 10 else round(took, 1)
            print(f'    "{path.relative_to(TESTS).as_posix()}": {shown},')
    return 0


if __name__ == "__main__":
    sys.exit(main())
