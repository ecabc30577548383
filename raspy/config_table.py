"""One TOML table read into its section's dataclass: each setting's type and sign
checked against the field it names, an unknown one named with where it is or the
name it likely is.

Apart from raspy.config, which gathers the sections, the top-level keys and the
checks across sections into a Config: this is the one check every section's table
passes, the same whatever the section.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Final

from raspy.control_tables import finite_number
from raspy.errors import did_you_mean, shown

_SIGNED: Final = frozenset({"core.latitude", "core.longitude"})  # may be < 0
# settings whose value is a secret: never shown, in a reason or a printed config
SECRET_SETTINGS: Final = frozenset({"mqtt.password"})
_KINDS: Final = {bool: "true or false", int: "an integer", float: "a number"}


def kind_of(value: object) -> str:
    """What a TOML value is, in words, for a reason that must not show it."""
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return _KINDS.get(type(value), "a date or time")


def check_type(value: object, expected: object, secret: bool = False) -> str | None:
    """Return a reason if `value` does not fit the annotated type, else None;
    `secret`: the reason names what `value` is, never the value itself."""
    match expected:
        case "bool":
            ok = isinstance(value, bool)
            want = "true or false"
        case "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            want = "an integer"
        case "float":
            # nan or inf would pass every later range check (nan < x is false)
            ok = finite_number(value)
            want = "a finite number"
        case "str":
            ok = isinstance(value, str)
            want = "a string"
        case _:
            ok = isinstance(value, list | tuple)
            want = "a list"
    if ok:
        return None
    if secret:
        return f"expected {want}, got {kind_of(value)} (not shown: a secret)"
    return f"expected {want}, got {shown(value)}"


# settings people look for where they are not: where each one is
_ELSEWHERE: Final = {
    ("http", "port"): "the web face listens on [network] port_base + 4",
    ("mqtt", "bind"): "the bridge connects out to [mqtt] host; it listens on nothing",
    ("broker", "port"): "the broker listens on [network] port_base",
    ("clone", "port"): "Clone listens on [network] port_base + 1, + 2 and + 3",
}


def _hint(path: str, key: str, known: Iterable[str]) -> str:
    """What an unknown setting may have meant: where it is, or a close name."""
    elsewhere = _ELSEWHERE.get((path, key))
    if elsewhere is not None:
        return f" ({elsewhere})"
    return did_you_mean(key, known)


def _is_switch(setting: dataclasses.Field[Any]) -> bool:
    """A part's on/off setting: `enabled`, `fake_enabled`, `gpio_enabled`, ..."""
    return setting.type == "bool" and (
        setting.name == "enabled" or setting.name.endswith("_enabled")
    )


def build_section(
    cls: type[Any], table: dict[str, Any], path: str, source: str, problems: list[str]
) -> Any:
    """The section `cls` of the TOML table at `path`: its valid settings, defaults
    for the rest; each problem appended to `problems` (an on/off setting that is
    itself wrong taken as on, so that its part is checked too)."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{source}: {path}.{key}"
        if key not in known:
            problems.append(f"{where}: unknown setting{_hint(path, key, known)}")
            continue
        reason = check_type(
            value, known[key].type, secret=f"{path}.{key}" in SECRET_SETTINGS
        )
        if reason:
            problems.append(f"{where}: {reason}")
            if _is_switch(known[key]):
                # as if on, so that its part's own settings are checked in the same
                # run (a default of off hid them); a Config with a problem never starts
                values[key] = True
            continue
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and value < 0
            and f"{path}.{key}" not in _SIGNED
        ):
            problems.append(f"{where}: expected a value >= 0, got {shown(value)}")
            continue
        values[key] = tuple(value) if isinstance(value, list) else value
        if known[key].type == "float":
            values[key] = float(value)
    return cls(**values)
