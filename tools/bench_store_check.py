"""What the damaged-store checks cost at start-up (issue 18), on a store of N records.

    .venv/bin/python tools/bench_store_check.py [N]

Builds a store in a temp dir (N Clone records of 200 bytes, N/10 Titanic requests of
1 KB), then times: LMDB's own open (the reference), the meta-page check, the page walk,
and Store.open as raspyd does it (meta pages, walk, every record decoded).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import lmdb

from raspy import log
from raspy.config import StoreConfig
from raspy.storage import damage
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import (
    TitanicRequestRecord,
    encode_kv,
    encode_titanic_request,
)

_BATCH = 10_000


def _fill(data_dir: Path, count: int) -> None:
    request = encode_titanic_request(TitanicRequestRecord(b"svc", (b"x" * 1000,), 1.0))
    with Store.open(data_dir, StoreConfig(), durable=False) as store:
        for start in range(0, count, _BATCH):
            end = min(count, start + _BATCH)
            ops = [
                Put(
                    Table.KV,
                    b"/device/k%07d" % i,
                    encode_kv(i + 1, b"v" * 200, {}, None),
                )
                for i in range(start, end)
            ]
            ops += [
                Put(Table.TITANIC_REQUESTS, b"%032x" % i, request)
                for i in range(start // 10, end // 10)
            ]
            store.commit(ops)


def _timed(label: str, work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]  # a callable
    elapsed = time.perf_counter() - started
    print(f"{label:34s} {elapsed:8.3f} s")
    return elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    log.configure("error", "json")
    with tempfile.TemporaryDirectory() as temp:
        data_dir = Path(temp) / "data"
        _fill(data_dir, count)
        size_mb = (data_dir / "data.mdb").stat().st_size / 2**20
        print(f"{count} kv + {count // 10} titanic records, data.mdb {size_mb:.0f} MB")

        def lmdb_open() -> None:
            lmdb.open(str(data_dir), max_dbs=16, readonly=True).close()

        reference = _timed("lmdb.open (reference)", lmdb_open)
        _timed("meta pages", lambda: damage.check_data_file(data_dir, deep=False))
        walk = _timed(
            "meta pages + page walk",
            lambda: damage.check_data_file(data_dir, deep=True),
        )
        full = _timed(
            "Store.open as raspyd (walk+records)",
            lambda: Store.open(data_dir, check_records=True).close(),
        )
        print(
            f"walk / lmdb.open: {walk / max(reference, 1e-6):.0f}x; "
            f"raspyd's open: {full / count * 1e6:.1f} us per record"
        )


if __name__ == "__main__":
    main()
