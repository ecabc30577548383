"""Benchmark: the CPU of one raspyd start, from its exec to ready and a SIGTERM stop.

Run:  .venv/bin/python tools/bench_raspyd_start.py [--runs 7] [--config FILE]
                                                  [--instructions]

Each run starts raspyd as the end-to-end tests do (tests/support/daemon.py's
`Daemon`: a fresh data dir, a free port base, ready once it logged
`daemon_started` and its broker answers `mmi.service` for echo), sends SIGTERM,
and reads the child's user + sys CPU from `os.wait4`. With `--instructions` it runs
under valgrind (`--tool=cachegrind --cache-sim=no`) and prints the instructions
counted instead, which repeat to a tenth of a percent on a busy machine where the
CPU time does not. Bytecode should be cached as the suite has it:
`PYTHONPYCACHEPREFIX` set and `PYTHONDONTWRITEBYTECODE` unset (one run first
warms it). Every loop is bounded; what is started is stopped.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.daemon import Daemon


class _Measured(Daemon):
    """A Daemon whose command may run under cachegrind."""

    def __init__(self, data_dir: Path, out: Path | None, **kwargs: object) -> None:
        super().__init__(data_dir, **kwargs)  # type: ignore[arg-type]
        self.out = out

    def args(self) -> list[str]:
        if self.out is None:
            return super().args()
        grind = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={self.out}",
        ]
        return grind + super().args()


def _one(scratch: Path, n: int, config: str | None, count: bool) -> float:
    out = scratch / f"cg-{n}.out" if count else None
    daemon = _Measured(scratch / f"data-{n}", out, config_text=config)
    daemon.start(timeout_s=300.0)
    assert daemon.process is not None
    pid = daemon.process.pid
    daemon.process.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(pid, 0)
    daemon.process.returncode = os.waitstatus_to_exitcode(status)
    if out is None:
        return usage.ru_utime + usage.ru_stime
    found = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
    assert found is not None, f"no summary in {out}"
    return int(found.group(1)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--config", type=Path, help="raspyd's config (default: none)")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions (valgrind)"
    )
    args = parser.parse_args()
    config = args.config.read_text(encoding="utf-8") if args.config else None
    unit = "M instructions" if args.instructions else "s CPU"
    figures: list[float] = []
    with tempfile.TemporaryDirectory(prefix="raspyd-start-") as tmp:
        for n in range(args.runs):
            figure = _one(Path(tmp), n, config, args.instructions)
            figures.append(figure)
            print(f"run {n}: {figure:.3f} {unit}", flush=True)
    print(f"median: {statistics.median(figures):.3f} {unit} over {len(figures)} runs")


if __name__ == "__main__":
    main()
