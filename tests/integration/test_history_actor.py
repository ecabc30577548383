"""The history actor over a real edge, Clone server, device service and LMDB store:
it records the logged devices only, follows the `log` flag set at run time, answers
`<host>.logger.history` over MDP, and keeps its history across a restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pykka
import pytest
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.device_services import (
    HOST,
    Services,
    mdp_request,
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
    tree_fixture,  # noqa: F401  # fixture `tree`
    tree_value,
)
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until
from support.writer_gate import WriterGate

from raspy.actors.history import (
    LOG_REFRESH_S,
    HistoryActor,
    HistoryLinks,
)
from raspy.client.clone import CloneClient
from raspy.client.worker import Worker
from raspy.clock import SystemClock
from raspy.config import DevicesConfig, HistoryConfig
from raspy.devices.registries import fake_registry
from raspy.stats import Stats
from raspy.storage.history_rows import stored_rows
from raspy.storage.store import Delete, Put, Store
from raspy.storage.tables import (
    HISTORY_KEY_PREFIX,
    HISTORY_ROW_PREFIX,
    Table,
    history_row_key,
)

SERVICE = f"{HOST}.logger.history"
ATTIC = f"{HOST}.fake.attic"
CELLAR = f"{HOST}.fake.cellar"
T0 = 1_780_012_800.0  # 2026-05-29 00:00 UTC, a multiple of every step
_FLUSH_S = 60.0
_CONFIG = HistoryConfig(flush_interval_s=_FLUSH_S, tiers=("10s:1h", "1m:1d"))
_SENSORS = (
    {"name": "attic", "oid": "sensor.temperature", "log": True, "poll_interval_s": 3600.0},
    {"name": "cellar", "oid": "sensor.temperature", "poll_interval_s": 3600.0},
)  # fmt: skip


class Recorder:
    """Starts and stops HistoryActors on one edge, Clone server and store."""

    def __init__(self, edge: EdgeHandle, server: CloneServer, store: Store) -> None:
        self.edge, self.server, self.store = edge, server, store
        self.clock = FakeClock(wall=T0)
        self.stats = Stats()
        self.ref: pykka.ActorRef[Any] | None = None

    def start(
        self,
        config: HistoryConfig = _CONFIG,
        *,
        same_stats: bool = False,
        started_wall: float | None = None,
    ) -> None:
        """`same_stats`: the counters go on, as raspyd's do when it restarts the
        recorder (a new Clone server); else this actor's counters only.
        `started_wall`: raspyd's start; by default now on the services' clock, so
        the sensors' first readings, before it, count as the run before's."""
        if not same_stats:
            self.stats = Stats()
        links = HistoryLinks(
            self.edge.ref,
            self.edge.outbox,
            self.server.ref,
            self.store,
            self.clock,
            self.stats,
        )
        if started_wall is None:
            started_wall = time.time()
        self.ref = HistoryActor.start(HOST, config, links, started_wall)

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=True, timeout=10)
            self.ref = None

    def wait_logged(self, count: int) -> None:
        wait_until(
            lambda: self.stats.get("history.logged_devices") == count,
            what=f"{count} logged devices",
        )

    def publish(self, fullname: str, value: float, at: float) -> None:
        """A reading at wall time `at`; returns once the actor has taken it."""
        self.clock.advance(at - self.clock.wall())
        before = self.stats.get("history.samples")
        key = f"/device/{fullname}/value".encode()
        self.server.publisher.set(key, json.dumps(value).encode())
        wait_until(lambda: self.stats.get("history.samples") > before, what="a sample")

    def history(self, **fields: Any) -> tuple[bytes, Any]:
        status, body = mdp_request(self.edge, SERVICE, action="history", **fields)
        return status, json.loads(body)

    def rows(self) -> int:
        return len(self.store.scan(Table.HISTORY, HISTORY_ROW_PREFIX))


@pytest.fixture(name="recorder")
def recorder_fixture(
    edge: EdgeHandle,
    server: CloneServer,
    store: Store,
    services: Services,
    tree: CloneClient,
) -> Iterator[Recorder]:
    config = DevicesConfig(fake_enabled=True, fake=_SENSORS)
    services.start(fake_registry(HOST, config), SystemClock())
    # the sensors' first readings come before the recorder, their next in an hour
    wait_until(
        lambda: None not in (tree_value(tree, ATTIC), tree_value(tree, CELLAR)),
        what="the sensors' first readings",
    )
    running = Recorder(edge, server, store)
    running.start()
    running.wait_logged(1)
    yield running
    running.stop()


def _points(recorder: Recorder, since: float, **fields: Any) -> list[list[float]]:
    status, reply = recorder.history(key=ATTIC, since=since, **fields)
    assert status == b"200", reply
    return list(reply["points"])


def test_logged_values_are_answered_before_and_after_the_flush(
    recorder: Recorder,
) -> None:
    for i, value in enumerate((20.0, 21.0, 23.0)):
        recorder.publish(ATTIC, value, T0 + 10 * i)
    expected = [[T0, 20.0, 20.0, 20.0], [T0 + 10, 21.0, 21.0, 21.0],
                [T0 + 20, 23.0, 23.0, 23.0]]  # fmt: skip
    assert _points(recorder, T0 - 60) == expected
    assert recorder.rows() == 0  # not yet written: the flush interval is not over
    recorder.clock.advance(_FLUSH_S)
    wait_until(lambda: recorder.rows() == 4, what="one flush of 3 raw + 1 bucket")
    assert _points(recorder, T0 - 60) == expected
    assert _points(recorder, T0 - 60, resolution="1m") == [[T0, 64 / 3, 20.0, 23.0]]


def test_after_a_flush_the_next_step_opens_no_read_transaction(
    recorder: Recorder, store: Store
) -> None:
    """Wear: each LMDB read txn writes its reader slot page (lock.mdb) on the card.
    The rows the next step looks up are read right after the flush, while its
    commit's page is still to be written back: the step change reads nothing."""
    for i in range(6):
        recorder.publish(ATTIC, 20.0 + i, T0 + 10 * i)
    recorder.clock.advance(T0 + _FLUSH_S - recorder.clock.wall())
    wait_until(lambda: recorder.rows() == 7, what="one flush of 6 raw + 1 bucket")
    # the actor answers in turn: once this is answered, the flush is wholly done
    assert _points(recorder, T0 - 60)[-1] == [T0 + 50, 25.0, 25.0, 25.0]
    before = store.read_txns
    recorder.publish(ATTIC, 30.0, T0 + 60)  # a new step in both tiers
    recorder.publish(ATTIC, 31.0, T0 + 70)
    assert store.read_txns == before
    recorder.clock.advance(_FLUSH_S)
    wait_until(lambda: recorder.rows() == 10, what="the next minute's rows written")
    assert _points(recorder, T0 + 55) == [
        [T0 + 60, 30.0, 30.0, 30.0],
        [T0 + 70, 31.0, 31.0, 31.0],
    ]


def test_devices_without_the_log_flag_are_not_recorded_until_it_is_set(
    recorder: Recorder, edge: EdgeHandle
) -> None:
    recorder.server.publisher.set(f"/device/{CELLAR}/value".encode(), b"11.5")
    # a logged key's sample after it: the recorder has taken (and skipped) the cellar's
    # update once it counts this one, the two coming in order on one subscription
    recorder.publish(ATTIC, 20.0, T0)
    status, reply = recorder.history(key=CELLAR, since=T0 - 60)
    assert (status, reply["error"]) == (b"404", "unknown_key")
    status, body = mdp_request(
        edge, f"{HOST}.fake.devices", action="log", device="cellar", value=True
    )
    assert status == b"200", body
    recorder.clock.advance(LOG_REFRESH_S)  # the recorder asks the services again
    recorder.wait_logged(2)
    # its value now is a point at once (it was 404 until its next reading)
    first = [T0 + LOG_REFRESH_S, 11.5, 11.5, 11.5]
    status, reply = recorder.history(key=CELLAR, since=T0 - 60)
    assert (status, reply["points"]) == (b"200", [first])
    recorder.publish(CELLAR, 12.5, T0 + 10)
    status, reply = recorder.history(key=CELLAR, since=T0 - 60)
    assert (status, reply["points"]) == (b"200", [first, [T0 + 10, 12.5, 12.5, 12.5]])
    status, body = mdp_request(edge, SERVICE, action="keys")
    assert json.loads(body)["keys"] == [
        f"/device/{ATTIC}/value",
        f"/device/{CELLAR}/value",
    ]


ROOF = f"{HOST}.far.roof"
_FAR_LIST = json.dumps(
    {"v": 1, "action": "list", "devices": [{"fullname": ROOF, "config": {"log": True}}]}
).encode()


class FarService:
    """A devices service of its own (a second board's): a real MDP worker on the
    broker that answers `list` with one logged device, the roof, and comes and goes."""

    def __init__(self, edge: EdgeHandle) -> None:
        self.edge = edge
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def up(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        name = f"{HOST}.far.devices"
        with Worker(self.edge.endpoint, name, context=self.edge.context) as worker:
            worker.serve(lambda body: [b"200", _FAR_LIST], stop=self._stop)

    def down(self) -> None:
        """Its worker says goodbye (DISCONNECT): the broker tells the recorder."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def test_a_devices_service_back_after_going_away_repeats_no_value(
    recorder: Recorder, edge: EdgeHandle
) -> None:
    """Its whole list counted as newly logged on its return, so the last value of
    each of its devices was sampled again, stamped then: a repeat of an old reading
    in the history (the far board may have been off for hours)."""
    recorder.server.publisher.set(f"/device/{ROOF}/value".encode(), b"7.5")
    recorder.publish(ATTIC, 20.0, T0)  # the roof's update is taken before it
    far = FarService(edge)
    far.up()
    try:
        recorder.wait_logged(2)  # the roof logged: its value now, a first point
        first = [T0, 7.5, 7.5, 7.5]
        status, reply = recorder.history(key=ROOF, since=T0 - 60)
        assert (status, reply["points"]) == (b"200", [first])
        far.down()
        recorder.wait_logged(1)
        recorder.clock.advance(60)
        far.up()
        recorder.wait_logged(2)
        status, reply = recorder.history(key=ROOF, since=T0 - 60)
        assert (status, reply["points"]) == (b"200", [first])
    finally:
        far.down()


@pytest.mark.parametrize("this_run", [True, False])
def test_a_device_logged_at_the_start_has_its_seeded_value_if_read_in_this_run(
    recorder: Recorder, edge: EdgeHandle, this_run: bool
) -> None:
    """docs/history.md: a device just set to record gets its value of that moment
    as a first point if it was read since raspyd started. At a start its reading
    may come before the recorder follows the tree: in the seed only, it gave no
    point. The seed holds the run before's values too (the tree loaded from the
    store): its `/timestamp`, before raspyd started, says so, and gives none."""
    recorder.stop()
    read_at = T0 - 30
    recorder.server.publisher.set(f"/device/{ROOF}/value".encode(), b"7.5")
    recorder.server.publisher.set(
        f"/device/{ROOF}/timestamp".encode(), json.dumps(read_at).encode()
    )
    recorder.start(started_wall=read_at - 1 if this_run else read_at + 1)
    recorder.wait_logged(1)
    recorder.publish(ATTIC, 20.0, T0)  # the seed is in: the recorder follows
    far = FarService(edge)
    far.up()
    try:
        recorder.wait_logged(2)
        # the attic's sample after the list: the roof's first point was taken then
        recorder.publish(ATTIC, 21.0, T0 + 10)
        status, reply = recorder.history(key=ROOF, since=T0 - 60)
    finally:
        far.down()
    if this_run:
        assert (status, reply["points"]) == (b"200", [[T0, 7.5, 7.5, 7.5]])
    else:
        assert (status, reply["error"]) == (b"404", "unknown_key")


def test_history_survives_a_restart_and_buckets_go_on_where_they_were(
    recorder: Recorder,
) -> None:
    recorder.publish(ATTIC, 10.0, T0 + 5)
    recorder.publish(ATTIC, 20.0, T0 + 15)
    recorder.stop()  # a clean stop writes what is pending
    assert recorder.rows() == 3
    recorder.start()
    recorder.wait_logged(1)
    recorder.publish(ATTIC, 30.0, T0 + 25)
    assert _points(recorder, T0 - 60) == [
        [T0 + 5, 10.0, 10.0, 10.0],
        [T0 + 15, 20.0, 20.0, 20.0],
        [T0 + 25, 30.0, 30.0, 30.0],
    ]
    assert _points(recorder, T0 - 60, resolution="1m") == [[T0, 20.0, 10.0, 30.0]]


def test_dropped_samples_are_counted_on_across_a_restart_of_the_recorder(
    recorder: Recorder,
) -> None:
    """`history.dropped` was a gauge of the running recorder's own count: after a
    restart (raspyd starts a new one with a new Clone server) it stood still, then
    went back to count from 0. Each raw slot here holds a point an hour newer than
    the sample (the raw tier keeps an hour): one drop before the restart, one after."""
    recorder.publish(ATTIC, 10.0, T0 + 3605)
    recorder.publish(ATTIC, 11.0, T0 + 3615)
    recorder.clock.step_wall(-3600.0)  # NTP sets a clock that ran an hour ahead
    recorder.publish(ATTIC, 12.0, T0 + 5)
    assert recorder.stats.get("history.dropped") == 1
    recorder.stop()
    # the gauge is the old recorder's 1 until the new one has asked which devices
    # are logged (after its subscription): a 0 first, so the wait is for the new one
    recorder.stats.gauge("history.logged_devices", 0)
    recorder.start(same_stats=True)
    recorder.wait_logged(1)
    recorder.publish(ATTIC, 13.0, T0 + 15)
    assert recorder.stats.get("history.dropped") == 2


def test_a_stored_bucket_that_began_before_since_is_answered_dated_at_since(
    recorder: Recorder,
) -> None:
    """The minute bucket of T0 holds samples after since = T0 + 10: read back from
    the store it is answered, dated at since (the raw tier has no point before it)."""
    for i, value in enumerate((10.0, 20.0, 30.0)):
        recorder.publish(ATTIC, value, T0 + 5 + 10 * i)
    recorder.clock.advance(_FLUSH_S)
    wait_until(lambda: recorder.rows() == 4, what="one flush of 3 raw + 1 bucket")
    since = T0 + 10
    assert _points(recorder, since, resolution="1m") == [[since, 20.0, 10.0, 30.0]]
    assert _points(recorder, since) == [
        [T0 + 15, 20.0, 20.0, 20.0],
        [T0 + 25, 30.0, 30.0, 30.0],
    ]


def _reading(
    recorder: Recorder,
    fullname: str,
    at: float,
    value: object = ...,
    sample: bool = True,
) -> None:
    """A device's reading at wall time `at` as the tree gets it: `/value` only when
    it changed (`value` given), `/timestamp` always. With `sample`, returns once the
    actor has recorded it; without, the next reading's sample comes after it."""
    recorder.clock.advance(at - recorder.clock.wall())
    before = recorder.stats.get("history.samples")
    if value is not ...:
        body = json.dumps(value).encode()
        recorder.server.publisher.set(f"/device/{fullname}/value".encode(), body)
    stamp = json.dumps(at).encode()
    recorder.server.publisher.set(f"/device/{fullname}/timestamp".encode(), stamp)
    if sample:
        wait_until(
            lambda: recorder.stats.get("history.samples") == before + 1,
            what="one sample",
        )


def test_a_reading_that_repeats_the_value_is_a_sample_and_null_is_a_gap(
    recorder: Recorder,
) -> None:
    """The tree sets `/value` only when it changes: a lamp left on, a steady room,
    drew no points for hours (a gap where the data has none). A null (a board marked
    offline) stays a gap, never a repeat of the value before it."""
    _reading(recorder, ATTIC, T0, 20.0)
    _reading(recorder, ATTIC, T0 + 10)
    _reading(recorder, ATTIC, T0 + 20)
    _reading(recorder, ATTIC, T0 + 30, None, sample=False)
    _reading(recorder, ATTIC, T0 + 40, sample=False)
    _reading(recorder, ATTIC, T0 + 50, 22.0)
    _reading(recorder, ATTIC, T0 + 60)
    assert _points(recorder, T0 - 60) == [
        [T0, 20.0, 20.0, 20.0],
        [T0 + 10, 20.0, 20.0, 20.0],
        [T0 + 20, 20.0, 20.0, 20.0],
        [T0 + 50, 22.0, 22.0, 22.0],
        [T0 + 60, 22.0, 22.0, 22.0],
    ]


def test_after_a_restart_a_repeated_value_is_read_from_the_stored_tree(
    recorder: Recorder,
) -> None:
    _reading(recorder, ATTIC, T0, 20.0)
    recorder.stop()
    recorder.start()
    recorder.wait_logged(1)
    _reading(recorder, ATTIC, T0 + 10)  # no `/value` since the start
    assert _points(recorder, T0 - 60) == [
        [T0, 20.0, 20.0, 20.0],
        [T0 + 10, 20.0, 20.0, 20.0],
    ]


def test_forget_commits_with_no_read_view_open_so_the_map_can_grow(
    recorder: Recorder,
) -> None:
    """The map grows only while no read view of the process is open (Store.read_view).
    `forget` committed its deletion inside the view it had read the rows in: a group
    commit that had to grow the map waited 30 s on that view, every other write of
    the hub (a Titanic request, a Clone update) with it, and `forget` timed out."""
    for i, value in enumerate((20.0, 21.0)):
        recorder.publish(ATTIC, value, T0 + 10 * i)
    recorder.clock.advance(_FLUSH_S)
    wait_until(lambda: recorder.rows() == 3, what="one flush of 2 raw + 1 bucket")
    store = recorder.store
    with ThreadPoolExecutor(1) as pool, WriterGate(store) as gate:
        submits = store.stats()["submits"]
        forgetting = pool.submit(
            mdp_request, recorder.edge, SERVICE, action="forget", key=ATTIC
        )
        wait_until(lambda: store.stats()["submits"] > submits, what="forget's commit")
        # the same group commit, more than the map holds: the map must grow
        count = int(store.stats()["map_size"]) // 100_000 + 2
        big = store.submit(
            [Put(Table.CRON, b"big%03d" % i, b"x" * 100_000) for i in range(count)]
        )
        gate.open()
        big.result(timeout=10)
        status, body = forgetting.result(timeout=10)
    assert (status, json.loads(body)["rows"]) == (b"200", 3)
    assert recorder.rows() == 0


def test_forget_deletes_every_row_of_a_key_written_or_not_and_its_record(
    recorder: Recorder,
) -> None:
    """A device retired for good kept its rows (up to ~70,000, MB of the store) for
    ever, and `keys` named it: `forget` deletes them, the ones still waiting for the
    flush too (no flush writes them back), and says how many were stored."""
    for i, value in enumerate((20.0, 21.0, 23.0)):
        recorder.publish(ATTIC, value, T0 + 10 * i)
    recorder.clock.advance(_FLUSH_S)
    wait_until(lambda: recorder.rows() == 4, what="one flush of 3 raw + 1 bucket")
    recorder.publish(ATTIC, 24.0, T0 + _FLUSH_S + 10)  # pending, not written yet
    status, body = mdp_request(recorder.edge, SERVICE, action="forget", key=ATTIC)
    reply = json.loads(body)
    assert (status, reply["key"], reply["rows"]) == (
        b"200",
        f"/device/{ATTIC}/value",
        4 + 2,  # the written ones, and the raw row and bucket waiting for the flush
    )
    assert recorder.rows() == 0
    assert recorder.store.scan(Table.HISTORY, HISTORY_KEY_PREFIX) == []
    _, keys = mdp_request(recorder.edge, SERVICE, action="keys")
    assert json.loads(keys)["keys"] == []
    status, body = mdp_request(recorder.edge, SERVICE, action="forget", key=ATTIC)
    assert (status, json.loads(body)["error"]) == (b"404", "unknown_key")
    # still logged, it starts anew: its minute holds the new value alone, not the
    # 24.0 that was waiting when it was forgotten
    recorder.publish(ATTIC, 30.0, T0 + _FLUSH_S + 20)
    recorder.clock.advance(_FLUSH_S)
    wait_until(lambda: recorder.rows() == 2, what="the flush of 1 raw + 1 bucket")
    assert _points(recorder, T0 - 60, resolution="1m") == [
        [T0 + _FLUSH_S, 30.0, 30.0, 30.0]
    ]


def test_a_key_no_utf8_encodes_is_refused_and_the_actor_answers_on(
    recorder: Recorder,
) -> None:
    """`raspy history $'/device/\\xff/value' --forget`: the store's encoding of the
    key raised out of the handler, no reply went back, and the command waited out
    its timeout to say the hub does not answer."""
    for action in ("forget", "history"):
        fields: dict[str, Any] = {"since": T0} if action == "history" else {}
        status, body = mdp_request(
            recorder.edge, SERVICE, action=action, key="/device/\udcff/value", **fields
        )
        assert (status, json.loads(body)["error"]) == (b"400", "bad_request")
    assert recorder.stats.get("history.errors") == 0


def test_forget_deletes_the_rows_of_tiers_no_longer_configured(
    recorder: Recorder,
) -> None:
    """A tier taken out of [history] tiers (or a span made shorter) keeps its rows
    in the store; `forget` looked only in the configured tiers' slots, so a device
    retired for good kept those rows for ever. It deletes them all now, and counts
    them; another device's rows stay."""
    for i, value in enumerate((20.0, 21.0, 23.0)):
        recorder.publish(ATTIC, value, T0 + 10 * i)
    recorder.stop()  # a clean stop writes them: 3 raw rows, 1 minute bucket
    assert recorder.rows() == 4
    stored = recorder.store.scan(Table.HISTORY, HISTORY_ROW_PREFIX)
    raw_row = stored[0][1]
    attic, cellar = f"/device/{ATTIC}/value", f"/device/{CELLAR}/value"
    extra = [
        # a slot of 10s:2h, past the 360 of 10s:1h, written before the span shrank
        Put(Table.HISTORY, history_row_key(10, 500, attic), raw_row),
        # another device's row in the tier that goes
        Put(Table.HISTORY, history_row_key(60, 0, cellar), raw_row),
    ]
    recorder.store.commit(extra)
    recorder.start(HistoryConfig(flush_interval_s=_FLUSH_S, tiers=("10s:1h",)))
    recorder.wait_logged(1)
    status, body = mdp_request(recorder.edge, SERVICE, action="forget", key=ATTIC)
    assert (status, json.loads(body)["rows"]) == (b"200", 3 + 1 + 1)
    left = recorder.store.scan(Table.HISTORY, HISTORY_ROW_PREFIX)
    assert [key for key, _ in left] == [history_row_key(60, 0, cellar)]


def test_forget_deletes_rows_an_older_forget_left_of_a_key_no_longer_recorded(
    recorder: Recorder,
) -> None:
    """The forget before the store walk deleted a key's record and the rows of the
    configured tiers only, so a tier taken out of the config kept that key's rows;
    a second forget was told 404 (no record), and the rows stayed for good. The
    walk finds them without the record; a key with nothing in the store is still
    404."""
    raw_row = _stored_row(recorder)
    attic = f"/device/{ATTIC}/value"
    recorder.store.commit(
        [Put(Table.HISTORY, history_row_key(3600, 7, attic), raw_row)]
    )
    recorder.start()
    status, body = mdp_request(recorder.edge, SERVICE, action="forget", key=ATTIC)
    assert (status, json.loads(body)["rows"]) == (b"200", 1)
    assert recorder.store.scan(Table.HISTORY, HISTORY_ROW_PREFIX) == []
    status, body = mdp_request(recorder.edge, SERVICE, action="forget", key=ATTIC)
    assert (status, json.loads(body)["error"]) == (b"404", "unknown_key")


def _stored_row(recorder: Recorder) -> bytes:
    """One real stored row's bytes (an attic reading written by a clean stop), the
    store then emptied of history."""
    recorder.publish(ATTIC, 20.0, T0)
    recorder.stop()
    stored = recorder.store.scan(Table.HISTORY, b"")
    assert stored
    recorder.store.commit([Delete(Table.HISTORY, key) for key, _ in stored])
    return next(v for k, v in stored if k.startswith(HISTORY_ROW_PREFIX))


def test_stored_rows_finds_a_keys_rows_among_others_in_any_step_and_slot(
    store: Store,
) -> None:
    """The walk behind `forget`: exact keys only (not one that extends it), in
    steps and slots no tier names, past slots and steps that hold other keys."""
    mine, longer, other = "/device/a/value", "/device/a/valuex", "/device/b/value"
    places = [(10, 0), (10, 7), (60, 3), (3600, 43_799), (86_400, 0)]
    ops = [Put(Table.HISTORY, history_row_key(s, n, mine), b"r") for s, n in places]
    for step, slot in [(10, 1), (10, 7), (30, 0), (60, 3), (60, 4), (90_000, 2)]:
        ops.append(Put(Table.HISTORY, history_row_key(step, slot, longer), b"r"))
        ops.append(Put(Table.HISTORY, history_row_key(step, slot, other), b"r"))
    store.commit(ops)
    with store.read_view() as view:
        assert stored_rows(view, mine) == [
            history_row_key(s, n, mine) for s, n in places
        ]
        assert stored_rows(view, "/device/c/value") == []


def test_a_device_whose_every_sample_is_skipped_is_no_recorded_key(
    recorder: Recorder, edge: EdgeHandle
) -> None:
    """A number beyond ±1e200 (a misread register) is skipped: nothing is recorded.
    The key was listed in `keys` all the same, and stored, and its query answered
    200 with no points where the docs say 404 (nothing recorded for that key)."""
    recorder.publish(ATTIC, 1e300, T0)
    assert recorder.stats.get("history.dropped") == 1
    status, reply = recorder.history(key=ATTIC, since=T0 - 60)
    assert (status, reply["error"]) == (b"404", "unknown_key")
    _, body = mdp_request(edge, SERVICE, action="keys")
    assert json.loads(body)["keys"] == []
    recorder.publish(ATTIC, 20.0, T0 + 10)  # its first number: recorded from there
    assert _points(recorder, T0 - 60) == [[T0 + 10, 20.0, 20.0, 20.0]]
    _, body = mdp_request(edge, SERVICE, action="keys")
    assert json.loads(body)["keys"] == [f"/device/{ATTIC}/value"]


def test_only_a_devices_value_and_timestamp_are_samples(recorder: Recorder) -> None:
    """docs/history.md: the `/value` key of a logged device is recorded, a reading's
    `/timestamp` as a sample of it; its other keys (`/status`, `/unit`) are none."""
    publisher = recorder.server.publisher
    _reading(recorder, ATTIC, T0, 20.0)
    publisher.set(f"/device/{ATTIC}/status".encode(), b'"ok"')
    publisher.set(f"/device/{ATTIC}/unit".encode(), b'"\\u00b0C"')
    _reading(recorder, ATTIC, T0 + 10)  # after the others, on the same subscription
    assert recorder.stats.get("history.samples") == 2
    assert _points(recorder, T0 - 60) == [
        [T0, 20.0, 20.0, 20.0],
        [T0 + 10, 20.0, 20.0, 20.0],
    ]
    _, body = mdp_request(recorder.edge, SERVICE, action="keys")
    assert json.loads(body)["keys"] == [f"/device/{ATTIC}/value"]


@pytest.mark.parametrize(
    "key",
    [f"/device/{ATTIC}", f"{ATTIC}/value", f"/device/{ATTIC}/timestamp"],
    ids=["device-key-without-value", "name-with-value", "another-field"],
)
def test_a_devices_key_not_its_value_is_told_the_value_key(
    recorder: Recorder, key: str
) -> None:
    """`/device/<name>` read its device name as `/device`, and no hint came; a name
    typed with `/value` became `…/value/value`, told nothing either. Only `/value` is
    recorded: the 404 names the device's `/value` key."""
    recorder.publish(ATTIC, 20.0, T0)
    status, reply = recorder.history(key=key, since=T0 - 60)
    assert (status, reply["error"]) == (b"404", "unknown_key")
    assert f'(did you mean "/device/{ATTIC}/value"?)' in reply["detail"]


def test_a_deleted_value_is_no_sample_until_the_device_sets_it_anew(
    recorder: Recorder, store: Store
) -> None:
    """`raspy-kv del` of a live device's `/value`: the tree holds no value, and the
    device sends its next `/value` only when it changes, its `/timestamp` at every
    reading. Those readings are no samples: the value is gone, none to repeat. The
    recorder read the stored tree for it, which may not have the deletion yet, and
    repeated the value deleted."""
    _reading(recorder, ATTIC, T0, 20.0)
    start = recorder.stats.get("history.samples")
    recorder.server.publisher.delete(f"/device/{ATTIC}/value".encode())
    before = store.read_txns
    _reading(recorder, ATTIC, T0 + 10, sample=False)
    _reading(recorder, ATTIC, T0 + 20, sample=False)
    _reading(recorder, ATTIC, T0 + 30, 21.0)  # changed: set anew
    _reading(recorder, ATTIC, T0 + 40)
    assert store.read_txns == before  # the stored tree is asked for nothing
    assert recorder.stats.get("history.samples") == start + 2
    assert _points(recorder, T0 - 60) == [
        [T0, 20.0, 20.0, 20.0],
        [T0 + 30, 21.0, 21.0, 21.0],
        [T0 + 40, 21.0, 21.0, 21.0],
    ]
