"""`raspy-kv check` beside a raspyd that commits walks the store's pages once. The
open walked every tree of its snapshot, and the check's read view every tree of its
own, which is another one as soon as raspyd committed in between (it commits each
flush): a nightly backup of a big store on an SD card read the file twice. The open
now walks only the trees it reads (the main tree, the meta table)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from raspy.cli import kv
from raspy.config import StoreConfig
from raspy.storage import damage
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import LAST_SEQ_KEY, encode_kv, encode_seq

pytestmark = pytest.mark.timeout(60)

_LINE_S = 20.0

# raspyd's part: holds the data dir's lock, commits once per line read
WRITER = """
import sys
from raspy import log
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import LAST_SEQ_KEY, encode_kv, encode_seq
log.configure("warning")
store = Store.open(sys.argv[1])
print("ready", flush=True)
for n, _ in enumerate(sys.stdin):
    store.commit([
        Put(Table.KV, b"/w/%d" % n, encode_kv(n + 2, b"x", {}, None)),
        Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(n + 2)),
    ])
    print("committed", flush=True)
store.close()
"""


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    data_dir = tmp_path / "data"
    with Store.open(data_dir, StoreConfig(map_size_initial_mb=1)) as store:
        store.commit([Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(1))])
        for n in range(20):
            store.commit(
                [
                    Put(
                        Table.KV,
                        b"/k/%d/%d" % (n, i),
                        encode_kv(1, b"v" * 200, {}, None),
                    )
                    for i in range(50)
                ]
            )
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert _line(process) == "ready"
            yield data_dir, process
        finally:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=_LINE_S)


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()  # the process ends within the timeout


def test_check_beside_a_committing_raspyd_walks_every_tree_once(
    writer: tuple[Path, subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir, process = writer
    real = damage.walk_pinned
    walks: list[tuple[int, frozenset[bytes] | None]] = []

    def walk_pinned(path: Path, txnid: int, *trees: frozenset[bytes] | None) -> bool:
        walked = real(path, txnid, *trees)
        walks.append((txnid, trees[0] if trees else None))
        if len(walks) == 1:  # raspyd commits after the open's walk
            assert process.stdin is not None
            process.stdin.write("commit\n")
            process.stdin.flush()
            assert _line(process) == "committed"
        return walked

    monkeypatch.setattr(damage, "walk_pinned", walk_pinned)
    assert kv.run(["check", "--data-dir", str(data_dir)]) == 0, capsys.readouterr()
    assert len({txnid for txnid, _ in walks}) == 2  # the view read a newer snapshot
    assert [trees for _, trees in walks].count(None) == 1, walks
