"""The store's writer thread stuck in a commit (an fsync on a dying SD card): every
durable write waits behind it (Titanic's accepts, the Clone server's, the history)
while the thread lives and every part answers. The runtime's store check now sees a
writer on one commit past supervisor.hung_after_s, as it sees a store damaged or
closed: the store `failed`, fatal (raspyd ends for systemd to restart it). An idle
writer, or one busy with many short commits, is never stuck. Real LMDB in tmp_path;
only the blocking is the test's: a job whose op waits on an Event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.hung_runtime import hung_after, rounds_after, started
from support.wait import wait_until

from raspy.actors import supervisor
from raspy.actors.runtime_watch import STORE
from raspy.cores.supervision import PartState
from raspy.storage.store import Put, Store, Table
from raspy.storage.txn import WriteTxn
from raspy.storage.writer import Job

BOUND_S = 1.0
RELEASE = threading.Event()  # set at the end: the writer finishes its commit


@pytest.fixture
def runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[supervisor.Runtime]:
    hung_after(monkeypatch, BOUND_S)
    RELEASE.clear()
    rt = started(tmp_path, "[clone]\nenabled = false\n")
    try:
        yield rt
    finally:
        RELEASE.set()  # before the store's close, which waits for the writer
        rt.stop()


def _blocked_commit(store: Store) -> threading.Event:
    """A job whose op waits on RELEASE inside the writer's txn; set once it is in."""
    entered = threading.Event()

    def apply(txn: WriteTxn) -> None:
        entered.set()
        txn.put(Table.CRON, b"stuck", b"\x90")
        RELEASE.wait(30)

    store._live_writer().submit(Job(apply, 1, None, None))
    return entered


def _past(seconds: float) -> None:
    """Wait until `seconds` from now have gone by (the rounds go on meanwhile)."""
    until = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= until, what=f"{seconds} s", timeout_s=30)


@pytest.mark.timeout(60)
def test_a_writer_stuck_in_a_commit_fails_the_store_and_is_fatal(
    runtime: supervisor.Runtime,
) -> None:
    entered = _blocked_commit(runtime.store)
    wait_until(entered.is_set, what="the writer in the blocked commit")
    wait_until(runtime.fatal_event.is_set, what="the stuck writer fatal", timeout_s=20)
    assert runtime.store.is_alive()  # its thread lives: only the commit is stuck
    assert runtime.store.writer_busy_for_s() > BOUND_S
    status = runtime.status_of(STORE)
    assert status is not None
    assert status.state is PartState.FAILED
    stuck = "the store's writer thread is stuck in one commit for "
    assert status.reason.startswith(stuck)
    assert " s (supervisor.hung_after_s = 1)" in status.reason
    assert runtime.fatal is not None
    assert runtime.fatal.startswith(f"store failed: {stuck}")
    assert not runtime.healthy()
    assert runtime.summary() == "store failed"


@pytest.mark.timeout(60)
def test_an_idle_writer_is_never_stuck(runtime: supervisor.Runtime) -> None:
    runtime.store.commit([Put(Table.CRON, b"once", b"\x90")])
    _past(3 * BOUND_S)  # idle all along: past the bound and its rounds
    rounds_after(runtime, 2)
    assert runtime.store.writer_busy_for_s() == 0.0
    assert runtime.fatal is None
    status = runtime.status_of(STORE)
    assert status is not None
    assert status.state is PartState.RUNNING


@pytest.mark.timeout(60)
def test_a_writer_busy_with_many_short_commits_is_not_stuck(
    runtime: supervisor.Runtime,
) -> None:
    """One commit after another, each synced, for three bounds: the writer is busy
    all along, but no one commit takes long."""
    until = time.monotonic() + 3 * BOUND_S
    commits = 0
    while time.monotonic() < until and commits < 100_000:  # bounded either way
        runtime.store.commit([Put(Table.CRON, b"count", commits.to_bytes(4))])
        commits += 1
    rounds_after(runtime, 2)
    assert commits > 10  # many: the rounds saw it busy
    assert runtime.fatal is None
    status = runtime.status_of(STORE)
    assert status is not None
    assert status.state is PartState.RUNNING
