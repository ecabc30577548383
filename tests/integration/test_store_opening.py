"""Opening the LMDB Store: the data-dir lock, readers beside a writer (in this and in
other processes) and schema versions (issue #4, docs/architecture.md pitfalls)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.store_fixtures import (
    EVENT_TIMEOUT_S,
    MB,
    TINY,
    data_dir_fixture,  # noqa: F401  # fixture `data_dir`
    store_fixture,  # noqa: F401  # fixture `store`
)
from support.store_holder import holding_store

from raspy import packing
from raspy.errors import StoreError, StoreLockedError, StoreNewerError
from raspy.storage.lock import DataDirLock
from raspy.storage.schema import SCHEMA_VERSION
from raspy.storage.store import Delete, Put, Store, Table
from raspy.storage.tables import LAST_SEQ_KEY, decode_seq, encode_kv, encode_seq


def test_a_second_writer_in_this_process_is_refused(
    store: Store, data_dir: Path
) -> None:
    """Issue #4: two writers may not open the same data dir; the second gets a clear
    error."""
    with pytest.raises(StoreLockedError) as caught:
        Store.open(data_dir, TINY)
    assert str(caught.value) == (
        f"data dir {data_dir} is in use by another process (pid {os.getpid()})"
    )


def test_a_second_writer_in_another_process_is_refused_naming_its_pid(
    data_dir: Path,
) -> None:
    """Issue #4: a data dir held by another process is refused; a reader still works."""
    with holding_store(data_dir, Table.KV.value, b"held") as holder_pid:
        with pytest.raises(StoreLockedError) as caught:
            Store.open(data_dir, TINY)
        assert str(caught.value) == (
            f"data dir {data_dir} is in use by another process (pid {holder_pid})"
        )
        with Store.open(data_dir, readonly=True) as reader:
            assert reader.get(Table.KV, b"held") == b"1"
    with Store.open(data_dir, TINY) as store:  # the lock went with the process
        assert store.get(Table.KV, b"held") == b"1"


GROWER = """
import sys
import threading
from raspy import log
from raspy.config import StoreConfig
from raspy.storage.store import Store, Put, Table
log.configure("warning")
with Store.open(sys.argv[1], StoreConfig(map_size_initial_mb=1)) as store:
    store.commit([Put(Table.KV, b"%05d" % i, b"g" * 4000) for i in range(1000)])
    print(int(store.stats()["map_size"]))
"""


def test_a_reader_adopts_a_map_grown_by_another_process(data_dir: Path) -> None:
    """docs/architecture.md pitfalls: start small and grow; readers elsewhere follow."""
    with Store.open(data_dir, TINY) as store:
        store.commit([Put(Table.KV, b"a", b"1")])
    with Store.open(data_dir, TINY, readonly=True) as reader:
        assert reader.stats()["map_size"] == 1 * MB
        grower = subprocess.run(
            [sys.executable, "-c", GROWER, str(data_dir)],
            check=True,
            capture_output=True,
        )
        grown_to = int(grower.stdout)
        assert grown_to > 1 * MB
        assert len(reader.scan(Table.KV)) == 1001
        # the size the file records; the grower may have grown ahead since (issue 18)
        assert 1 * MB < reader.stats()["map_size"] <= grown_to


def test_a_reader_shares_the_writers_environment_and_cannot_write(
    store: Store, data_dir: Path
) -> None:
    """LMDB: never open one environment twice in a process; readers are read-only."""
    store.commit([Put(Table.KV, b"k", b"v")])
    with Store.open(data_dir, readonly=True) as reader:
        assert reader.get(Table.KV, b"k") == b"v"
        with pytest.raises(StoreError) as caught:
            reader.submit([Put(Table.KV, b"k", b"w")])
        assert str(caught.value) == f"store in {data_dir} was opened read-only"
    assert store.get(Table.KV, b"k") == b"v"


def test_a_store_from_a_newer_raspy_is_refused_unchanged(data_dir: Path) -> None:
    """Issue #4: a store written by a newer raspy is refused with a message that says
    which store and which versions are involved."""
    with Store.open(data_dir, TINY) as store:
        store.commit([Put(Table.META, b"schema_version", packing.pack(7))])
    before = (data_dir / "data.mdb").read_bytes()
    message = (
        f"{data_dir}: store schema version 7 is newer than this raspy supports (2); "
        "upgrade raspy, or restore a dump of schema 2 or older (one taken before the "
        "upgrade) into a new data dir"
    )
    for readonly, check_records in ((False, False), (True, False), (False, True)):
        with pytest.raises(StoreError) as caught:
            Store.open(data_dir, TINY, readonly=readonly, check_records=check_records)
        # raspyd checks every record: the stamp is not taken for damage there either
        assert type(caught.value) is StoreNewerError
        assert str(caught.value) == message
    assert (data_dir / "data.mdb").read_bytes() == before
    DataDirLock(data_dir).release()  # the refused writer let go of the lock


def test_a_version_0_store_is_migrated_to_1_by_its_registered_step(
    data_dir: Path,
) -> None:
    """Issue #4: an older store is migrated by a registered step (0 -> 1: kv.meta
    last_seq is raised to the highest kv seq, so no sequence number is reused)."""
    with Store.open(data_dir, TINY) as store:
        store.commit(
            [
                Put(Table.KV, b"/a", encode_kv(3, b"x", {}, None)),
                Put(Table.KV, b"/b", encode_kv(8, b"y", {}, None)),
                Delete(Table.META, b"schema_version"),  # as written before version 1
                Delete(Table.KV_META, LAST_SEQ_KEY),
            ]
        )
    with Store.open(data_dir, TINY, readonly=True) as old:
        assert old.schema_version == 0
    with capture_logs() as logs, Store.open(data_dir, TINY) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.get(Table.META, b"schema_version") == packing.pack(SCHEMA_VERSION)
        assert decode_seq(store.get(Table.KV_META, LAST_SEQ_KEY) or b"") == 8
    assert logs[0] == {
        "event": "store_schema_migrated",
        "log_level": "info",
        "component": "store",
        "path": str(data_dir),
        "from_version": 0,
        "to_version": SCHEMA_VERSION,
    }


def test_the_migration_never_lowers_a_higher_last_seq(data_dir: Path) -> None:
    """docs/architecture.md: a sequence number is never reused."""
    with Store.open(data_dir, TINY) as store:
        store.commit(
            [
                Put(Table.KV, b"/a", encode_kv(3, b"x", {}, None)),
                Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(50)),
                Delete(Table.META, b"schema_version"),
            ]
        )
    with Store.open(data_dir, TINY) as store:
        assert store.get(Table.KV_META, LAST_SEQ_KEY) == encode_seq(50)


READER = """
import sys
import threading
from raspy import log
from raspy.storage.store import Store, Table
log.configure("warning")
store = Store.open(sys.argv[1], readonly=True)
view = store.read_view()
print("reading", flush=True)
sys.stdin.readline()
"""


def test_a_reader_slot_left_by_a_killed_process_is_cleared_at_open(
    store: Store, data_dir: Path
) -> None:
    """docs/architecture.md pitfalls: a process killed inside a read txn keeps its reader
    slot (while another process keeps the environment open) until reader_check();
    every Store.open calls it (and the writer every minute)."""
    store.commit([Put(Table.KV, b"k", b"v")])
    with subprocess.Popen(
        [sys.executable, "-c", READER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as reader:
        assert reader.stdout is not None
        assert reader.stdout.readline() == b"reading\n"
        reader.kill()
        reader.wait(timeout=EVENT_TIMEOUT_S)
    with capture_logs() as logs, Store.open(data_dir, readonly=True):
        pass
    assert logs[0] == {
        "event": "store_stale_readers_cleared",
        "log_level": "warning",
        "component": "store",
        "path": str(data_dir),
        "count": 1,
    }


def test_a_writer_starting_while_raspy_kv_asks_for_one_is_not_refused(
    data_dir: Path,
) -> None:
    """raspy-kv asks whether a raspyd holds the data dir by taking a shared lock for
    a moment, again and again while it waits for a store being made; a raspyd that
    started in that moment failed 'in use by another process (pid unknown)'."""
    data_dir.mkdir()
    probe = os.open(data_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # as lock_holder() does
    ended = threading.Timer(0.05, lambda: os.close(probe))  # a probe's moment
    ended.start()
    try:
        DataDirLock(data_dir).release()
    finally:
        ended.join()


_FIRST_OPENER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
except BlockingIOError:
    print("in use")
else:
    print("first")
"""


@pytest.mark.parametrize("readonly", [False, True], ids=["writer", "reader"])
def test_an_open_store_keeps_lmdb_s_lock_on_its_lock_file(
    tmp_path: Path, readonly: bool
) -> None:
    """LMDB holds a shared fcntl lock on lock.mdb while a process has the store open:
    a later opener that can lock it alone takes itself for the first and lays the
    lock file out again (the reader table emptied, the txn id reset) under a running
    writer, which then reused pages still in use (MDB_CORRUPTED: a raspy-kv check
    beside raspyd did it). The open's second look at lock.mdb closed a descriptor of
    it, and closing any descriptor of a file drops all of the process's fcntl locks
    on it: no opener, raspyd or raspy-kv, held LMDB's lock after its open."""
    data_dir = tmp_path / "data"
    with capture_logs():
        Store.open(data_dir, TINY).close()
        with Store.open(data_dir, TINY, readonly=readonly) as store:
            assert store.get(Table.KV, b"nothing") is None
            other = subprocess.run(
                [sys.executable, "-c", _FIRST_OPENER, str(data_dir / "lock.mdb")],
                capture_output=True,
                text=True,
                timeout=EVENT_TIMEOUT_S,
                check=True,
            )
    assert other.stdout == "in use\n"
