"""A remote board's status key, `/board/<host>.<svc>/status`, written by the offline
marker (actors/devices/offline.py) on a real edge, Clone server and store: `online`
when the board's worker appears, `offline` in the very turn that marks its
readings, and nothing when the tree already says so, also across a restart.

The board is a real MDP worker that comes and goes at the real broker edge; the
marker's clock is a FakeClock; every update the Clone server publishes is recorded,
so "nothing written" is counted, not assumed.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import pytest
import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.clonesrv import CloneServer, clone_server
from support.edge_fixtures import EdgeHandle
from support.recording_actor import QueueRecorder
from support.remote_board import Board, Marker
from support.wait import wait_until
from support.writer_gate import WriterGate

from raspy import service_stats
from raspy.actors import messages as msgs
from raspy.actors.clone.server import read_records, set_if_unchanged
from raspy.actors.devices.offline import OFFLINE_RETRY_S, STATUS_RECHECK_S
from raspy.cores.clone import Guarded
from raspy.devices.reading import Reading, Status, tree_entries
from raspy.storage.scenario_store import live_records
from raspy.storage.store import Store

GRACE_S = 5.0
SERVICE = "cellar.fake.devices"
KEY = "/board/cellar.fake/status"
DEVICES = ("cellar.fake.freezer", "cellar.fake.boiler")
OK_READING = Reading(-18.5, "°C", Status.OK, 1_700_000_000.0)

pytestmark = pytest.mark.timeout(60)


class Updates:
    """Every update a Clone server publishes from now on, in order."""

    def __init__(self, server: CloneServer) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._seen: list[msgs.KeyChanged] = []
        self._recorder = QueueRecorder.start(self._queue)
        server.ref.ask(msgs.CloneSubscribe(b"/", self._recorder), timeout=5)

    def all(self) -> list[msgs.KeyChanged]:
        while not self._queue.empty():
            self._seen.append(self._queue.get())
        return list(self._seen)

    def of(self, key: str) -> list[object]:
        """The values `key` was published with (None: deleted)."""
        return [
            json.loads(u.body) if u.body else None
            for u in self.all()
            if u.key == key.encode()
        ]

    def stop(self) -> None:
        self._recorder.stop(block=True, timeout=5)


class Hub:
    """The marker and the Clone server of one test, and what was published."""

    def __init__(
        self, edge: EdgeHandle, server: CloneServer, store: Store, clock: FakeClock
    ) -> None:
        self.server = server
        self.store = store
        self.updates = Updates(server)
        self.marker = Marker(
            edge, server.ref, store, clock, GRACE_S, hosted=("hub.fake.devices",)
        )
        self.board = Board(self.marker, SERVICE)

    def readings(self) -> None:
        """The board's two devices in the tree, `ok`."""
        for fullname in DEVICES:
            entries = tree_entries(fullname, OK_READING)
            self.server.publisher.set_many(
                [(k.encode(), v) for k, v in entries.items()]
            )
        wait_until(
            lambda: len(self.records("/device/cellar.fake.")) == 8,
            what="the board's readings",
        )

    def records(self, prefix: str) -> list[tuple[str, int, bytes]]:
        """The live tree under `prefix` (key, seq, body), as the marker reads it."""
        return read_records(self.server.ref, self.store, prefix)

    def status(self) -> object:
        found = [body for key, _, body in self.records(KEY) if key == KEY]
        return json.loads(found[0]) if found else None

    def wait_status(self, expected: str) -> None:
        wait_until(lambda: self.updates.of(KEY)[-1:] == [expected], what=expected)

    def stop(self) -> None:
        self.board.close()
        self.marker.stop()
        self.updates.stop()


@pytest.fixture
def hub(
    edge: EdgeHandle, server: CloneServer, store: Store, clock: FakeClock
) -> Iterator[Hub]:
    running = Hub(edge, server, store, clock)
    yield running
    running.stop()


def test_the_key_goes_online_when_the_boards_worker_appears(hub: Hub) -> None:
    hub.readings()
    assert hub.status() is None
    hub.board.up()
    hub.wait_status("online")
    assert hub.marker.stats.get("devices.offline.board_online") == 1


def test_it_goes_offline_in_the_turn_that_marks_the_readings_not_before(
    hub: Hub,
) -> None:
    hub.readings()
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    hub.marker.advance(GRACE_S - 0.5)
    hub.server.turn()
    assert hub.updates.of(KEY) == ["online"]
    before = len(hub.updates.all())
    hub.marker.advance(0.5)
    hub.wait_status("offline")
    marked = hub.updates.all()[before:]
    # the devices' marks, then the board's key, in consecutive sequence numbers:
    # one decision, not a timer of its own
    assert [u.key.decode() for u in marked[-1:]] == [KEY]
    assert sorted(u.key.decode() for u in marked[:-1]) == sorted(
        f"/device/{name}/{field}"
        for name in DEVICES
        for field in ("value", "unit", "status", "timestamp")
    )
    seqs = [u.seq for u in marked]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert hub.marker.stats.get("devices.offline.marked") == 2


def test_the_markers_counters_are_its_parts_statistics(hub: Hub) -> None:
    """The marker runs as the part `devices.offline`, whose `.statistics`, /stats/
    and `raspy status` show the counters named `devices.offline.*`: its own were
    named `devices.offline_marked`, `devices.board_online`, ..., of no part, and the
    part showed none of them."""
    hub.readings()
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    hub.marker.advance(GRACE_S)
    hub.wait_status("offline")
    snapshot = service_stats.Snapshot((), hub.marker.stats.counters(), {}, 0.0)
    values = service_stats.service_values(snapshot, "devices.offline")
    assert {name: value.value for name, value in values.items()} == {
        "board_offline": 1,
        "board_online": 1,
        "marked": 2,
    }


def test_it_goes_online_again_when_the_worker_comes_back(hub: Hub) -> None:
    hub.readings()
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    hub.marker.advance(GRACE_S)
    hub.wait_status("offline")
    hub.board.up()
    hub.wait_status("online")
    assert hub.updates.of(KEY) == ["online", "offline", "online"]


def test_nothing_is_written_when_nothing_changed(hub: Hub) -> None:
    """A worker that comes back within the grace, an outage already marked, and the
    hub's own device service (never a board) write nothing."""
    hub.readings()
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    hub.marker.advance(GRACE_S - 1)
    hub.board.up()  # a restart of the poller within the grace
    hub.marker.advance(GRACE_S)
    hub.board.down()
    hub.marker.advance(GRACE_S)
    hub.wait_status("offline")
    hub.marker.advance(GRACE_S * 10)  # marked once an outage
    own = Board(hub.marker, "hub.fake.devices")
    try:
        own.up()
        own.down()
        hub.marker.advance(GRACE_S)
    finally:
        own.close()
    hub.server.turn()
    board_keys = [u.key for u in hub.updates.all() if u.key.startswith(b"/board/")]
    assert board_keys == [KEY.encode()] * 2
    assert hub.updates.of(KEY) == ["online", "offline"]


def test_a_board_back_while_its_offline_is_stored_goes_online(
    hub: Hub, store: Store
) -> None:
    """The board's worker is back in the very moment the hub wrote its `offline`,
    still on its way to the disk: a read of the tree shows `online` yet (what was
    published), and the key would have stayed `offline` with the board there."""
    hub.readings()
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    with WriterGate(store) as gate:  # a slow SD card
        hub.marker.advance(GRACE_S)  # offline accepted, not yet stored or published
        assert hub.status() == "online"
        hub.board.up()  # decided against the tree as read: skipped, read again
        gate.open()
        hub.wait_status("offline")
    hub.marker.advance(STATUS_RECHECK_S)
    hub.wait_status("online")
    assert hub.updates.of(KEY) == ["online", "offline", "online"]


def test_a_board_gone_while_its_online_is_stored_goes_offline(
    hub: Hub, store: Store
) -> None:
    """The other way round: the grace ends while the board's `online` is on its way
    to the disk (a grace shorter than the commit)."""
    hub.readings()
    with WriterGate(store) as gate:
        hub.board.up()
        hub.board.down()
        hub.marker.advance(GRACE_S)  # the marks, and the board's key: skipped
        gate.open()
        hub.wait_status("online")
    hub.marker.advance(STATUS_RECHECK_S)
    hub.wait_status("offline")
    assert hub.updates.of(KEY) == ["online", "offline"]
    assert hub.marker.stats.get("devices.offline.marked") == 2


def test_a_board_with_no_readings_in_the_tree_is_told_too(hub: Hub) -> None:
    """A board that has no device (yet), or whose devices were deleted: its key
    still follows its worker."""
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    hub.marker.advance(GRACE_S)
    hub.wait_status("offline")


def test_a_board_retired_within_the_grace_is_not_written_back(hub: Hub) -> None:
    """`raspy-kv del --subtree` of its readings and `del` of its key, as the README
    says: nothing of the board comes back."""
    hub.readings()
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    keys = [key for key, _, _ in hub.records("/device/cellar.fake.")] + [KEY]
    hub.server.publisher.set_many([(key.encode(), b"") for key in keys])
    wait_until(lambda: hub.updates.of(KEY)[-1:] == [None], what="the key deleted")
    hub.marker.advance(GRACE_S)
    hub.server.turn()
    assert hub.records("/device/cellar.fake.") == []
    assert hub.status() is None
    assert hub.updates.of(KEY) == ["online", None]


def test_offline_is_on_disk_once_published_not_coalesced(hub: Hub) -> None:
    """A restart, even a power cut, must not lose it: it is written as the device
    marks are (durable), not as readings are (coalesced, on disk once a minute)."""
    hub.readings()
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    hub.marker.advance(GRACE_S)
    hub.wait_status("offline")
    stored = live_records(hub.store, KEY, [])  # the store alone, nothing in memory
    assert [(key, json.loads(body)) for key, _, body in stored] == [(KEY, "offline")]


@pytest.mark.parametrize("gone", [False, True], ids=["board_there", "board_gone"])
def test_a_restart_of_the_hub_writes_nothing_new_for_the_board(
    edge: EdgeHandle,
    store: Store,
    clock: FakeClock,
    zmq_context: zmq.Context[zmq.Socket[bytes]],
    gone: bool,
) -> None:
    """raspyd stops and starts again (its Clone server over the same store, a new
    marker). A board still there is announced by the broker at once; a board still
    gone is due again after the grace: its key already says what the hub finds."""
    with clone_server(zmq_context, store, clock) as first:
        before = Hub(edge, first, store, clock)
        before.readings()
        before.board.up()
        before.wait_status("online")
        if gone:
            before.board.down()
            before.marker.advance(GRACE_S)
            before.wait_status("offline")
        seq = before.records(KEY)[0][1]
        worker = before.board
        before.marker.stop()
        before.updates.stop()
    with clone_server(zmq_context, store, clock) as second:
        after = Hub(edge, second, store, clock)
        after.marker.advance(GRACE_S * 2)
        second.turn()
        try:
            assert after.updates.of(KEY) == []
            assert after.records(KEY)[0][1] == seq
            assert after.status() == ("offline" if gone else "online")
            written = after.marker.stats.get("devices.offline.board_online")
            assert (
                written + after.marker.stats.get("devices.offline.board_offline") == 0
            )
        finally:
            after.stop()
            worker.close()


def test_an_online_the_clone_server_did_not_take_is_written_at_the_retry(
    edge: EdgeHandle, server: CloneServer, store: Store, clock: FakeClock
) -> None:
    """A Clone server that did not answer in time (busy for a moment, not dead: the
    supervisor starts nothing again) would have left the key without its `online`
    until the board's next outage."""
    calls: list[int] = []

    def write_once_too_late(groups: Sequence[Guarded]) -> list[int]:
        calls.append(len(groups))
        if len(calls) == 1:  # what set_if_unchanged raises when its ask times out
            raise TimeoutError("the Clone server did not answer")
        return set_if_unchanged(server.ref, groups)

    updates = Updates(server)
    marker = Marker(edge, server.ref, store, clock, GRACE_S, write=write_once_too_late)
    board = Board(marker, SERVICE)
    try:
        board.up()
        assert calls == [1]
        marker.advance(OFFLINE_RETRY_S - 0.5)
        assert calls == [1]
        marker.advance(0.5)
        wait_until(lambda: updates.of(KEY) == ["online"], what="online at the retry")
        assert calls == [1, 1]
    finally:
        board.close()
        marker.stop()
        updates.stop()


def _too_long(logs: list[MutableMapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in e.items() if k != "log_level"}
        for e in logs
        if e["event"] == "clone_key_too_long"
    ]


def test_a_board_key_past_the_clone_limit_is_counted_and_not_written(
    hub: Hub,
) -> None:
    """A foreign worker whose service name makes its status key 256 bytes: the
    Clone server refused the key, and the marker logged `online` as written, counted
    it, and took it for the tree's."""
    service = "far." + "s" * 238 + ".devices"
    key = f"/board/far.{'s' * 238}/status"
    assert len(key) == 256
    far = Board(hub.marker, service)
    try:
        with capture_logs() as logs:
            far.up()
            far.down()
            hub.marker.advance(GRACE_S)  # nothing of it in the tree: no `offline`
    finally:
        far.close()
    hub.server.turn()
    assert [u.key for u in hub.updates.all() if u.key.startswith(b"/board/")] == []
    assert _too_long(logs) == [
        {
            "component": "devices",
            "event": "clone_key_too_long",
            "service": service[:64],
            "key": key[:64],
            "bytes": 256,
            "limit_bytes": 255,
        }
    ]
    assert hub.marker.stats.get("devices.offline.keys_too_long") == 1
    assert hub.marker.stats.get("devices.offline.board_online") == 0
    assert [e["event"] for e in logs if e["event"].startswith("board_status")] == []


def test_a_device_mark_past_the_clone_limit_is_left_out_whole(hub: Hub) -> None:
    """A board's device whose `value` key fits the 255 bytes but whose `timestamp`
    key would not: its mark was a group the Clone server took three keys of (a
    null value beside an old time), logged and counted as marked. Now the device
    keeps its reading, and the others are marked as ever."""
    fullname = "cellar.fake." + "d" * 228
    value_key = f"/device/{fullname}/value"
    assert (len(value_key), len(f"/device/{fullname}/timestamp")) == (254, 258)
    hub.readings()
    hub.server.publisher.set_many([(value_key.encode(), b"4.5")])
    wait_until(
        lambda: len(hub.records("/device/cellar.fake.")) == 9, what="the long one"
    )
    hub.board.up()
    hub.wait_status("online")
    hub.board.down()
    with capture_logs() as logs:
        hub.marker.advance(GRACE_S)
        hub.wait_status("offline")
    device_keys = {
        u.key.decode() for u in hub.updates.all() if u.key.startswith(b"/device/")
    }
    assert not any(fullname in key for key in device_keys - {value_key})
    assert [body for k, _, body in hub.records(value_key) if k == value_key] == [b"4.5"]
    assert _too_long(logs) == [
        {
            "component": "devices",
            "event": "clone_key_too_long",
            "service": SERVICE,
            "key": f"/device/{fullname}/timestamp"[:64],
            "bytes": 258,
            "limit_bytes": 255,
        }
    ]
    assert hub.marker.stats.get("devices.offline.keys_too_long") == 1
    assert hub.marker.stats.get("devices.offline.marked") == 2
