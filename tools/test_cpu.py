"""The suite's CPU, test by test: a pytest plugin, and its report.

Record (every xdist worker appends to the one file):

    PYTHONPATH=tools TEST_CPU_OUT=/tmp/cpu.jsonl make test PYTEST_ARGS="-p test_cpu"

Report, by file, the heaviest first:

    .venv/bin/python tools/test_cpu.py /tmp/cpu.jsonl [--top 40] [--tests]

Each test's line holds the CPU its worker spent in it ("self") and the CPU of the
children it reaped meanwhile ("child": raspyd, the CLIs, raspy-poller, chromium at
its module's end), both user + sys from getrusage, and its wall time. A child
reaped later (a module's raspyd, a browser) counts for the test that reaped it:
the report by file is the figure to trust. The suite is CPU-bound on two cores,
so this, not the wall time, says where a cut would shorten it.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

_OUT_ENV = "TEST_CPU_OUT"


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """One line per test: its setup, call and teardown together."""
    own, children = _cpu()
    began = time.monotonic()
    yield
    own_after, children_after = _cpu()
    line = {
        "id": item.nodeid,
        "self": round(own_after - own, 4),
        "child": round(children_after - children, 4),
        "wall": round(time.monotonic() - began, 4),
    }
    out = Path(os.environ.get(_OUT_ENV, "test_cpu.jsonl"))
    with out.open("a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def _report(path: Path, top: int, tests: bool) -> None:
    rows: list[dict[str, Any]] = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
    ]
    own = sum(r["self"] for r in rows)
    children = sum(r["child"] for r in rows)
    print(f"{len(rows)} tests: {own:.0f} s in pytest's workers, {children:.0f} s in")
    print(f"their children, {own + children:.0f} s of CPU in all")
    by_file: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in rows:
        sums = by_file[row["id"].split("::")[0]]
        sums[0] += row["self"]
        sums[1] += row["child"]
        sums[2] += row["wall"]
    print(f"\n{'CPU s':>7} {'self':>6} {'child':>6} {'wall s':>7}  file")
    ranked = sorted(by_file.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    for name, (s, c, w) in ranked[:top]:
        print(f"{s + c:7.1f} {s:6.1f} {c:6.1f} {w:7.1f}  {name}")
    if tests:
        print(f"\n{'CPU s':>7} {'wall s':>7}  test")
        for row in sorted(rows, key=lambda r: -(r["self"] + r["child"]))[:top]:
            print(f"{row['self'] + row['child']:7.1f} {row['wall']:7.1f}  {row['id']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="the lines the plugin wrote")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--tests", action="store_true", help="the heaviest tests too")
    args = parser.parse_args()
    _report(args.file, args.top, args.tests)


if __name__ == "__main__":
    main()
