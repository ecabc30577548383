"""CloneIntake (actors/clone/intake.py): sources read in bounded batches into
CloneCore, and what it decides carried out, over a real store and real sockets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.wait import wait_until

from raspy.actors.clone.intake import DRAIN_BATCH
from raspy.actors.clone.parts import CloneParts
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.clone.snapshot import MAX_WAITING
from raspy.config import CloneConfig, LimitsConfig, StoreConfig
from raspy.cores import clone as core_mod
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox
from raspy.transport.wakeup import Wakeup

Context = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def stats() -> Stats:
    return Stats()


@pytest.fixture
def parts(tmp_path: Path, stats: Stats) -> Iterator[CloneParts]:
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    wakeup = Wakeup()
    try:
        built = CloneParts.build(
            store,
            CloneConfig(),
            LimitsConfig(),
            clock=FakeClock(),
            stats=stats,
            wakeup=wakeup,
        )
        built.commits.load(0.0)
        yield built
    finally:
        wakeup.close()
        store.close()


def _readable(fd: int) -> bool:
    poller = zmq.Poller()
    poller.register(fd, zmq.POLLIN)
    return bool(poller.poll(0))


def test_the_outbox_is_read_a_batch_a_turn_and_the_next_poll_does_not_wait(
    parts: CloneParts, stats: Stats
) -> None:
    outbox = Outbox()
    try:
        publisher = ClonePublisher(outbox)
        for i in range(DRAIN_BATCH + 5):
            publisher.set(b"/k/%d" % i, b"v")
        publisher.send([b"?", b"x"])  # only our code writes it; still never fatal
        read = parts.intake.outbox_reader(outbox)

        read(zmq.POLLIN)
        assert parts.core.last_seq == DRAIN_BATCH
        assert _readable(outbox.read_fd)  # the rest wakes the loop again
        parts.pacing.on_turn(100.0)
        assert (
            parts.pacing.next_deadline(
                7.0, 100.0, ttl_deadline=None, sending=False, retry_blocked=False
            )
            == 7.0
        )  # at once: more input may wait

        read(zmq.POLLIN)
        assert parts.core.last_seq == DRAIN_BATCH + 5
        assert stats.get("clone.rejected.bad_channel") == 1
        assert not _readable(outbox.read_fd)
        parts.pacing.on_turn(100.0)
        assert (
            parts.pacing.next_deadline(
                7.0, 100.0, ttl_deadline=None, sending=False, retry_blocked=False
            )
            > 7.0
        )
    finally:
        outbox.close()


def test_collector_input_goes_to_the_core_and_refusals_are_counted_and_logged(
    zmq_context: Context, parts: CloneParts, stats: Stats
) -> None:
    pull = zmq_context.socket(zmq.PULL)
    push = zmq_context.socket(zmq.PUSH)
    try:
        pull.bind("inproc://clone-intake-test")
        push.connect("inproc://clone-intake-test")
        good = clone.kvset(b"/a", b"1", uuid.uuid4().bytes, (), None)
        push.send_multipart(good)
        push.send_multipart([b"KVSET", b"junk"])
        push.send_multipart(good)  # the same UUID again: a resend, not logged
        read = parts.intake.socket_reader(pull, "collector", parts.core.on_kvset)
        with capture_logs() as logs:
            wait_until(lambda: pull.poll(0), what="the collector's input")
            read(zmq.POLLIN)
        assert parts.core.last_seq == 1
        assert stats.get("clone.duplicates") == 1
        rejected = [e for e in logs if e["event"] == "clone_input_rejected"]
        assert [(e["peer"], e["log_level"]) for e in rejected] == [
            ("collector", "warning")
        ]
        assert stats.get(f"clone.rejected.{rejected[0]['reason']}") == 1
    finally:
        push.close(linger=0)
        pull.close(linger=0)


def test_a_refused_kvset_is_logged_with_its_key_and_uuid_cut_short(
    parts: CloneParts, stats: Stats
) -> None:
    """The log names the update refused (its properties here): the key cut to 64
    bytes as every outside value, the uuid in hex; what names no update, neither."""
    writer = uuid.uuid4().bytes
    key = b"/" + b"k" * 300
    refused = [key, bytes(8), writer, b"no equals\n", b"1"]
    with capture_logs() as logs:
        parts.intake.apply(parts.core.on_kvset(refused, 1.0), "collector")
        parts.intake.apply(parts.core.on_kvset([b"KVSET"], 1.0), "collector")
    assert stats.get("clone.rejected.bad_properties") == 1
    first, second = (e for e in logs if e["event"] == "clone_input_rejected")
    assert first["reason"] == "bad_properties"
    assert first["key"] == "'/" + "k" * 63 + "'…"
    assert first["uuid"] == writer.hex()
    assert "key" not in second
    assert "uuid" not in second


def test_snapshot_requests_past_the_waiting_limit_are_refused_as_queue_full(
    parts: CloneParts, stats: Stats
) -> None:
    requests = [core_mod.SnapshotRequested(b"/")] * (MAX_WAITING + 1)
    with capture_logs() as logs:
        parts.intake.apply(list(requests), "ab12", b"\xab\x12")
    assert stats.get("clone.rejected.snapshot_queue_full") == 1
    assert parts.snapshots.stats()["clone.snapshots.waiting"] == MAX_WAITING
    assert [(e["event"], e["peer"]) for e in logs] == [("clone_input_rejected", "ab12")]


def test_an_ephemeral_key_expires_at_its_deadline_not_before(parts: CloneParts) -> None:
    frames = clone.kvset(b"/k/e", b"v", uuid.uuid4().bytes, (), 0.5)
    parts.intake.apply(parts.core.on_kvset(frames, 10.0), "test")
    assert (parts.core.last_seq, parts.core.ephemeral_count) == (1, 1)
    parts.pacing.on_turn(100.0)  # the next HUGZ is a second away
    assert parts.next_deadline(10.0, 100.0, xpub_waiting=False) == 10.5  # its ttl
    parts.intake.expire(10.4)
    assert (parts.core.last_seq, parts.core.ephemeral_count) == (1, 1)
    parts.intake.expire(10.5)
    assert (parts.core.last_seq, parts.core.ephemeral_count) == (2, 0)  # deleted
    assert parts.stats() == {
        "clone.last_seq": 2,
        "clone.ephemeral_keys": 0,
        "clone.snapshots.active": 0,
        "clone.snapshots.waiting": 0,
        "clone.seeds.waiting": 0,
    }


def test_a_full_subscriber_makes_the_loop_turn_again_soon(parts: CloneParts) -> None:
    parts.pacing.on_turn(100.0)
    idle = parts.next_deadline(7.0, 100.0, xpub_waiting=False)
    assert 7.0 < parts.next_deadline(7.0, 100.0, xpub_waiting=True) < idle


def _released(parts: CloneParts, count: int = 1) -> list[core_mod.Update]:
    """Submit what was accepted and wait until `count` updates are stored (or
    covered) and out."""
    parts.commits.submit()
    out: list[core_mod.Update] = []

    def drained() -> bool:
        out.extend(parts.commits.released())
        return len(out) >= count

    wait_until(drained, what="the batch stored and released")
    return out


def test_a_keys_current_sequence_is_its_latest_update_wherever_that_is(
    parts: CloneParts,
) -> None:
    """CommitPipeline.current_seq, which guarded groups are checked against: accepted
    this turn, being stored, published coalesced but not stored, or in the store."""
    commits, core = parts.commits, parts.core

    def kvset(key: bytes, body: bytes) -> None:
        frames = clone.kvset(key, body, uuid.uuid4().bytes, (), None)
        parts.intake.apply(core.on_kvset(frames, 1.0), "test")

    kvset(b"/k", b"1")
    assert commits.current_seq(b"/k") == 1  # accepted this turn
    commits.submit()
    assert commits.current_seq(b"/k") == 1  # being stored
    wait_until(lambda: list(commits.released()), what="/k stored")
    assert commits.current_seq(b"/k") == 1  # in the store
    parts.intake.apply(core.on_local_batch([(b"/device/d/v", b"2")], 1.0), "test")
    assert [u.seq for u in _released(parts)] == [2]
    assert commits.buffer.pending_count == 1  # coalesced: not in the store yet
    assert commits.current_seq(b"/device/d/v") == 2
    kvset(b"/k", b"")
    assert commits.current_seq(b"/k") == 0  # deleted, not stored yet
    _released(parts)
    assert commits.current_seq(b"/k") == 0  # deleted in the store
    assert commits.current_seq(b"/never") == 0


def test_guarded_groups_are_checked_against_the_latest_update_and_skips_counted(
    parts: CloneParts, stats: Stats
) -> None:
    frames = clone.kvset(b"/device/b.f.t/status", b'"ok"', uuid.uuid4().bytes, (), None)
    parts.intake.apply(parts.core.on_kvset(frames, 1.0), "test")
    _released(parts)
    mark = ((b"/device/b.f.t/status", b'"offline"'),)
    stale = core_mod.Guarded(((b"/device/b.f.t/status", 0),), mark)
    fresh = core_mod.Guarded(((b"/device/b.f.t/status", 1),), mark)
    assert parts.intake.guarded([stale, fresh, stale]) == [0, 2]
    assert stats.get("clone.guarded_skipped") == 2
    (update,) = _released(parts)
    assert (update.seq, update.body) == (2, b'"offline"')
    assert parts.commits.current_seq(b"/device/b.f.t/status") == 2
