"""The soak's report: growth per phase as a table, the verdict (does a metric's level
rise from churn phase to churn phase past its noise), and with --tracemalloc what
grew in raspyd over the last churn phase, by source line. Imported by tools/soak.py
(not installed)."""

from __future__ import annotations

import itertools
import tracemalloc
from pathlib import Path

from soak_sample import Sample  # tools/ is not a package


def phase_table(
    phases: list[tuple[str, list[Sample]]], only: list[str] | None = None
) -> None:
    names = sorted({k for _, ss in phases for s in ss for k in s.values})
    if only is not None:
        names = [n for n in names if n in only]
    print("| metric | start | " + " | ".join(p for p, _ in phases) + " | end |")
    print("| --- | ---: | " + " | ".join("---:" for _ in phases) + " | ---: |")
    for metric in names:
        cells = []
        first = phases[0][1][0].values.get(metric, 0.0)
        for _, ss in phases:
            start, end = ss[0].values.get(metric, 0.0), ss[-1].values.get(metric, 0.0)
            cells.append(f"{end - start:+.1f}")
        last = phases[-1][1][-1].values.get(metric, 0.0)
        print(f"| {metric} | {first:.1f} | " + " | ".join(cells) + f" | {last:.1f} |")


# A phase's level of a metric is the median of its samples (one connection being
# made or a collection running moves a single sample). A metric grows with churn when
# its level rises past the noise floor from each churn phase to the next, the last
# rise at least half the one before: a structure that fills up and stays levels off.
# Workers that vanish without DISCONNECT stay registered until the broker gives them
# up (heartbeat_liveness x heartbeat_interval_s, 7.5 s): edge.workers is the churn's
# pace times that, capped by [limits] max_workers.
NOISE = {
    "rss_mb": 3.0,
    "threads": 2,
    "fds": 6,
    "sockets": 6,
    "store.pages": 64,
    "edge.workers": 50,
    "edge.services": 50,
}
NOT_JUDGED = ("log_kb", "table.history")  # grow by design, see the docstring


def level(samples: list[Sample], metric: str) -> float:
    values = sorted(s.values.get(metric, 0.0) for s in samples[1:] or samples)
    return values[len(values) // 2]


def verdict(churn_phases: list[list[Sample]]) -> list[str]:
    findings = []
    names = sorted({k for s in churn_phases[-1] for k in s.values})
    for metric in names:
        if metric.startswith(NOT_JUDGED):
            continue
        levels = [level(samples, metric) for samples in churn_phases]
        rises = [after - before for before, after in itertools.pairwise(levels)]
        # what is in flight at a sample (ephemeral keys, workers not yet expired)
        # moves with the churn's pace: a tenth of the level is noise too
        floor = max(NOISE.get(metric, 5), 0.1 * abs(levels[0]))
        if (
            rises
            and all(rise > floor for rise in rises)
            and (len(rises) == 1 or rises[-1] >= 0.5 * rises[-2])
        ):
            shown = ", ".join(f"{value:.1f}" for value in levels)
            findings.append(f"{metric}: level per churn phase {shown}")
    return findings


def print_growth(snapshots: Path, top: int = 15) -> None:
    files = sorted(snapshots.glob("*.snap"), key=lambda path: int(path.stem))
    if len(files) < 2:
        return
    before = tracemalloc.Snapshot.load(str(files[-2]))
    after = tracemalloc.Snapshot.load(str(files[-1]))
    print()
    print(f"tracemalloc, allocations grown over the last churn phase (top {top}):")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
            f"{frame.filename.rsplit('/raspy/', 1)[-1]}:{frame.lineno}"
        )
