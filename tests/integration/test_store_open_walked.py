"""A read-only open beside raspyd reads the tables' names and the schema version from
the snapshot its walk checked. It walked one read txn's snapshot, ended that txn,
then read in new ones: a commit of raspyd in between (or a raspyd that started and
committed after the walk of a store nobody wrote) had it read a snapshot never
walked, and a damaged page there aborted the process in LMDB (exit 134) or came
out of it as a traceback. The window is made here: another process commits, and
the newer snapshot's main tree is damaged, right after the open's walk."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.damaged_store import leaf_flag_flipped

from raspy.config import StoreConfig
from raspy.errors import StoreDamagedError
from raspy.storage import damage
from raspy.storage.store import Put, Store, Table

pytestmark = pytest.mark.timeout(60)

_RUN_S = 30.0

# The open, in a process of its own (LMDB aborts it on a damaged page): argv[1] the
# data dir, argv[2] where raspyd stands at the open's check.
OPEN = r"""
import subprocess
import sys
from pathlib import Path

from raspy import log
from raspy.errors import StoreDamagedError
from raspy.storage import damage, lmdb_file
from raspy.storage.store import Store

COMMIT = '''
import sys
import lmdb
env = lmdb.open(sys.argv[1], max_dbs=16, map_size=1 << 20)
with env.begin(write=True) as txn:
    txn.put(b"probe", b"1", db=env.open_db(b"meta", txn=txn, create=False))
env.close()
'''

log.configure("warning")
path = Path(sys.argv[1])
done = []


def commit_then_damage() -> None:
    # raspyd commits; the new snapshot's main tree root says it is a branch
    if done:
        return
    done.append(True)
    subprocess.run([sys.executable, "-c", COMMIT, str(path)], check=True)
    meta = damage.check_data_file(path, deep=False)
    at = meta.main.root * meta.page_bytes + 10  # the root page's flags
    with (path / damage.DATA_FILE).open("r+b") as file:
        file.seek(at)
        flags = file.read(1)[0]
        file.seek(at)
        file.write(bytes([flags ^ (lmdb_file.P_LEAF | lmdb_file.P_BRANCH)]))


real_check, real_walk = damage.check_for_reader, damage.walk_pinned
if sys.argv[2] == "no writer at the check":

    def check_for_reader(data_dir, writer_present):
        txnid = real_check(data_dir, writer_present)  # every page walked
        commit_then_damage()  # a raspyd starts and commits
        return txnid

else:  # beside raspyd: the open walks the snapshot its read txn pinned

    def check_for_reader(data_dir, writer_present):
        damage.check_data_file(data_dir, deep=False)
        return None

    def walk_pinned(*args):
        walked = real_walk(*args)
        commit_then_damage()
        return walked

    damage.walk_pinned = walk_pinned
damage.check_for_reader = check_for_reader
try:
    store = Store.open(path, readonly=True)
except StoreDamagedError as exc:
    print("refused:", exc)
else:
    print("opened: schema version", store.schema_version)
    store.close()
"""


def _store(data_dir: Path) -> Path:
    with Store.open(data_dir, StoreConfig(map_size_initial_mb=1)) as store:
        store.commit([Put(Table.KV, b"/k/%d" % i, b"v" * 100) for i in range(50)])
    return data_dir


def _open(data_dir: Path, where: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OPEN, str(data_dir), where],
        capture_output=True,
        text=True,
        timeout=_RUN_S,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def test_a_store_written_after_the_walk_is_walked_again_at_the_open(
    tmp_path: Path,
) -> None:
    """No writer when the file was walked; a raspyd that started and committed
    before the open read the tables' names: that snapshot is walked too."""
    data_dir = _store(tmp_path / "data")
    result = _open(data_dir, "no writer at the check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: "), result.stdout
    assert "database '(main)' page" in result.stdout


def test_the_open_beside_raspyd_reads_the_snapshot_it_walked(tmp_path: Path) -> None:
    """raspyd committed (a newer snapshot, damaged) after the open's walk: the open
    reads the one it walked and holds, and never meets the damaged page."""
    data_dir = _store(tmp_path / "data")
    result = _open(data_dir, "beside raspyd")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("opened: schema version"), result.stdout


@pytest.mark.parametrize(
    ("owner", "found"), [(b"kv", False), (b"meta", True), (b"(main)", True)]
)
def test_the_open_walk_checks_the_trees_it_reads_only(
    tmp_path: Path, owner: bytes, found: bool
) -> None:
    """The open reads the main tree and the meta table; the kv table's pages are
    the command's view's to walk (once: raspy-kv check read a big store twice)."""
    data_dir = _store(tmp_path / "data")
    leaf_flag_flipped(owner)(data_dir)
    meta = damage.check_data_file(data_dir, deep=False)
    assert meta is not None
    trees = frozenset({Table.META.value.encode()})
    named = re.escape(f"database '{owner.decode()}' page")
    if found:
        with pytest.raises(StoreDamagedError, match=named):
            damage.walk_pinned(data_dir, meta.txnid, trees)
    else:
        assert damage.walk_pinned(data_dir, meta.txnid, trees)
    with pytest.raises(StoreDamagedError, match=named):
        damage.walk_pinned(data_dir, meta.txnid)  # every tree
