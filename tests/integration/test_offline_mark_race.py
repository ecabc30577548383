"""The offline marker (actors/devices/offline.py) with a real Clone server and a real
broker edge: a board retired, or back, between the marker's read of the tree and its
write keeps what it did, because each device's mark is a compare-and-set that the
Clone server decides on its I/O thread.

The race is made certain, not hoped for: the marker's read returns what it read
only after a real delete, or a real fresh reading, went through the real
ClonePublisher and the Clone server applied it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence

import pykka
import pytest
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors.clone.server import read_records, set_if_unchanged
from raspy.actors.devices.offline import (
    OFFLINE_RETRY_S,
    OfflineMarkerActor,
    ReadRecords,
)
from raspy.cores.clone import Guarded
from raspy.devices.offline import OfflineWatch
from raspy.devices.reading import Reading, Status, tree_entries
from raspy.stats import Stats
from raspy.storage.store import Store

GRACE_S = 5.0
BOARD = "/device/board.fake."
ATTIC = "board.fake.attic"
CELLAR = "board.fake.cellar"
OK_READING = Reading(21.5, "°C", Status.OK, 1_700_000_000.0)

pytestmark = pytest.mark.timeout(60)


def _publish(server: CloneServer, fullname: str, reading: Reading) -> None:
    entries = tree_entries(fullname, reading)
    server.publisher.set_many([(k.encode(), v) for k, v in entries.items()])


def _tree(server: CloneServer, store: Store) -> dict[str, object]:
    records = read_records(server.ref, store, BOARD)
    return {key: json.loads(body) for key, _, body in records}


def _board_status(server: CloneServer, store: Store) -> list[object]:
    """The board's status key (raspy.devices.board), as a list: [] if absent."""
    records = read_records(server.ref, store, "/board/")
    return [json.loads(body) for _, _, body in records]


def _handled(stats: Stats, count: int) -> Callable[[], bool]:
    """The marker has decided about `count` devices, marked or skipped."""
    return lambda: (
        stats.get("devices.offline.marked") + stats.get("devices.offline.skipped")
        == count
    )


def _status(server: CloneServer, store: Store, fullname: str) -> object:
    return _tree(server, store).get(f"/device/{fullname}/status")


@pytest.fixture
def board(server: CloneServer, store: Store) -> CloneServer:
    """A remote board's two devices in the hub's tree, `ok`; no worker serves it."""
    for fullname in (ATTIC, CELLAR):
        _publish(server, fullname, OK_READING)
    wait_until(lambda: len(_tree(server, store)) == 8, what="the board's readings")
    return server


@pytest.fixture
def stats() -> Stats:
    return Stats()


@pytest.fixture
def start_marker(
    board: CloneServer, store: Store, edge: EdgeHandle, clock: FakeClock, stats: Stats
) -> Iterator[Callable[[Callable[[], None]], None]]:
    """Starts the marker, whose read of the board's subtree calls `between` before it
    returns (its other reads do not: the start's of the whole tree, the board's
    status key), and ends its grace."""
    started: list[pykka.ActorRef[OfflineMarkerActor]] = []

    def start(between: Callable[[], None]) -> None:
        def read(prefix: str) -> list[tuple[str, int, bytes]]:
            records = read_records(board.ref, store, prefix)
            if prefix == BOARD:  # the mark's read
                between()
            return records

        reader: ReadRecords = read
        marker = OfflineMarkerActor.start(
            OfflineWatch(GRACE_S, []),
            reader,
            functools.partial(set_if_unchanged, board.ref),
            edge.ref,
            clock=clock,
            stats=stats,
        )
        started.append(marker)
        marker.ask(msgs.Tick(), timeout=10)  # answered once on_start has run
        clock.advance(GRACE_S)  # the board was found without a worker: due now

    yield start
    for ref in started:
        ref.stop(block=True, timeout=10)


def test_without_a_race_every_device_is_marked_offline(
    board: CloneServer,
    store: Store,
    stats: Stats,
    start_marker: Callable[[Callable[[], None]], None],
) -> None:
    start_marker(lambda: None)
    wait_until(
        lambda: stats.get("devices.offline.marked") == 2, what="both devices marked"
    )
    wait_until(
        lambda: _status(board, store, CELLAR) == "offline", what="the mark published"
    )
    assert _status(board, store, ATTIC) == "offline"
    assert _tree(board, store)[f"/device/{ATTIC}/unit"] == "°C"
    assert stats.get("devices.offline.skipped") == 0
    wait_until(lambda: _board_status(board, store) == ["offline"], what="the board")


def test_a_board_retired_between_the_read_and_the_mark_stays_deleted(
    board: CloneServer,
    store: Store,
    stats: Stats,
    start_marker: Callable[[Callable[[], None]], None],
) -> None:
    """`raspy-kv del --subtree` within the grace: the mark wrote the four keys of each
    device again, and the retired board came back as offline for good."""

    def retire() -> None:
        keys = [key for key, _, _ in read_records(board.ref, store, BOARD)]
        board.publisher.set_many([(key.encode(), b"") for key in keys])
        wait_until(lambda: not _tree(board, store), what="the board's keys deleted")

    start_marker(retire)
    wait_until(_handled(stats, 2), what="the marker done with both devices")
    board.turn()  # whatever the mark queued is applied by now
    assert _tree(board, store) == {}
    assert stats.get("devices.offline.skipped") == 2
    assert board.counter("clone.guarded_skipped") == 2
    assert _board_status(board, store) == []  # its status key not written either


@pytest.mark.parametrize(
    "reading",
    [
        Reading(22.0, "°C", Status.OK, OK_READING.wall_ts + 30),
        OK_READING,  # sent again as it was: a status `ok` in the same bytes
    ],
    ids=["a_fresh_reading", "the_same_reading_again"],
)
def test_a_board_back_between_the_read_and_the_mark_stays_ok(
    board: CloneServer,
    store: Store,
    stats: Stats,
    start_marker: Callable[[Callable[[], None]], None],
    reading: Reading,
) -> None:
    """The board's first readings after its return land before the mark: written
    over, its status stayed `offline`, since raspy-poller then sends only what
    changes. Only the attic is back; the cellar is still marked."""
    before = read_records(board.ref, store, f"/device/{ATTIC}/status")

    def back() -> None:
        _publish(board, ATTIC, reading)
        wait_until(
            lambda: read_records(board.ref, store, f"/device/{ATTIC}/status") != before,
            what="the attic's reading applied",
        )

    start_marker(back)
    wait_until(_handled(stats, 2), what="the marker done with both devices")
    wait_until(
        lambda: _status(board, store, CELLAR) == "offline", what="the mark published"
    )
    board.turn()
    tree = _tree(board, store)
    assert tree[f"/device/{ATTIC}/status"] == "ok"
    assert tree[f"/device/{ATTIC}/value"] == reading.value
    assert stats.get("devices.offline.skipped") == 1


def test_a_mark_the_clone_server_did_not_take_is_tried_again(
    board: CloneServer,
    store: Store,
    edge: EdgeHandle,
    clock: FakeClock,
    stats: Stats,
) -> None:
    """A Clone server that did not answer in time (busy for a moment, not dead: the
    supervisor starts nothing again) left the outage unmarked for good."""
    calls: list[int] = []

    def write_once_too_late(groups: Sequence[Guarded]) -> list[int]:
        calls.append(len(groups))
        if len(calls) == 1:  # what set_if_unchanged raises when its ask times out
            raise TimeoutError("the Clone server did not answer")
        return set_if_unchanged(board.ref, groups)

    marker = OfflineMarkerActor.start(
        OfflineWatch(GRACE_S, []),
        functools.partial(read_records, board.ref, store),
        write_once_too_late,
        edge.ref,
        clock=clock,
        stats=stats,
    )
    try:
        marker.ask(msgs.Tick(), timeout=10)
        clock.advance(GRACE_S)
        wait_until(lambda: len(calls) == 1, what="the first try")
        marker.ask(msgs.Tick(), timeout=10)  # after the try: its retry is set
        assert stats.get("devices.offline.marked") == 0
        clock.advance(OFFLINE_RETRY_S)
        wait_until(
            lambda: stats.get("devices.offline.marked") == 2, what="marked at the retry"
        )
        # counted once the Clone server took it; in the tree a turn of its loop later
        wait_until(
            lambda: _status(board, store, ATTIC) == "offline", what="the mark published"
        )
    finally:
        marker.stop(block=True, timeout=10)
