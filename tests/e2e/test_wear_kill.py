"""The write budget through kill -9 and SIGTERM in the real raspyd (issue 17).

Simulated sensors publish coalesced readings while a client writes durable keys; raspyd
is killed at a random moment, 20 times over one data dir. After each kill the store
must hold every acknowledged client write, the killed daemon's readings at most one
interval old, no reading older than the one stored at the kill before, and a
high-water mark above every sequence number published; after each restart a fresh
snapshot must agree with the store, and every number must be above all seen before.
A reading younger than the interval at a kill is lost with that daemon: no later
daemon can write it, so the age check looks only at the killed daemon's readings.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zmq
from support.clone_sub import subscribed
from support.clonesrv import snapshot
from support.daemon import Daemon
from support.zmqctx import checked_context

from raspy.protocol import clone
from raspy.storage.store import Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, decode_kv, decode_seq

CYCLES = 20
SENSORS = 4
INTERVAL_S = 0.5  # short: more flushes per cycle, and shorter runs show the age
BLOCK = 40  # small, so that kills land on both sides of a block's end
# a flush is due INTERVAL_S after the last one and starts within a loop turn (0.25 s);
# the margin covers that and its fsync on a shared, loaded disk
SLACK_S = 1.5


def _config(interval_s: float) -> str:
    lines = [
        "[store]",
        f"coalesce_interval_s = {interval_s}",
        f"seq_block = {BLOCK}",
        "",
        "[devices]",
        "fake_enabled = true",
    ]
    for index in range(SENSORS):
        lines += [
            "",
            "[[devices.fake]]",
            f'name = "t{index}"',
            'oid = "sensor.temperature"',
            f"period_s = {30.0 + index}",
            "poll_interval_s = 0.1",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Seen:
    """Every KVPUB seen so far: by sequence number, and per key with arrival time."""

    by_seq: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    arrivals: dict[bytes, list[tuple[float, int]]] = field(default_factory=dict)
    confirmed: dict[bytes, bytes] = field(default_factory=dict)  # client writes
    highest: int = 0

    def record(self, frames: list[bytes], floor: int) -> None:
        key, seq, body = frames[0], clone.decode_seq(frames[1]), frames[4]
        assert seq > max(self.highest, floor), f"seq {seq} after {self.highest}"
        self.highest = seq
        self.by_seq[seq] = (key, body)
        self.arrivals.setdefault(key, []).append((time.monotonic(), seq))
        if key.startswith(b"/e2e/"):
            self.confirmed[key] = body


@dataclass(frozen=True)
class AtKill:
    mark: int
    records: dict[bytes, tuple[int, bytes]]


def _drain(sub: zmq.Socket[bytes], seen: Seen, floor: int, timeout_ms: int) -> None:
    """Read what comes within `timeout_ms` of each message, for 2 s at most."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and sub.poll(timeout_ms):
        frames = sub.recv_multipart()
        if frames[0] != clone.HUGZ:
            seen.record(frames, floor)


def _run_then_kill(
    daemon: Daemon, seen: Seen, floor: int, cycle: int, run_s: float
) -> float:
    """Client writes and readings for `run_s`, then SIGKILL; returns the kill time."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
    with checked_context() as context:
        sub = subscribed(context, daemon.port_base)
        writer = context.socket(zmq.XPUB)
        try:
            writer.setsockopt(zmq.LINGER, 0)
            writer.connect(endpoints.collector)
            assert writer.poll(5000), "the collector never subscribed"
            writer.recv()
            deadline = time.monotonic() + run_s
            index = 0
            while time.monotonic() < deadline:
                key = b"/e2e/%02d/%06d" % (cycle, index)
                writer.send_multipart(clone.kvset(key, key, uuid.uuid4().bytes))
                index += 1
                _drain(sub, seen, floor, 2)
            daemon.kill()
            killed_at = time.monotonic()
            _drain(sub, seen, floor, 300)  # what was already on its way
        finally:
            sub.close()
            writer.close()
    return killed_at


def _read_store(data_dir: Path) -> AtKill:
    store = Store.open(data_dir, readonly=True)
    try:
        raw = store.get(Table.KV_META, LAST_SEQ_KEY)
        mark = 0 if raw is None else decode_seq(raw)
        records = {}
        for key, value in store.scan(Table.KV):
            record = decode_kv(value)
            records[key] = (record.seq, record.body)
    finally:
        store.close()
    return AtKill(mark, records)


def _check_store(
    at_kill: AtKill, before: AtKill, seen: Seen, started_at: float, killed_at: float
) -> int:
    """The checks after a kill; returns how many readings' age it could check.

    `before` is the store at the previous kill; `started_at` is when this cycle's
    daemon was started: readings that arrived before it came from a daemon that is
    dead, and those it had not written yet are legitimately lost.
    """
    assert at_kill.mark >= seen.highest, "a published number above the stored mark"
    for key, (seq, _) in before.records.items():
        if key.startswith(b"/device/"):
            stored = at_kill.records.get(key, (0, b""))[0]
            assert stored >= seq, f"{key!r}: stored seq {stored} after {seq}"
    for key, body in seen.confirmed.items():
        assert at_kill.records.get(key, (0, b""))[1] == body, f"{key!r} lost"
    for key, (seq, body) in at_kill.records.items():
        if seq in seen.by_seq:
            assert seen.by_seq[seq] == (key, body), f"seq {seq} seen otherwise"
    checked = 0
    for key, arrivals in seen.arrivals.items():
        if not key.startswith(b"/device/"):
            continue
        old_enough = [
            s
            for t, s in arrivals
            if started_at <= t <= killed_at - INTERVAL_S - SLACK_S
        ]
        if old_enough:
            stored = at_kill.records.get(key, (0, b""))[0]
            assert stored >= old_enough[-1], (
                f"{key!r}: stored seq {stored}, but seq {old_enough[-1]} was "
                f"published over {INTERVAL_S + SLACK_S} s before the kill"
            )
            checked += 1
    return checked


def _check_snapshot(daemon: Daemon, at_kill: AtKill, seen_before: int) -> int:
    """A client that (re)connects after the restart: the snapshot agrees with the
    store at the kill, plus only numbers above everything seen before."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
    with checked_context() as context:
        messages = snapshot(context, endpoints.snapshot)
    kthxbai = messages[-1]
    assert clone.decode_seq(kthxbai[1]) >= at_kill.mark
    shown = {m[0]: (clone.decode_seq(m[1]), m[4]) for m in messages[:-1]}
    for key, (seq, body) in shown.items():
        if seq <= at_kill.mark:
            assert at_kill.records.get(key) == (seq, body), f"{key!r} not as stored"
        else:
            assert seq > seen_before
    for key in at_kill.records:
        assert key in shown, f"{key!r} missing from the snapshot"
    return clone.decode_seq(kthxbai[1])


@pytest.mark.timeout(300)
def test_kill_9_at_random_moments_loses_no_acknowledged_write_and_no_number(
    tmp_path: Path,
) -> None:
    """Issue 17, done means: 20 kills during coalesced and durable writes."""
    rng = random.Random(17)
    data_dir = tmp_path / "data"
    seen = Seen()
    port_base: int | None = None
    at_kill = AtKill(0, {})
    ages_checked = 0
    for cycle in range(CYCLES):
        daemon = Daemon(data_dir, port_base=port_base, config_text=_config(INTERVAL_S))
        started_at = time.monotonic()
        daemon.start()
        port_base = daemon.port_base
        try:
            floor = _check_snapshot(daemon, at_kill, seen.highest)
            killed_at = _run_then_kill(
                daemon, seen, floor, cycle, rng.uniform(0.3, 3.0)
            )
        finally:
            daemon.kill()
        before, at_kill = at_kill, _read_store(data_dir)
        ages_checked += _check_store(at_kill, before, seen, started_at, killed_at)
    assert len(seen.confirmed) > CYCLES
    assert ages_checked > 0
    assert sum(1 for k in seen.arrivals if k.endswith(b"/timestamp")) == SENSORS


@pytest.mark.timeout(60)
def test_sigterm_writes_the_pending_readings(tmp_path: Path) -> None:
    """Issue 17: a clean stop loses nothing; before it, the readings were not stored."""
    data_dir = tmp_path / "data"
    daemon = Daemon(data_dir, config_text=_config(3600.0)).start()
    seen = Seen()
    try:
        with checked_context() as context:
            sub = subscribed(context, daemon.port_base)
            try:
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    _drain(sub, seen, 0, 50)
                before = _read_store(data_dir)
                assert daemon.terminate(timeout_s=20) == 0
                _drain(sub, seen, 0, 300)
            finally:
                sub.close()
    finally:
        daemon.kill()
    assert not any(k.startswith(b"/device/") for k in before.records)
    after = _read_store(data_dir)
    readings = {k: a[-1][1] for k, a in seen.arrivals.items() if b"/device/" in k}
    assert sum(1 for k in readings if k.endswith(b"/timestamp")) == SENSORS
    for key, seq in readings.items():
        stored_seq, body = after.records[key]
        assert stored_seq >= seq, f"{key!r} not written at the stop"
        if stored_seq == seq:
            assert seen.by_seq[seq] == (key, body)
    assert after.mark >= seen.highest
