"""Device settings and output states in the store's `device` table: saved, loaded,
shown by `raspy-kv dump`, checked by `raspy-kv check` (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs
from support.kv_cli import run

from raspy import packing
from raspy.config import DevicesConfig
from raspy.devices.builtin_kinds import BUILTIN
from raspy.devices.kinds import validate
from raspy.devices.registries import fake_registry
from raspy.errors import StoreError
from raspy.storage import check
from raspy.storage.device_settings import (
    DeviceSettings,
    Saved,
    ServiceSettings,
    overrides,
)
from raspy.storage.store import Put, Store
from raspy.storage.tables import (
    DEVICE_CONFIG_PREFIX,
    DEVICE_STATE_PREFIX,
    DeviceRecord,
    Table,
    decode_device_record,
    encode_device_record,
)


def test_settings_and_states_are_saved_and_loaded_by_service(store: Store) -> None:
    settings = DeviceSettings(store)
    settings.save_config("pi.gpio.relay", {"friendly_name": "Heater"}, 10.0)
    settings.save_state("pi.gpio.relay", True, 11.0)
    settings.save_state("pi.gpio.led", 40, 12.0)
    settings.save_state("pi.fake.lamp", False, 13.0)
    assert settings.load("pi.gpio.") == Saved(
        configs={"pi.gpio.relay": {"friendly_name": "Heater"}},
        states={"pi.gpio.led": 40, "pi.gpio.relay": True},
        states_since={"pi.gpio.led": 12.0, "pi.gpio.relay": 11.0},
    )
    settings.save_config("pi.gpio.relay", {}, 14.0)  # nothing changed any more
    assert settings.load("pi.gpio.").configs == {}


def test_a_stored_field_the_file_no_longer_allows_leaves_the_others_applied(
    store: Store,
) -> None:
    """A stored record was applied whole or not at all: an option the file (or an
    upgrade) no longer allows took the device's rename with it, and Home Assistant
    showed the old name again. Each field that still fits is applied; the other is
    logged by its name."""
    config = DevicesConfig(fake_enabled=True, fake=({"name": "lamp", "oid": "switch"},))
    registry = fake_registry("pi", config)
    DeviceSettings(store).save_config(
        "pi.fake.lamp", {"friendly_name": "Desk lamp", "dropped_option": 3}, 10.0
    )
    with capture_logs() as logs:
        settings = ServiceSettings(registry, DeviceSettings(store))
        settings.apply_saved(settings.load())
    assert registry.get("lamp").config.settings["friendly_name"] == "Desk lamp"
    refused = [e for e in logs if e["event"] == "device_setting_not_applied"]
    assert [(e["device"], e["field"]) for e in refused] == [
        ("pi.fake.lamp", "dropped_option")
    ]


def test_renames_stored_one_after_another_are_all_applied_again_whatever_their_order(
    store: Store,
) -> None:
    """A `config` change over MDP is applied again after a restart (README, "Device
    settings that last"). The file names `lamp` "Desk"; over MDP `lamp` became
    "Table" and then `hall` took "Desk". At the next start the store's records came
    in key order, `hall` first, whose "Desk" was still the file's `lamp`'s: it was
    refused, logged as not applied, and the hall lost its name for good."""
    devices = (
        {"name": "lamp", "oid": "switch", "friendly_name": "Desk"},
        {"name": "hall", "oid": "dimmer"},
    )
    config = DevicesConfig(fake_enabled=True, fake=devices)
    stored = DeviceSettings(store)
    stored.save_config("pi.fake.lamp", {"friendly_name": "Table"}, 10.0)
    stored.save_config("pi.fake.hall", {"friendly_name": "Desk"}, 11.0)
    registry = fake_registry("pi", config)
    with capture_logs() as logs:
        settings = ServiceSettings(registry, stored)
        settings.apply_saved(settings.load())
    names = {d.name: d.config.settings.get("friendly_name") for d in registry.devices()}
    assert (names["lamp"], names["hall"]) == ("Table", "Desk")
    assert [e for e in logs if e["event"] == "device_setting_not_applied"] == []


def test_a_swap_of_friendly_names_comes_back_beside_a_field_the_file_dropped(
    store: Store,
) -> None:
    """`lamp` "Lamp" and `hall` "Hall" swapped their names over MDP; each stored
    rename was refused while the other held its name, and retrying made no progress
    (a cycle): both kept the file's names. The names waiting are applied together;
    a field the file no longer allows is still left out alone, and logged."""
    devices = (
        {"name": "lamp", "oid": "switch", "friendly_name": "Lamp"},
        {"name": "hall", "oid": "dimmer", "friendly_name": "Hall"},
        {"name": "attic", "oid": "switch", "friendly_name": "Attic"},
    )
    stored = DeviceSettings(store)
    stored.save_config("pi.fake.lamp", {"friendly_name": "Hall"}, 10.0)
    stored.save_config(
        "pi.fake.hall", {"friendly_name": "Attic", "dropped_option": 3}, 11.0
    )
    stored.save_config("pi.fake.attic", {"friendly_name": "Lamp", "log": True}, 12.0)
    registry = fake_registry("pi", DevicesConfig(fake_enabled=True, fake=devices))
    with capture_logs() as logs:
        settings = ServiceSettings(registry, stored)
        settings.apply_saved(settings.load())
    names = {d.name: d.config.settings.get("friendly_name") for d in registry.devices()}
    assert names == {"lamp": "Hall", "hall": "Attic", "attic": "Lamp"}
    assert registry.get("attic").config.settings["log"] is True
    refused = [e for e in logs if e["event"] == "device_setting_not_applied"]
    assert [(e["device"], e["field"]) for e in refused] == [
        ("pi.fake.hall", "dropped_option")
    ]


def test_a_swap_of_friendly_names_comes_back_beside_a_rename_refused_even_so(
    store: Store,
) -> None:
    """`lamp` and `hall` swapped their names over MDP; `desk` was renamed to what
    the file has since made a device's name. Applied together, desk's refusal took
    the swap with it: the names refused even so are left out of the whole."""
    devices = (
        {"name": "lamp", "oid": "switch", "friendly_name": "Lamp"},
        {"name": "hall", "oid": "dimmer", "friendly_name": "Hall"},
        {"name": "desk", "oid": "switch", "friendly_name": "Desk"},
        {"name": "porch", "oid": "switch"},
    )
    stored = DeviceSettings(store)
    stored.save_config("pi.fake.lamp", {"friendly_name": "Hall"}, 10.0)
    stored.save_config("pi.fake.hall", {"friendly_name": "Lamp"}, 11.0)
    stored.save_config("pi.fake.desk", {"friendly_name": "porch"}, 12.0)
    registry = fake_registry("pi", DevicesConfig(fake_enabled=True, fake=devices))
    with capture_logs() as logs:
        settings = ServiceSettings(registry, stored)
        settings.apply_saved(settings.load())
    names = {d.name: d.config.settings.get("friendly_name") for d in registry.devices()}
    assert names == {"lamp": "Hall", "hall": "Lamp", "desk": "Desk", "porch": ""}
    refused = [e for e in logs if e["event"] == "device_setting_not_applied"]
    assert [(e["device"], e["field"]) for e in refused] == [
        ("pi.fake.desk", "friendly_name")
    ]


def test_only_the_fields_that_differ_from_the_file_are_kept() -> None:
    file_config = validate(BUILTIN, {"name": "lamp", "oid": "switch"})
    current = validate(
        BUILTIN, {"name": "lamp", "oid": "switch", "log": True, "info": ""}
    )
    assert overrides(file_config, current) == {"log": True}


def test_a_record_that_does_not_decode_is_skipped_and_logged(store: Store) -> None:
    store.commit([Put(Table.DEVICE, b"state/pi.gpio.relay", b"\xc1")])
    with capture_logs() as logs:
        assert DeviceSettings(store).load("pi.gpio.") == Saved()
    assert [e["event"] for e in logs] == ["device_record_skipped"]


def test_forgetting_deletes_what_was_read_of_the_others_a_bad_record_too(
    store: Store,
) -> None:
    """A start reads the table once: what is forgotten is deleted from the store
    and from what was read, which then goes on to the settings and the outputs."""
    settings = DeviceSettings(store)
    settings.save_config("pi.gpio.relay", {"friendly_name": "Heater"}, 10.0)
    settings.save_state("pi.gpio.relay", True, 11.0)
    settings.save_config("pi.gpio.old", {"friendly_name": "Gone"}, 12.0)
    settings.save_state("pi.gpio.old", 40, 13.0, pending=True)
    store.commit([Put(Table.DEVICE, b"state/pi.gpio.bad", b"\xc1")])
    settings.save_state("pi.fake.lamp", False, 14.0)  # another service's
    with capture_logs():
        saved = settings.load("pi.gpio.")
    assert settings.forget_others(saved, {"pi.gpio.relay"}) == [
        "pi.gpio.bad",
        "pi.gpio.old",
    ]
    kept = Saved(
        configs={"pi.gpio.relay": {"friendly_name": "Heater"}},
        states={"pi.gpio.relay": True},
        states_since={"pi.gpio.relay": 11.0},
    )
    assert saved == kept
    assert settings.load("pi.gpio.") == kept
    assert [key for key, _ in store.scan(Table.DEVICE)] == [
        b"config/pi.gpio.relay",
        b"state/pi.fake.lamp",
        b"state/pi.gpio.relay",
    ]
    assert settings.forget_others(saved, {"pi.gpio.relay"}) == []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (b"other/x", encode_device_record(DEVICE_STATE_PREFIX, 1, 0.0),
         "device key: expected config/ or state/ before the name"),
        (b"config/x", encode_device_record(DEVICE_CONFIG_PREFIX, [1], 0.0),
         "device fields record: fields: expected a map of strings to values"),
        (b"state/x", encode_device_record(DEVICE_CONFIG_PREFIX, {}, 0.0),
         "device value record: expected fields value, saved, got fields, saved"),
        (b"state/x", packing.pack({"value": True, "saved": 0.0, "pending": 1}),
         "device value record: pending: expected true or false, got int"),
        (b"config/x", packing.pack({"fields": {}, "saved": 0.0, "pending": True}),
         "device fields record: expected fields fields, saved, got fields, "
         "pending, saved"),
    ],
    ids=["bad-prefix", "fields-not-a-map", "wrong-shape", "pending-not-a-bool",
         "pending-in-a-config"],
)  # fmt: skip
def test_a_bad_device_record_is_a_store_error(
    key: bytes, value: bytes, message: str
) -> None:
    with pytest.raises(StoreError) as caught:
        decode_device_record(key, value)
    assert str(caught.value) == message
    checker = check.Checker()
    checker.feed(Table.DEVICE, key, value)
    assert checker.finish() == [check.Problem(Table.DEVICE, key, message)]


def test_a_held_change_is_stored_with_the_state_and_the_old_record_still_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A state record without `pending` is what every earlier version wrote, and
    is still written while nothing is held; raspy-kv dump and check take both."""
    with capture_logs(), Store.open(tmp_path / "data") as store:
        old = packing.pack({"value": False, "saved": 9.0})
        store.commit([Put(Table.DEVICE, b"state/pi.gpio.pump", old)])
        settings = DeviceSettings(store)
        settings.save_state("pi.gpio.relay", False, 11.0, pending=True)
        assert settings.load("pi.gpio.") == Saved(
            states={"pi.gpio.pump": False, "pi.gpio.relay": False},
            states_since={"pi.gpio.pump": 9.0, "pi.gpio.relay": 11.0},
            pending={"pi.gpio.relay": True},
        )
        settings.save_state("pi.gpio.pump", True, 12.0)
        assert store.get(Table.DEVICE, b"state/pi.gpio.pump") == packing.pack(
            {"value": True, "saved": 12.0}
        )
    data_dir = str(tmp_path / "data")
    status, out, _ = run(["dump", "--data-dir", data_dir], capsys)
    lines = [json.loads(line) for line in out.splitlines()[1:-1]]  # no head, tail
    assert (status, lines) == (
        0,
        [
            {
                "db": "device",
                "key": "state/pi.gpio.pump",
                "value": {"msgpack": {"value": True, "saved": 12.0}},
            },
            {
                "db": "device",
                "key": "state/pi.gpio.relay",
                "value": {"msgpack": {"value": False, "saved": 11.0, "pending": True}},
            },
        ],
    )
    status, _, err = run(["check", "--data-dir", data_dir], capsys)
    assert status == 0, err
    dump = tmp_path / "store.dump"
    dump.write_text(out, encoding="utf-8")
    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "new"), str(dump)], capsys
    )
    assert status == 0, err
    with capture_logs(), Store.open(tmp_path / "new") as store:
        assert DeviceSettings(store).load("pi.gpio.").pending == {"pi.gpio.relay": True}


def test_a_device_record_round_trips() -> None:
    data = encode_device_record(DEVICE_CONFIG_PREFIX, {"log": True}, 5.0)
    assert decode_device_record(b"config/pi.gpio.x", data) == DeviceRecord(
        {"log": True}, 5.0
    )


def test_raspy_kv_dump_shows_the_device_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with capture_logs(), Store.open(tmp_path / "data") as store:
        DeviceSettings(store).save_config("pi.gpio.relay", {"max_on_s": 60.0}, 7.0)
    status, out, _ = run(["dump", "--data-dir", str(tmp_path / "data")], capsys)
    lines = [json.loads(line) for line in out.splitlines()[1:-1]]  # no head, tail
    assert (status, lines) == (
        0,
        [
            {
                "db": "device",
                "key": "config/pi.gpio.relay",
                "value": {"msgpack": {"fields": {"max_on_s": 60.0}, "saved": 7.0}},
            }
        ],
    )
    status, _, err = run(["check", "--data-dir", str(tmp_path / "data")], capsys)
    assert status == 0, err


@given(st.binary(max_size=64), st.sampled_from([b"config/x", b"state/x", b"x"]))
def test_any_bytes_decode_as_a_device_record_or_raise_a_store_error(
    data: bytes, key: bytes
) -> None:
    try:
        record = decode_device_record(key, data)
    except StoreError:
        return
    assert isinstance(record.saved, float)


@given(
    st.sampled_from([DEVICE_CONFIG_PREFIX, DEVICE_STATE_PREFIX]),
    st.dictionaries(
        st.text(max_size=8),
        st.integers(-(2**63), 2**63 - 1) | st.booleans(),
        max_size=4,
    ),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_device_records_round_trip(
    prefix: bytes, fields: dict[str, int | bool], saved: float
) -> None:
    data = encode_device_record(prefix, fields, saved)
    assert decode_device_record(prefix + b"pi.gpio.x", data) == DeviceRecord(
        fields, saved
    )


@given(
    st.one_of(st.booleans(), st.integers(0, 100)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.one_of(st.none(), st.booleans()),
)
def test_state_records_round_trip_with_what_is_pending(
    value: bool | int, saved: float, pending: bool | None
) -> None:
    data = encode_device_record(DEVICE_STATE_PREFIX, value, saved, pending)
    assert decode_device_record(b"state/pi.gpio.x", data) == DeviceRecord(
        value, saved, pending
    )
