"""The `scenario` table as the original stored it, one commit per change.

Keys: `scenario.main.conf` (core settings, for people and dumps), `scenario.main.keys`
(the sorted names), `scenario.<name>.conf` ({"enabled", "mode", "imported_at",
"updated_at"}, epoch s) and `scenario.<name>.code` (the document text exactly as
imported). Values are msgpack (raspy.packing), as `raspy-kv check` expects. An
import, a replace, a delete or an enable is ONE transaction: after a kill -9 the old
or the new version is there, never a mix. The *_ops methods give a change's records
for a caller that stores them in one transaction with the tree's keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import structlog

from raspy import packing
from raspy.cores.clone import Update
from raspy.devices.template import JsonValue
from raspy.errors import PackingError, StoreError
from raspy.protocol import clone
from raspy.records import frozen
from raspy.storage.read_view import ReadView
from raspy.storage.scenario_records import MAIN, PREFIX, conf_fields
from raspy.storage.store import Delete, Op, Put, Store, Table
from raspy.storage.tables import KvRecord, decode_kv

log = structlog.get_logger(component="core")


@frozen
class NewScenario:
    """A document to store (put_many) and what its conf says."""

    name: str
    code: str
    enabled: bool
    mode: str


@frozen
class StoredScenario:
    name: str
    code: str
    enabled: bool
    mode: str
    imported_at: float
    updated_at: float


def _key(name: str, part: str) -> bytes:
    return PREFIX + name.encode("ascii") + b"." + part.encode("ascii")


MAIN_KEYS = _key(MAIN, "keys").decode("ascii")


class ScenarioStore:
    """Reads and writes the scenario table (any thread; each write one commit)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def load(self) -> tuple[list[StoredScenario], list[str]]:
        """Every stored scenario, and the problems of records that cannot be read:
        each names its scenario (a record checked alone may be sound while its
        scenario is not: its text without its conf, or a text the name list
        lacks, which no start would load and no word would tell)."""
        problems: list[str] = []
        records = dict(self._store.scan(Table.SCENARIO, PREFIX))
        names = self._names(records.get(_key(MAIN, "keys")), problems)
        found: list[StoredScenario] = []
        for name in names:
            try:
                found.append(_decode(name, records))
            except (StoreError, PackingError, UnicodeError) as exc:
                problems.append(f"scenario {name}: unreadable record: {exc}")
        problems += _unlisted(records, names)
        return found, problems

    def put(
        self, code: str, enabled: bool, mode: str, now_wall: float, name: str
    ) -> None:
        """Store a new or replaced document with its conf and the name list: one txn."""
        self.put_many([NewScenario(name, code, enabled, mode)], now_wall)

    def put_many(self, scenarios: Sequence[NewScenario], now_wall: float) -> None:
        """put() of several documents (a preload file's): one txn, all or none."""
        self._store.commit(self.put_ops(scenarios, now_wall))

    def put_ops(self, scenarios: Sequence[NewScenario], now_wall: float) -> list[Op]:
        """What put_many() commits, for a caller that stores it with other records
        in one txn (the tree's keys of a scenario: raspy.actors.clone.commit_along)."""
        ops: list[Op] = []
        for each in scenarios:
            existing = self._conf(each.name)
            imported = existing.get("imported_at", now_wall)
            if isinstance(imported, bool) or not isinstance(imported, int | float):
                imported = now_wall
            conf = {
                "enabled": each.enabled,
                "mode": each.mode,
                "imported_at": imported,
                "updated_at": now_wall,
            }
            ops += [
                Put(Table.SCENARIO, _key(each.name, "code"), packing.pack(each.code)),
                Put(Table.SCENARIO, _key(each.name, "conf"), packing.pack(conf)),
            ]
        names = sorted({*self._current_names(), *(each.name for each in scenarios)})
        ops.append(Put(Table.SCENARIO, _key(MAIN, "keys"), packing.pack(names)))
        return ops

    def commit(self, ops: Sequence[Op]) -> None:
        """Store what a *_ops method gave, alone: one txn."""
        self._store.commit(ops)

    def delete(self, name: str) -> None:
        self._store.commit(self.delete_ops(name))

    def delete_ops(self, name: str) -> list[Op]:
        """What delete() commits (put_ops says why)."""
        names = [n for n in self._current_names() if n != name]
        return [
            Delete(Table.SCENARIO, _key(name, "code")),
            Delete(Table.SCENARIO, _key(name, "conf")),
            Put(Table.SCENARIO, _key(MAIN, "keys"), packing.pack(names)),
        ]

    def set_enabled(self, name: str, enabled: bool, now_wall: float) -> None:
        self._store.commit(self.set_enabled_ops(name, enabled, now_wall))

    def set_enabled_ops(self, name: str, enabled: bool, now_wall: float) -> list[Op]:
        """What set_enabled() commits (put_ops says why)."""
        conf = dict(self._conf(name))
        conf.update(enabled=enabled, updated_at=now_wall)
        return [Put(Table.SCENARIO, _key(name, "conf"), packing.pack(conf))]

    def write_main_conf(self, settings: Mapping[str, JsonValue]) -> None:
        """The core's settings, written when they differ from the stored ones."""
        value = packing.pack(dict(settings))
        if self._store.get(Table.SCENARIO, _key(MAIN, "conf")) != value:
            self._store.commit([Put(Table.SCENARIO, _key(MAIN, "conf"), value)])

    # --- internals ------------------------------------------------------------------
    def _current_names(self) -> list[str]:
        return self._names(self._store.get(Table.SCENARIO, _key(MAIN, "keys")), [])

    def _conf(self, name: str) -> dict[str, object]:
        raw = self._store.get(Table.SCENARIO, _key(name, "conf"))
        if raw is None:
            return {}
        value = packing.unpack(raw)
        return value if isinstance(value, dict) else {}

    @staticmethod
    def _names(raw: bytes | None, problems: list[str]) -> list[str]:
        if raw is None:
            return []
        try:
            value = packing.unpack(raw)
        except PackingError as exc:
            problems.append(f"scenario.main.keys: {exc}")
            return []
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            problems.append("scenario.main.keys: expected a list of names")
            return []
        return value


def _decode(name: str, records: dict[bytes, bytes]) -> StoredScenario:
    code = packing.unpack(_part(name, "code", records))
    if not isinstance(code, str):
        raise StoreError("expected the document's text")
    enabled, mode, imported_at, updated_at = conf_fields(
        packing.unpack(_part(name, "conf", records))
    )
    return StoredScenario(name, code, enabled, mode, imported_at, updated_at)


def _part(name: str, part: str, records: dict[bytes, bytes]) -> bytes:
    """The record of one part of a listed scenario; StoreError when it is absent."""
    key = _key(name, part)
    found = records.get(key)
    if found is None:
        raise StoreError(f"{key.decode('ascii')} is missing")
    return found


def _unlisted(records: dict[bytes, bytes], names: list[str]) -> list[str]:
    """The problem of each scenario whose records are stored but whose name
    `scenario.main.keys` does not list: it is not loaded."""
    listed = {MAIN, *names}
    found: set[str] = set()
    for key in records:
        name, dot, part = key.removeprefix(PREFIX).rpartition(b".")
        text = name.decode("ascii", "replace")
        if dot and part in (b"code", b"conf") and text not in listed:
            found.add(text)
    return [
        f"scenario {name}: stored, but {MAIN_KEYS} does not list it: not loaded"
        " (import it again to list it)"
        for name in sorted(found)
    ]


def _kv_records(
    source: Store | ReadView, prefix: str
) -> Iterator[tuple[bytes, KvRecord]]:
    """The Clone table's records under `prefix`, in key order; a damaged one skipped,
    and a key that is a Clone command, as snapshots leave it out (docs/protocols.md
    §6.3)."""
    for key, value in source.scan(Table.KV, prefix.encode("utf-8")):
        if clone.is_command(key):
            continue
        try:
            record = decode_kv(value)
        except StoreError:
            continue
        yield key, record


def stored_tree(store: Store, prefix: str = "") -> list[tuple[str, bytes]]:
    """The Clone tree as the store has it (the subscription brings what is newer),
    or the part of it under `prefix`."""
    return [
        (key.decode("utf-8", "replace"), record.body)
        for key, record in _kv_records(store, prefix)
    ]


def live_tree(
    source: Store | ReadView, prefix: str, unstored: Iterable[Update]
) -> list[tuple[str, bytes]]:
    """The tree under `prefix` as subscribers see it: the records of the store (or
    of one view of it: a seed's) with the published coalesced updates it may not
    have yet laid over them (the Clone server's GetUnstored or Seed; the higher
    sequence of a key wins and a deletion among them hides the key), in key order.
    Ask for `unstored` before this reads the store: a record written since is then
    at least as new."""
    return [(key, body) for key, _, body in live_records(source, prefix, unstored)]


def live_records(
    source: Store | ReadView, prefix: str, unstored: Iterable[Update]
) -> list[tuple[str, int, bytes]]:
    """live_tree with each key's sequence number: (key, seq, body)."""
    newest = {key: (r.seq, r.body) for key, r in _kv_records(source, prefix)}
    for update in unstored:
        known = newest.get(update.key)
        if known is None or update.seq > known[0]:
            newest[update.key] = (update.seq, update.body)
    return [
        (key.decode("utf-8", "replace"), seq, body)
        for key, (seq, body) in sorted(newest.items())
        if body
    ]
