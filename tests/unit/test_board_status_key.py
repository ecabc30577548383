"""A remote board's status key (raspy.devices.board): its name, what a value says,
when it is written and when the readings' mark writes it `offline`. Pure."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from raspy.devices.board import (
    BoardStatus,
    OnlineWrites,
    StatusWrite,
    board_key,
    offline_stands,
    online_services_in,
    service_of_board_key,
    status_of,
    status_write,
)
from raspy.names import NAME_SEGMENT

SERVICE = "cellar.onewire.devices"
KEY = "/board/cellar.onewire/status"
ONLINE, OFFLINE = BoardStatus.ONLINE, BoardStatus.OFFLINE

segments = st.from_regex(NAME_SEGMENT, fullmatch=True)


def test_a_devices_service_and_its_key_name_each_other() -> None:
    assert board_key(SERVICE) == KEY
    assert service_of_board_key(KEY) == SERVICE


def test_other_keys_name_no_service() -> None:
    for key in (
        "/device/cellar.onewire.freezer/status",
        "/board/cellar.onewire/status/more",
        "/board/cellar.onewire/since",
        "/board//status",
        "/board/cellar.onewire",
        "board/cellar.onewire/status",
    ):
        assert service_of_board_key(key) is None, key


@given(segments, segments)
def test_every_raspy_poller_service_round_trips(host: str, service: str) -> None:
    name = f"{host}.{service}.devices"
    assert service_of_board_key(board_key(name)) == name


@given(st.text())
def test_any_key_names_a_service_or_none(key: str) -> None:
    found = service_of_board_key(key)
    assert found is None or board_key(found) == key


def test_a_value_says_online_or_offline_as_json_text() -> None:
    assert ONLINE.body == b'"online"'
    assert status_of(b'"online"') is ONLINE
    assert status_of(b'"offline"') is OFFLINE
    for other in (b"", b"online", b'"ok"', b"null", b"[", b'["online"]', b"\xff"):
        assert status_of(other) is None, other


@given(st.binary())
def test_any_value_says_a_status_or_none(body: bytes) -> None:
    assert status_of(body) in (ONLINE, OFFLINE, None)


def test_at_start_the_boards_said_online_are_waited_for() -> None:
    records = [
        (KEY, 3, b'"online"'),
        ("/board/attic.fake/status", 4, b'"offline"'),
        ("/board/shed.gpio/status", 5, b'"online"'),
        ("/board/shed.gpio/note", 6, b'"online"'),
    ]
    assert online_services_in(records) == {SERVICE, "shed.gpio.devices"}


def test_a_write_expects_the_key_at_its_sequence_number_or_absent() -> None:
    assert status_write(SERVICE, ONLINE, []) == StatusWrite(SERVICE, KEY, 0, ONLINE)
    records = [(KEY, 41, OFFLINE.body), (f"{KEY}x", 42, b'"x"')]
    assert status_write(SERVICE, ONLINE, records) == StatusWrite(
        SERVICE, KEY, 41, ONLINE
    )


def test_nothing_is_written_when_the_tree_says_it_already() -> None:
    assert status_write(SERVICE, ONLINE, [(KEY, 41, ONLINE.body)]) is None
    assert status_write(SERVICE, ONLINE, [(KEY, 41, b' "online"')]) is None
    assert status_write(SERVICE, OFFLINE, [(KEY, 9, OFFLINE.body)], OFFLINE) is None


def test_what_we_wrote_last_counts_when_the_tree_does_not_show_it_yet() -> None:
    """A read just after a durable write of ours shows the value before it."""
    assert status_write(SERVICE, ONLINE, [(KEY, 9, ONLINE.body)], OFFLINE) == (
        StatusWrite(SERVICE, KEY, 9, ONLINE)
    )


def test_a_value_written_by_hand_is_written_over() -> None:
    records = [(KEY, 7, json.dumps("gone fishing").encode())]
    assert status_write(SERVICE, OFFLINE, records) == StatusWrite(
        SERVICE, KEY, 7, OFFLINE
    )


def test_the_readings_mark_writes_offline_unless_the_board_won_or_is_gone() -> None:
    # marked, or all offline already (a restart), or no device at all
    assert offline_stands(board_known=True, devices_found=True, marks=2, skipped=0)
    assert offline_stands(board_known=True, devices_found=True, marks=2, skipped=1)
    assert offline_stands(board_known=False, devices_found=True, marks=0, skipped=0)
    assert offline_stands(board_known=True, devices_found=False, marks=0, skipped=0)
    # every mark skipped: back, or retired, between the read and the write
    assert not offline_stands(board_known=True, devices_found=True, marks=2, skipped=2)
    # retired for good: nothing of it in the tree
    assert not offline_stands(
        board_known=False, devices_found=False, marks=0, skipped=0
    )


def test_online_is_due_when_a_worker_appears_unless_it_went_again_first() -> None:
    writes = OnlineWrites()
    assert writes.next_deadline() is None
    writes.appeared("a.x.devices", 5.0)
    writes.appeared("b.y.devices", 6.0)
    writes.gone("b.y.devices")
    assert writes.next_deadline() == 5.0
    assert writes.due(4.0) == []
    assert writes.due(5.0) == ["a.x.devices"]
    assert writes.due(100.0) == []
    writes.retry("a.x.devices", 15.0)
    assert writes.next_deadline() == 15.0
    assert writes.due(15.0) == ["a.x.devices"]
