"""Device settings and output states that outlive the daemon, in the store's `device`
table.

A `config` change over MDP is stored as the fields that differ from the config file
(the file's values stay the defaults underneath) and committed before the request is
answered; `reset` deletes it. An output's state is committed when it changes (a user
action, not a reading). Both are deleted when their device leaves the config file
(forget_removed). Every write is one small durable commit on the caller's thread.
A service's start reads the table once (ServiceSettings.load): forgetting, applying
the settings and opening the outputs all use that one Saved.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import structlog

from raspy.devices.registry import Device, Registry
from raspy.devices.template import DeviceConfig, JsonValue
from raspy.errors import DeviceError, StoreError
from raspy.storage.store import Delete, Put, Store
from raspy.storage.tables import (
    DEVICE_CONFIG_PREFIX,
    DEVICE_STATE_PREFIX,
    Table,
    decode_device_record,
    device_key,
    encode_device_record,
)

log = structlog.get_logger(component="devices")

_IDENTITY: Final = ("name", "oid")
# a stored config record at a start: the device's name, full name and fields
_Record = tuple[str, str, Mapping[str, JsonValue]]


def overrides(file_config: DeviceConfig, current: DeviceConfig) -> dict[str, JsonValue]:
    """The fields of `current` that differ from the config file's."""
    return {
        key: value
        for key, value in current.as_dict().items()
        if key not in _IDENTITY and file_config.settings.get(key) != value
    }


@dataclass
class Saved:
    """What the store holds for one service: settings and states by full name."""

    configs: dict[str, dict[str, JsonValue]] = field(default_factory=dict)
    states: dict[str, JsonValue] = field(default_factory=dict)
    # the wall time saved with each state: for an output on, since when it is on
    states_since: dict[str, float] = field(default_factory=dict)
    # the state a change held by min_on_s / min_off_s switches a switch to, if any
    pending: dict[str, bool] = field(default_factory=dict)
    # every record's key and full name, one that does not decode too (to forget
    # it): bookkeeping, not what is saved
    keys: dict[bytes, str] = field(default_factory=dict, compare=False, repr=False)

    def drop(self, fullnames: Collection[str]) -> None:
        """Forget these devices here too, once the store has (forget_others)."""
        for key, fullname in list(self.keys.items()):
            if fullname in fullnames:
                del self.keys[key]
        for held in (self.configs, self.states, self.states_since, self.pending):
            for fullname in fullnames:
                held.pop(fullname, None)


class DeviceSettings:
    """The `device` table as seen by one device service (full names as keys)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def load(self, fullname_prefix: str) -> Saved:
        """Everything stored for devices whose full name starts with the prefix; a
        record that does not decode is logged and skipped (never fatal)."""
        saved = Saved()
        for prefix in (DEVICE_CONFIG_PREFIX, DEVICE_STATE_PREFIX):
            start = device_key(prefix, fullname_prefix)
            for key, data in self._store.scan(Table.DEVICE, start):
                fullname = key[len(prefix) :].decode("utf-8", "replace")
                saved.keys[key] = fullname
                try:
                    record = decode_device_record(key, data)
                except StoreError as exc:
                    log.warning(
                        "device_record_skipped", device=fullname, reason=str(exc)
                    )
                    continue
                if prefix == DEVICE_CONFIG_PREFIX:
                    saved.configs[fullname] = dict(record.value)
                else:
                    saved.states[fullname] = record.value
                    saved.states_since[fullname] = record.saved
                    if record.pending is not None:
                        saved.pending[fullname] = record.pending
        return saved

    def save_config(
        self, fullname: str, fields: Mapping[str, JsonValue], wall_ts: float
    ) -> None:
        """Durable on return (StoreError if not); no changed fields: deleted."""
        key = device_key(DEVICE_CONFIG_PREFIX, fullname)
        if not fields:
            self._store.commit([Delete(Table.DEVICE, key)])
            return
        value = encode_device_record(DEVICE_CONFIG_PREFIX, dict(fields), wall_ts)
        self._store.commit([Put(Table.DEVICE, key, value)])

    def save_state(
        self,
        fullname: str,
        value: JsonValue,
        wall_ts: float,
        pending: bool | None = None,
    ) -> None:
        """Durable on return; raises StoreError if not. `wall_ts`: since when the
        state holds (an output's switch-on, which max_on_s counts from); `pending`:
        the change held for it (a switch's min_on_s / min_off_s), None if none."""
        key = device_key(DEVICE_STATE_PREFIX, fullname)
        record = encode_device_record(DEVICE_STATE_PREFIX, value, wall_ts, pending)
        self._store.commit([Put(Table.DEVICE, key, record)])

    def forget_others(self, saved: Saved, keep: Collection[str]) -> list[str]:
        """Delete the settings and states in `saved` (as `load` read them) of every
        full name not in `keep`, in one commit (a record that does not decode too),
        and drop them from `saved`; the full names forgotten, sorted. Durable on
        return; StoreError if not (`saved` is then as it was)."""
        gone = {name for name in saved.keys.values() if name not in keep}
        deletes = [
            Delete(Table.DEVICE, key)
            for key, name in saved.keys.items()
            if name in gone
        ]
        if deletes:
            self._store.commit(deletes)
            saved.drop(gone)
        return sorted(gone)


class ServiceSettings:
    """One device service's view: the config file's values of its devices, and what
    was changed over MDP on top of them (DeviceSettings None: nothing is stored, as in
    raspy-poller). Used on the service actor's thread only."""

    def __init__(self, registry: Registry, stored: DeviceSettings | None) -> None:
        self._registry = registry
        self.stored = stored
        self._file_configs: dict[str, DeviceConfig] = {
            d.name: d.config for d in registry.devices() if d.parent is None
        }

    def found(self, devices: Iterable[Device]) -> None:
        """Devices discovery added (a 1-Wire sensor without an entry in the file):
        their config as found stands for the file's, under what is stored for them
        and what `reset` returns to."""
        self._file_configs.update(
            (d.name, d.config) for d in devices if d.parent is None
        )

    def load(self) -> Saved:
        """What the store holds for this service's devices (nothing without one);
        StoreError if it cannot be read."""
        if self.stored is None:
            return Saved()
        return self.stored.load(self._registry.fullname(""))

    def forget_removed(self, saved: Saved) -> None:
        """At start (a reload restarts the service): what is stored for a device the
        config file no longer has, its output state and its settings changed over
        MDP, is deleted. A later device of that name would otherwise take them over:
        a new `heater` with initial = restore started on because an old one was on.
        Only for services whose devices all come from the file (not 1-Wire, whose
        discovered sensors may be off the bus for a while and keep their rename).
        A store that refuses is logged; the service starts all the same. `saved`:
        what `load` read at this start; what is deleted is dropped from it."""
        if self.stored is None:
            return
        keep = {device.fullname for device in self._registry.devices()}
        service = self._registry.devices_service
        try:
            gone = self.stored.forget_others(saved, keep)
        except StoreError as exc:
            log.error("device_settings_not_forgotten", service=service, reason=str(exc))
            return
        if gone:
            log.info("device_settings_forgotten", service=service, devices=gone)

    def apply_saved(self, saved: Saved, names: Collection[str] | None = None) -> None:
        """At start (and for `names`, devices a rescan found): what was stored
        (`saved`, as `load` read it) goes over the file's values; a stored field the
        file no longer allows (an option dropped, a choice narrowed by an upgrade or
        an edit of the file) is logged and left out, the others applied. A record
        refused whole is tried again once the others are applied, as long as that
        helps: a friendly name given over MDP to one device after another gave it
        up is free only once the other's new name is applied. When that makes no
        more progress, the friendly names still waiting are applied together: two
        devices that swapped theirs each hold the name the other is given."""
        waiting: list[_Record] = []
        for name, fullname, fields in self._records(saved):
            if name not in self._file_configs:
                continue  # a device gone from the config file
            if names is None or name in names:
                waiting.append((name, fullname, fields))
        waiting = self._applied_while_it_helps(waiting)
        if self._names_applied_together(waiting):
            waiting = self._applied_while_it_helps(waiting)
        for each in waiting:
            self._apply_each(*each)

    def friendly_names(
        self, saved: Saved, present: Collection[object]
    ) -> dict[object, str]:
        """The friendly names `saved` gives the devices `present`, each with the
        device's name: at a start, a sensor discovery finds under one of them is
        refused, not the rename."""
        return {
            friendly: name
            for name, _, fields in self._records(saved)
            if name in present
            and isinstance(friendly := fields.get("friendly_name"), str)
            and friendly
        }

    def _records(self, saved: Saved) -> list[_Record]:
        """`saved`'s configs, each with its device's name within this service."""
        prefix = self._registry.fullname("")
        return [
            (fullname[len(prefix) :], fullname, fields)
            for fullname, fields in saved.configs.items()
        ]

    def _applied_while_it_helps(self, waiting: list[_Record]) -> list[_Record]:
        """Each record applied whole, those refused tried again while fewer are;
        the records still refused."""
        while waiting:
            refused = [w for w in waiting if not self._applied_whole(w[0], w[2])]
            if len(refused) == len(waiting):
                break
            waiting = refused
        return waiting

    def _names_applied_together(self, waiting: list[_Record]) -> bool:
        """The friendly names of the waiting records applied as a whole (a swap,
        a cycle of renames), less those refused even so; False if not two are
        left."""
        renames: dict[str, object] = {
            name: {"friendly_name": fields["friendly_name"]}
            for name, _, fields in waiting
            if "friendly_name" in fields
        }
        while len(renames) >= 2:  # one alone was refused already
            refused = self._registry.configure_together(renames)
            if not refused:
                return True
            # a name that is refused even so (another device's name) must not
            # keep a swap beside it from being applied
            renames = {n: r for n, r in renames.items() if n not in refused}
        return False

    def _applied_whole(self, name: str, fields: Mapping[str, JsonValue]) -> bool:
        try:
            self._registry.configure(name, fields)
        except DeviceError:
            return False
        return True

    def _apply_each(
        self, name: str, fullname: str, fields: Mapping[str, JsonValue]
    ) -> None:
        """The fields one by one: one the file no longer allows must not take the
        others with it (a rename was lost for an option the file had dropped)."""
        for field_name, value in sorted(fields.items()):
            try:
                self._registry.configure(name, {field_name: value})
            except DeviceError as exc:
                log.warning(
                    "device_setting_not_applied",
                    device=fullname,
                    field=field_name,
                    reason=str(exc),
                )

    def save(self, name: str, config: DeviceConfig, wall_ts: float) -> None:
        """Durable before the request is answered; raises StoreError if not."""
        file_config = self._file_configs.get(name)
        if self.stored is None or file_config is None:
            return
        fullname = self._registry.fullname(name)
        self.stored.save_config(fullname, overrides(file_config, config), wall_ts)
        log.info("device_settings_stored", device=fullname)

    def back_to_file_problem(self, requested: str | None) -> str | None:
        """Why a `reset` of the device `requested` (a name or a friendly name) may
        not return it to the file's values now (a friendly name of the file's that
        another device took over MDP meanwhile), or None: checked before the reset
        changes anything."""
        device = None if requested is None else self._registry.resolve(requested)
        if device is None:
            return None
        file_config = self._file_configs.get(device.name)
        if file_config is None or device.config == file_config:
            return None
        try:
            self._registry.validate(file_config.as_dict(), replacing=device.name)
        except DeviceError as exc:
            return "; ".join(exc.problems)
        return None

    def back_to_file(self, name: str, wall_ts: float) -> DeviceConfig | None:
        """`reset`: the file's values again, nothing stored over them; the new config,
        or None if there was nothing to undo. Raises StoreError (nothing changed)."""
        file_config = self._file_configs.get(name)
        device = self._registry.find(name)
        if file_config is None or device is None or device.config == file_config:
            return None
        if self.stored is not None:
            self.stored.save_config(device.fullname, {}, wall_ts)
        return self._registry.configure(name, file_config.as_dict())
