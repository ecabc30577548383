"""Benchmark: what the daily `raspy-kv backup` costs the SD card, and how long it takes.

Run:  cd tools && ../.venv/bin/python bench_backup.py [--sensors 20] [--data-dir DIR]

Without --data-dir, a store under var/ (a real disk, not a tmpfs) is filled as
bench_history.py fills it: every slot of every history tier of `--sensors` sensors,
as after five years (the largest a store with the default tiers grows). With
--data-dir, that store is backed up instead (a copy of it is best: a reader writes
its slot into lock.mdb). Then `raspy-kv backup` runs twice into a fresh backup dir
under var/, as its own process, which reports its /proc/self/io and peak RSS at exit:
`write_bytes` (what the kernel accounted to it as written to disk), `wchar` (what it
handed to write()), and `read_bytes` (the read-back, from the disk). Prints them, the
backup's size, and `write_bytes` averaged over a day (one backup a day) in MB/h.
Last, the CPU of the nightly look at the older backups an older raspy-kv named
whole (kv_backup.first_refused: the dbs before the history judged) beside the
whole read-back of one, and beside judging every record as restore does.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_history import prefill

from raspy.cli import kv_drop
from raspy.cli.kv_backup import first_refused, read_whole
from raspy.storage.dump import DumpReader

_ROOT = Path(__file__).resolve().parent.parent
_MB = 1024 * 1024
_RUN = """
import json, resource, sys
from pathlib import Path
from raspy.cli import kv
status = kv.main(["backup", "--data-dir", sys.argv[1], "--to", sys.argv[2]])
io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"status": status, "peak_kb": peak_kb, **{k: int(v) for k, v in io.items()}}))
"""


def backup(data_dir: Path, to: Path) -> dict[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(data_dir), str(to)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    seconds = time.monotonic() - started
    lines = done.stdout.splitlines()
    print(lines[0])  # raspy-kv's own line
    found: dict[str, float] = json.loads(lines[-1])
    found["seconds"] = seconds
    if found["status"] != 0:
        raise SystemExit(f"backup failed: {done.stderr}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    work = _ROOT / "var" / "bench-backup"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = work / "data"
            started = time.monotonic()
            rows = prefill(data_dir, args.sensors, time.time())
            print(
                f"prefilled {rows} history rows in {time.monotonic() - started:.1f} s"
            )
        store_mb = (data_dir / "data.mdb").stat().st_size / _MB
        (backups := work / "backups").mkdir()
        for run in (1, 2):
            found = backup(data_dir, backups)
            newest = max(backups.iterdir(), key=lambda p: p.stat().st_mtime)
            size = newest.stat().st_size
            print(
                json.dumps(
                    {
                        "run": run,
                        "store_mb": round(store_mb, 1),
                        "backup_mb": round(size / _MB, 1),
                        "write_mb": round(found["write_bytes"] / _MB, 1),
                        "wchar_mb": round(found["wchar"] / _MB, 1),
                        "read_mb": round(found["read_bytes"] / _MB, 1),
                        "seconds": round(found["seconds"], 1),
                        "peak_rss_mb": round(found["peak_kb"] / 1024, 1),
                        "write_mb_per_h_daily": round(
                            found["write_bytes"] / _MB / 24, 2
                        ),
                    }
                )
            )
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"children CPU {usage.ru_utime + usage.ru_stime:.1f} s")
        judging(newest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def judging(path: Path) -> None:
    """CPU seconds of the read-back of `path`, of the nightly look at the dbs
    before its history, and of judging every record as restore does."""
    for _ in range(3):
        started = time.process_time()
        read_whole(path)
        whole = time.process_time() - started
        started = time.process_time()
        first_refused(path)
        head = time.process_time() - started
        started = time.process_time()
        with path.open("rb") as handle:
            reader = DumpReader(handle, unique=False)
            for record in reader.records():
                kv_drop.refusal(record.table, record.key, record.value)
        every = time.process_time() - started
        print(
            f"read-back {whole:.2f} s; dbs before the history judged {head:.4f} s;"
            f" every record judged {every:.2f} s (x {every / max(whole, 1e-9):.2f} the"
            " read-back)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
