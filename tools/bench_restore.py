"""What `raspy-kv restore` costs: wall time and peak memory (RSS) for a dump of ~N MB.

    .venv/bin/python tools/bench_restore.py [MB]     (default 50)

Builds a store in a temp dir (Clone records of ~600 bytes, text and binary bodies,
and Titanic requests of 4 KB), dumps it with `raspy-kv dump`, then runs
`raspy-kv restore` into a new data dir as its own process and reads its peak RSS from
the kernel (wait4's ru_maxrss): a Pi with 512 MB must take its own dump back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from raspy import log
from raspy.config import StoreConfig
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    TitanicRequestRecord,
    encode_kv,
    encode_seq,
    encode_titanic_request,
)

_MB = 1024 * 1024
_BATCH = 5_000


def _fill(data_dir: Path, dump_mb: int) -> int:
    """About `dump_mb` MB of dump text; returns the record count."""
    request = encode_titanic_request(TitanicRequestRecord(b"svc", (b"x" * 4000,), 1.0))
    # ~710 bytes of dump text per kv record, with its share of the titanic requests
    # (one per 20 kv records, ~5.5 KB each as base64 msgpack)
    kv_count = dump_mb * _MB // 710
    with Store.open(data_dir, StoreConfig(map_size_max_mb=4096), durable=False) as st:
        for start in range(0, kv_count, _BATCH):
            ops: list[Put] = []
            for i in range(start, min(kv_count, start + _BATCH)):
                body = (b"%d " % i) * 60 if i % 2 else os.urandom(300)
                ops.append(
                    Put(Table.KV, b"/device/k%08d" % i, encode_kv(i, body, {}, None))
                )
                if i % 20 == 0:
                    ops.append(Put(Table.TITANIC_REQUESTS, b"%032x" % i, request))
            st.commit(ops)
        st.commit([Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(kv_count))])
    return kv_count + kv_count // 20 + 1


def _kv(*args: str) -> tuple[float, int]:
    """Run raspy-kv; its wall time (s) and peak RSS (MB)."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "raspy.cli.kv", *args])
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"raspy-kv {args[0]} exited {process.returncode}")
    return time.monotonic() - started, usage.ru_maxrss // 1024


def main() -> None:
    log.configure("error")
    dump_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as temp:
        source, dump, target = Path(temp, "a"), Path(temp, "a.dump"), Path(temp, "b")
        count = _fill(source, dump_mb)
        _kv("dump", "--data-dir", str(source), "-o", str(dump))
        size = dump.stat().st_size
        config = Path(temp, "raspyd.toml")
        config.write_text("[store]\nmap_size_max_mb = 4096\n")
        seconds, peak = _kv(
            "restore", "--data-dir", str(target), "--config", str(config), str(dump)
        )
        print(
            f"restore of {count} records, dump {size / _MB:.1f} MB: "
            f"{seconds:.2f} s, peak RSS {peak} MB "
            f"({peak * _MB / size:.2f} x the dump)"
        )


if __name__ == "__main__":
    main()
