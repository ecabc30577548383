"""Remote device readings gone stale (raspy.devices.offline): when a remote devices
service is due to be marked offline, and what is written. The clock comes in."""

from __future__ import annotations

import json

import pytest

from raspy import config as config_mod
from raspy.devices.offline import (
    OfflineWatch,
    offline_marks,
    services_in,
    subtree_of,
)
from raspy.devices.registry import devices_service_of
from raspy.errors import ConfigError

REMOTE = "board.fake.devices"
HUB = "hub.fake.devices"


def watch(grace_s: float = 60.0) -> OfflineWatch:
    return OfflineWatch(grace_s, [HUB])


def test_a_remote_service_is_due_once_its_grace_has_passed_without_a_worker() -> None:
    w = watch()
    w.availability(REMOTE, True, 0.0)
    w.availability(REMOTE, False, 100.0)
    assert w.next_deadline() == 160.0
    assert w.due(159.9) == []
    assert w.due(160.0) == [REMOTE]


def test_it_is_due_once_per_outage_not_again_until_it_came_back() -> None:
    w = watch()
    w.availability(REMOTE, False, 0.0)
    assert w.due(60.0) == [REMOTE]
    assert w.due(1000.0) == []
    assert w.next_deadline() is None
    w.availability(REMOTE, False, 1000.0)  # told again while down: a new outage
    w.availability(REMOTE, True, 1001.0)
    w.availability(REMOTE, False, 2000.0)
    assert w.due(2059.0) == []
    assert w.due(2060.0) == [REMOTE]


def test_a_worker_back_within_the_grace_cancels_the_mark() -> None:
    w = watch()
    w.availability(REMOTE, False, 0.0)
    w.availability(REMOTE, True, 59.0)
    assert w.next_deadline() is None
    assert w.due(120.0) == []


def test_a_second_loss_report_does_not_push_the_deadline_back() -> None:
    w = watch()
    w.availability(REMOTE, False, 0.0)
    w.availability(REMOTE, False, 30.0)
    assert w.due(60.0) == [REMOTE]


def test_services_the_hub_hosts_and_other_services_are_never_marked() -> None:
    w = watch()
    for service in (HUB, "board.echo", "board.stats"):
        w.availability(service, False, 0.0)
    w.found([HUB], 0.0)
    assert w.next_deadline() is None
    assert w.due(1e9) == []


def test_services_found_in_the_tree_at_start_wait_unless_a_worker_is_known() -> None:
    w = watch()
    w.availability("other.fake.devices", True, 0.0)
    w.found([REMOTE, "other.fake.devices", HUB], 5.0)
    assert w.due(65.0) == [REMOTE]


def test_the_grace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="grace_s"):
        OfflineWatch(0.0, [])


def test_names_between_devices_services_and_their_subtrees() -> None:
    assert devices_service_of("board.fake.tv.volume") == "board.fake.devices"
    assert subtree_of("board.fake.devices") == "/device/board.fake."
    keys = ["/device/a.x.one/value", "/device/b.y.two/status", "/stats/a/x", "/d"]
    assert services_in(keys) == {"a.x.devices", "b.y.devices"}


def _tree(**devices: tuple[object, str, str]) -> list[tuple[str, int, bytes]]:
    items = []
    for seq, (name, (value, unit, status)) in enumerate(devices.items(), 1):
        for field, body in (("value", value), ("unit", unit), ("status", status)):
            key = f"/device/board.fake.{name}/{field}"
            items.append((key, seq, json.dumps(body).encode()))
    return items


def test_each_device_not_offline_yet_gets_its_four_keys_with_its_unit_kept() -> None:
    tree = _tree(attic=(21.5, "°C", "ok"), door=(None, "", "missing"))
    tree += _tree(gone=(None, "%", "offline"))
    marks = offline_marks(tree, 1234.5)
    assert [m.fullname for m in marks] == ["board.fake.attic", "board.fake.door"]
    attic = {k.rsplit("/", 1)[1]: json.loads(v) for k, v in marks[0].entries.items()}
    assert attic == {
        "value": None,
        "unit": "°C",
        "status": "offline",
        "timestamp": 1234.5,
    }
    assert all(body for m in marks for body in m.entries.values())  # never a delete


def test_each_mark_expects_every_key_of_its_device_at_the_sequence_read() -> None:
    """The Clone server writes a mark only while these are unchanged: a board
    retired (keys deleted) or back (keys written again) in between keeps its own."""
    tree = _tree(attic=(21.5, "°C", "ok"), door=(None, "", "missing"))
    attic, door = offline_marks(tree, 1.0)
    assert attic.expect == (
        ("/device/board.fake.attic/value", 1),
        ("/device/board.fake.attic/unit", 1),
        ("/device/board.fake.attic/status", 1),
    )
    assert {seq for _, seq in door.expect} == {2}


def test_a_device_with_some_keys_only_is_marked_too() -> None:
    (mark,) = offline_marks([("/device/board.fake.x/value", 7, b"1")], 1.0)
    assert mark.fullname == "board.fake.x"
    assert mark.expect == (("/device/board.fake.x/value", 7),)
    assert json.loads(mark.entries["/device/board.fake.x/unit"]) == ""


def test_the_config_takes_offline_after_s_and_refuses_nonsense() -> None:
    loaded = config_mod.load("[devices]\noffline_after_s = 2.5\n", "t.toml")
    assert loaded.devices.offline_after_s == 2.5
    assert config_mod.Config().devices.offline_after_s == 60.0
    for bad in ("-1", "inf", "nan", '"soon"'):
        text = f"[devices]\noffline_after_s = {bad}\n"
        with pytest.raises(ConfigError, match=r"devices\.offline_after_s"):
            config_mod.load(text, "t.toml")
