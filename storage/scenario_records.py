"""The records of the `scenario` table, checked alone (pure): what the store reads back
(storage.scenario_store) and what `raspy-kv restore` and `check` accept agree."""

from __future__ import annotations

from typing import Final

from raspy import packing
from raspy.errors import PackingError, StoreError, quote

MAIN: Final = "main"  # reserved: `scenario.main.*` holds the core's own records
PREFIX: Final = b"scenario."
MODES: Final = frozenset({"single", "restart", "queued", "parallel"})


def validate_record(key: bytes, value: bytes) -> None:
    """Raise StoreError unless this scenario-table record is one load() can use (a
    restore refuses a hand-edited dump whose scenarios the hub could not read)."""
    name, dot, part = key.removeprefix(PREFIX).rpartition(b".")
    if not key.startswith(PREFIX) or not dot or not name:
        raise StoreError("expected a key scenario.<name>.<code|conf|keys>")
    if not name.isascii():
        raise StoreError("the name is not ASCII")
    try:
        decoded = packing.unpack(value)
    except PackingError as exc:
        raise StoreError(f"not msgpack: {exc}") from exc
    match (name == MAIN.encode(), part):
        case (True, b"keys"):
            if not isinstance(decoded, list) or not all(
                isinstance(n, str) and n.isascii() for n in decoded
            ):
                raise StoreError("expected a list of names")
        case (True, b"conf"):
            if not isinstance(decoded, dict):
                raise StoreError("expected a map of the core's settings")
        case (False, b"code"):
            if not isinstance(decoded, str):
                raise StoreError("expected the document's text")
        case (False, b"conf"):
            conf_fields(decoded)
        case _:
            raise StoreError(f"unknown part {quote(part)}")


def conf_fields(conf: object) -> tuple[bool, str, float, float]:
    """enabled, mode, imported_at, updated_at of a scenario's conf record."""
    if not isinstance(conf, dict):
        raise StoreError("conf: expected a map")
    enabled, mode = conf.get("enabled"), conf.get("mode")
    if not isinstance(enabled, bool) or mode not in MODES:
        raise StoreError(
            "conf: expected enabled (true or false) and mode "
            f"({', '.join(sorted(MODES))})"
        )
    times = [conf.get(name, 0.0) for name in ("imported_at", "updated_at")]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        raise StoreError("conf: imported_at and updated_at must be epoch seconds")
    return enabled, str(mode), float(times[0]), float(times[1])
