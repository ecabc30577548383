"""raspy-kv restore streams its dump (a Pi with 512 MB takes a dump of tens of MB
back): it reads the file twice, a line at a time (first to check every record, before
the data dir is touched, then to write them in batches inside ONE txn), and keeps its
guarantee: a bad record late in the file leaves the store as it was."""

from __future__ import annotations

import os
import signal
import sys
import threading
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.kv_cli import make_store, records, run, write_dump
from support.restore_writing import restore_writing
from support.store_fixtures import TINY
from support.wait import wait_until
from support.writer_gate import WriterGate

from raspy.errors import StoreError
from raspy.storage.dump import Header, Record
from raspy.storage.staging import STAGING_DIR
from raspy.storage.store import Op, Put, Store, Table
from raspy.storage.tables import DATA_TABLES, LAST_SEQ_KEY, encode_kv, encode_seq

_COUNT = 6000  # six batches of the restore's 1000 records


def _many(count: int, body_bytes: int) -> tuple[Record, ...]:
    kv = tuple(
        Record(
            Table.KV,
            b"/device/k%06d" % i,
            encode_kv(i, os.urandom(body_bytes), {}, None),
        )
        for i in range(count)
    )
    return (*kv, Record(Table.KV_META, LAST_SEQ_KEY, encode_seq(count)))


@pytest.mark.timeout(60)
def test_a_restore_holds_a_batch_of_the_dump_in_memory_not_the_dump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole dump used to be read, split, parsed and copied before a record was
    written: 3 to 4 times its size in memory. Python's own allocations (tracemalloc:
    LMDB's pages of the one txn are not counted) must stay well under the dump."""
    dump = write_dump(
        tmp_path / "big.dump", Header(1, "now", DATA_TABLES), _many(_COUNT, 1000)
    )
    size = dump.stat().st_size
    assert size > 8 * 1024 * 1024
    tracemalloc.start()
    try:
        status, _, err = run(
            ["restore", "--data-dir", str(tmp_path / "a"), str(dump)], capsys
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 0, err
    assert peak < size / 2, f"peak {peak} bytes for a dump of {size}"
    restored = records(tmp_path / "a")
    assert len(restored) == _COUNT + 2  # and the schema version
    assert restored[(Table.KV, b"/device/k%06d" % (_COUNT - 1))]


def test_a_bad_record_late_in_a_long_dump_leaves_the_store_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last record is bad, after several batches' worth of good ones: nothing is
    written (with --replace, nothing emptied either), and the line is named."""
    target = tmp_path / "b"
    make_store(target)
    before = records(target)
    good = _many(_COUNT, 10)
    bad = Record(Table.KV_META, LAST_SEQ_KEY + b"!", b"\x01\x02")
    dump = write_dump(
        tmp_path / "bad.dump", Header(1, "now", DATA_TABLES), (*good, bad)
    )
    status, _, err = run(
        ["restore", "--data-dir", str(target), "--replace", str(dump)], capsys
    )
    line = len(good) + 2
    assert (status, err) == (
        1,
        f"raspy-kv restore: {dump} line {line}: kv.meta 'last_seq!': unknown key\n",
    )
    assert records(target) == before
    status, _, _ = run(
        ["restore", "--data-dir", str(tmp_path / "new"), str(dump)], capsys
    )
    assert status == 1
    assert not (tmp_path / "new").exists()


def _puts(count: int, body_bytes: int) -> list[Put]:
    return [
        Put(Table.CRON, b"job%06d" % i, os.urandom(body_bytes)) for i in range(count)
    ]


def test_a_failure_late_in_the_batches_writes_nothing(tmp_path: Path) -> None:
    """Store.restore: batches are written into one txn as they come; an error from the
    last one (a changed file, a record over the limits) aborts all of it."""
    with Store.open(tmp_path / "a", TINY) as store:
        store.commit([Put(Table.CRON, b"keep", b"\x90")])

        def batches() -> Iterator[Sequence[Op]]:
            yield _puts(500, 100)
            yield [Put(Table.CRON, b"x" * 600, b"")]  # key over LMDB's 511 bytes

        with pytest.raises(StoreError, match="key of 600 bytes"):
            store.restore(batches, clear=[Table.CRON])
        assert store.scan(Table.CRON) == [(b"keep", b"\x90")]


def test_batches_are_read_again_when_the_map_must_grow(tmp_path: Path) -> None:
    """Without room asked ahead, a 1 MB map fills: the map doubles and the txn runs
    again from the first batch, so every record is there exactly once."""
    calls = 0
    puts = _puts(3000, 1000)

    def batches() -> Iterator[Sequence[Op]]:
        nonlocal calls
        calls += 1
        for start in range(0, len(puts), 1000):
            yield puts[start : start + 1000]

    with Store.open(tmp_path / "a", TINY) as store:
        store.restore(batches)
        assert calls > 1
        assert store.scan(Table.CRON) == [(p.key, p.value) for p in puts]


def test_room_asked_ahead_grows_the_map_once(tmp_path: Path) -> None:
    calls = 0
    puts = _puts(3000, 1000)

    def batches() -> Iterator[Sequence[Op]]:
        nonlocal calls
        calls += 1
        yield puts

    with Store.open(tmp_path / "a", TINY) as store:
        store.restore(batches, room=2 * 3000 * 1000)
        assert calls == 1
        assert len(store.scan(Table.CRON)) == 3000


@pytest.mark.timeout(60)
def test_ctrl_c_while_the_records_are_written_writes_nothing(tmp_path: Path) -> None:
    """The second pass runs in the store's writer thread, inside the txn; Ctrl-C in
    the main thread must abort that txn, not wait for it to commit. The progress bar
    of the second pass (on a terminal: "restore [") says it has begun."""
    target = tmp_path / "b"
    make_store(target)
    before = records(target)
    with restore_writing(tmp_path, target, "--replace") as restore:
        restore.send_signal(signal.SIGINT)
        assert restore.wait(timeout=30) == 130
    assert records(target) == before


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_restore_killed_or_hung_up_on_leaves_a_lost_store_lost(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """A restore into a data dir that lost its data.mdb, ended by a kill (SIGTERM)
    or by the hangup of the ssh session it ran in: like a Ctrl-C, it writes nothing
    and removes the data.mdb it began, so raspyd still refuses the data dir
    (docs/recovery.md). Before, it died at once and left an empty store there,
    which raspyd then started on as if nothing had been lost."""
    target = tmp_path / "b"
    make_store(target)
    (target / "data.mdb").unlink()  # lost: raspy.store and lock.mdb are there
    with restore_writing(tmp_path, target) as restore:
        # the restore began it in its staging dir
        assert (target / STAGING_DIR / "data.mdb").exists()
        restore.send_signal(signum)
        assert restore.wait(timeout=30) == 130
    assert not (target / "data.mdb").exists()
    assert not (target / STAGING_DIR).exists()


@pytest.mark.timeout(30)
def test_ctrl_c_past_the_last_batch_waits_for_the_commit_and_returns_done(
    tmp_path: Path,
) -> None:
    """Once `batches` has given its last batch, `stop` can no longer abort the txn
    (the migration and the commit follow): a Ctrl-C then must not be raised as if
    nothing had been written (raspy-kv said "interrupted", and removed the data file
    of a store it had made while the writer still committed to it): the restore
    waits for the commit and returns done."""
    # SIGINT reaches Python in the main thread only; pytest runs tests there
    assert threading.current_thread() is threading.main_thread()
    puts = _puts(200, 10)
    stop = threading.Event()

    def batches() -> Iterator[Sequence[Op]]:
        yield puts
        _ctrl_c_while_the_restore_waits()  # past the last look at `stop`

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with Store.open(tmp_path / "a", TINY) as store:
            try:
                store.restore(batches, clear=[Table.CRON], stop=stop)
            except KeyboardInterrupt:  # not raised on: it would end the test run
                pytest.fail("the interrupt was raised: the restore was written")
            assert stop.is_set()  # told, though too late to abort
            assert store.scan(Table.CRON) == [(p.key, p.value) for p in puts]
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(30)
def test_ctrl_c_while_batches_are_written_aborts_them_and_is_raised(
    tmp_path: Path,
) -> None:
    """Ctrl-C before the last batch: `stop` is set, `batches` raises at its next
    batch, the txn aborts, and the interrupt is raised once the writer is idle."""
    # SIGINT reaches Python in the main thread only; pytest runs tests there
    assert threading.current_thread() is threading.main_thread()
    stop = threading.Event()

    def batches() -> Iterator[Sequence[Op]]:
        yield _puts(10, 10)
        _ctrl_c_while_the_restore_waits()
        wait_until(stop.is_set, what="the stop flag")
        raise StoreError("restore interrupted")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with Store.open(tmp_path / "a", TINY) as store:
            store.commit([Put(Table.CRON, b"keep", b"\x90")])
            with pytest.raises(KeyboardInterrupt):
                store.restore(batches, clear=[Table.CRON], stop=stop)
            assert stop.is_set()  # the batches were stopped, not left to time out
            assert store.scan(Table.CRON) == [(b"keep", b"\x90")]
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_while_the_restore_waits() -> None:
    """SIGINT to the main thread, from the writer's, as a terminal's Ctrl-C, once
    the main thread waits for the writer (the restore's Future.result, in a
    Condition's wait). Sent at once, it could land before that wait on a loaded
    machine (in the suite, every time): the interrupt then left the restore from
    its submit, `stop` was never set, and the batches went on until their own
    5 s wait for it ended, a moment these tests are not about."""
    main = threading.main_thread()

    def waiting() -> bool:
        frame = sys._current_frames().get(main.ident or 0)
        code = None if frame is None else frame.f_code
        return code is not None and (code.co_filename, code.co_name) == (
            threading.__file__,
            "wait",
        )

    wait_until(waiting, what="the main thread waiting for the writer")
    signal.pthread_kill(main.ident or 0, signal.SIGINT)


@pytest.mark.timeout(30)
def test_ctrl_c_as_the_restore_is_handed_to_the_writer_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupt that lands as the submit returns, before the wait for the writer
    (a window of microseconds): the restore is raised and must not be written later
    by the writer, which takes it from its queue once it is free (it was)."""
    with Store.open(tmp_path / "a", TINY) as store:
        store.commit([Put(Table.CRON, b"keep", b"\x90")])
        writer = store._live_writer()
        submit = writer.submit

        def submit_then_interrupted(job: Any) -> None:
            submit(job)
            raise KeyboardInterrupt

        with WriterGate(store) as gate:
            monkeypatch.setattr(writer, "submit", submit_then_interrupted)
            with pytest.raises(KeyboardInterrupt):
                store.restore(lambda: [_puts(10, 10)], clear=[Table.CRON])
            monkeypatch.undo()
            gate.open()
        store.commit([Put(Table.CRON, b"after", b"\x90")])  # behind any queued job
        assert store.scan(Table.CRON) == [
            (b"after", b"\x90"),
            (b"gate", b"\x00"),
            (b"keep", b"\x90"),
        ]
