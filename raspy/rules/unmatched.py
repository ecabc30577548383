"""Device keys a scenario names that the hub's tree does not have: the warnings of an
import.

A typo in a device's name (`/device/pi.fake.livng/value`) is valid text: the trigger
then never fires, the condition reads null, the command goes nowhere, and nothing says
why. So is a typo in a command (`action: onn`), which the device service refuses only
when the run gets there. At an import the hub's tree is there to compare with, so each device key a
scenario names (a `kv:` trigger's pattern, a `device:` action, a key written out in
`kv('…')`) that matches nothing under `/device/` now is a warning, with the closest
name the tree has. Only `/device/` keys: events come and go, and a scenario's own
keys are written after its first run; but a device's own event (a button's
`/event/<fullname>/pressed`, `single`, `double`, `long`) is checked against its
device's readings. A `device:` action's command is compared with
every command of raspy's device kinds, and its value, when it is written out (no template), with what that
command takes (`value: 50%` for a dimmer's `level`, which takes an integer): the
device service would refuse it only when the run gets there. A warning never refuses the import: a board
that is off now has no keys either, and a newer raspy on another board may have
commands this one does not know.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Collection
from typing import Final

from raspy.devices.builtin_kinds import BUILTIN
from raspy.devices.gpio_gesture import Gesture
from raspy.devices.kinds import DEVICE_REQUESTS, NAME_PATTERN
from raspy.devices.reading import DEVICE_TREE, device_of_key
from raspy.devices.template import JsonValue, reason_against
from raspy.rules import model, walk
from raspy.rules.document import Spots, lazy_spots
from raspy.rules.document_shapes import meant
from raspy.rules.expr_keys import filled
from raspy.rules.trigger_match import glob_key, is_glob, matcher

# how alike a name must be to be offered as the one meant (difflib's ratio): device
# names share their `<host>.<svc>.` part, so a lower bar offers any device at all;
# a device has a handful of short fields (value, status, unit, timestamp)
_CLOSE_DEVICE: Final = 0.85
_CLOSE_FIELD: Final = 0.6
# a device's name in its service, a sub-device's too (`tv.volume`)
_DEVICE_NAME: Final = re.compile(
    rf"{NAME_PATTERN.pattern}(?:\.{NAME_PATTERN.pattern})*"
)
_NOTHING: Final = (
    "matches no key in the hub's tree now (a typo, or a device that is not there yet?)"
)
_NO_READINGS: Final = (
    "has no readings in the hub's tree now (a typo, or a device that is not there yet?)"
)
_NO_COMMAND: Final = (
    "is no command of any kind of device (a typo?); the device will refuse it"
)
# the events raspy's own devices publish under their full names (README, GPIO on a
# Raspberry Pi): a button's press and its gestures (raspy.devices.gpio_gesture), and
# an output switched off by its max_on_s. A typo in the button's name is a trigger that never
# fires, as a kv trigger's is.
_DEVICE_EVENT: Final = re.compile(
    r"/event/([^/*?\[]+\.[^/*?\[]+\.[^/*?\[]+)/"
    f"({'|'.join(('pressed', *Gesture, 'max_on_expired'))})"
)
# a command's closest name: commands are short words (`on`, `level`, `toggle`)
_CLOSE_COMMAND: Final = 0.6


def device_warnings(
    scenario: model.Scenario,
    text: str,
    host: str,
    device_keys: Collection[str],
    spot: Callable[[], Spots] | None = None,
) -> list[tuple[int, int, str]]:
    """(line, col, message) of each device key of `scenario` (its document `text`,
    its places in `spot`: lazy_spots) that none of `device_keys` (the tree's keys
    under /device/ now) matches."""
    # what only a warning needs is worked out at the first one: most imports have
    # none, and composing the document and naming every device cost milliseconds
    spot = spot or lazy_spots(text)
    fullnames = functools.cache(
        lambda: sorted({d[0] for k in device_keys if (d := device_of_key(k))})
    )
    names: dict[str, JsonValue] = {**scenario.variables, "host": host}
    found: list[tuple[int, int, str]] = []
    for raw in _trigger_patterns(scenario, model.KvTrigger):
        pattern = filled(raw, names)
        if pattern is None or not pattern.startswith(DEVICE_TREE):
            continue
        if _matches_some(pattern, device_keys):
            continue
        line, col = spot()("kv", raw)
        named = _named(pattern, device_keys, fullnames())
        found.append((line, col, f"kv: {named} {_NOTHING}"))
    for raw in _trigger_patterns(scenario, model.EventTrigger):
        pattern = filled(raw, names)
        if pattern is None or (found_event := _DEVICE_EVENT.fullmatch(pattern)) is None:
            continue
        fullname, what = found_event.group(1, 2)
        if _friendly(fullname) or _has_readings(fullname, device_keys):
            continue
        line, col = spot()("event", raw)
        close = _close_device(fullname, fullnames())
        guess = None if close is None else f"/event/{close}/{what}"
        named = meant(pattern, guess)
        found.append((line, col, f"event: {named}: its device {_NO_READINGS}"))
    for raw in _devices(scenario):
        fullname = filled(raw, names)
        if fullname is None or _friendly(fullname):
            continue
        if _has_readings(fullname, device_keys) or fullname in fullnames():
            continue
        line, col = spot()("device", raw)
        named = meant(fullname, _close_device(fullname, fullnames()))
        found.append((line, col, f"device: {named} {_NO_READINGS}"))
    for raw in _commands(scenario):
        command = filled(raw, names)
        if command is None or command in _known_commands():
            continue
        line, col = spot()("action", raw)
        guess = _close(command, sorted(_known_commands()), _CLOSE_COMMAND)
        found.append((line, col, f"action: {meant(command, guess)} {_NO_COMMAND}"))
    found += _value_warnings(scenario, names, spot)
    for raw in _read_keys(scenario):
        key = filled(raw, names)
        if key is None or not key.startswith(DEVICE_TREE) or key in device_keys:
            continue
        line, col = _where(text, raw)
        found.append(
            (line, col, f"kv() {_named(key, device_keys, fullnames())} {_NOTHING}")
        )
    return sorted(found)


def _named(key: str, device_keys: Collection[str], fullnames: list[str]) -> str:
    """`'key'`, with the key the tree has that it is most likely a typo of: the same
    device's closest field, or the closest device's same field. A glob is not
    guessed at (it matches what it matches)."""
    found = None if is_glob(key) else device_of_key(glob_key(key))
    guess = None
    if found is not None:
        fullname, field = found
        if fullname in fullnames:
            fields = [
                d[1]
                for k in device_keys
                if (d := device_of_key(k)) and d[0] == fullname
            ]
            close = _close(field, fields, _CLOSE_FIELD)
            guess = None if close is None else f"{DEVICE_TREE}{fullname}/{close}"
        else:
            close = _close_device(fullname, fullnames)
            guess = None if close is None else f"{DEVICE_TREE}{close}/{field}"
    return meant(key, guess if guess in device_keys else None)


def _close_device(fullname: str, fullnames: list[str]) -> str | None:
    """The device most likely meant: among those of the same `<host>.<svc>.` when
    it has any (difflib over every device of a large house took milliseconds a
    warning), else among all (a typo in the service's part)."""
    service = fullname.rpartition(".")[0] + "."
    same = [name for name in fullnames if name.startswith(service)]
    return _close(fullname, same or fullnames, _CLOSE_DEVICE)


def _close(word: str, choices: list[str], cutoff: float) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return found[0] if found else None


def _matches_some(pattern: str, device_keys: Collection[str]) -> bool:
    """Does a key of the tree match the pattern? A key written out is looked up."""
    if not is_glob(pattern):
        return glob_key(pattern) in device_keys
    match = matcher([pattern])
    return any(match(key) for key in device_keys)


def _has_readings(fullname: str, device_keys: Collection[str]) -> bool:
    """A device's status or value is in the tree (every device has both)."""
    return any(
        f"{DEVICE_TREE}{fullname}/{field}" in device_keys
        for field in ("status", "value")
    )


def _friendly(fullname: str) -> bool:
    """A `<host>.<svc>.` and then no device name: a friendly name (free text, which
    a device service takes too), which the tree does not know, so not checked."""
    parts = fullname.split(".", 2)
    return len(parts) == 3 and not _DEVICE_NAME.fullmatch(parts[2])


def _trigger_patterns(
    scenario: model.Scenario, kind: type[model.KvTrigger | model.EventTrigger]
) -> list[str]:
    """The pattern of each trigger of `kind` once: spot() finds only its first place
    anyway."""
    patterns = (t.pattern for t in scenario.triggers if isinstance(t, kind))
    return list(dict.fromkeys(patterns))


def _devices(scenario: model.Scenario) -> list[str]:
    """Each device once (an `on` and its `off` name it twice), in document order."""
    actions = walk.every_action(scenario.actions)
    devices = (a.device for a in actions if isinstance(a, model.DeviceAction))
    return list(dict.fromkeys(devices))


def _commands(scenario: model.Scenario) -> list[str]:
    """Each `device:` action's command once, in document order."""
    actions = walk.every_action(scenario.actions)
    commands = (a.action for a in actions if isinstance(a, model.DeviceAction))
    return list(dict.fromkeys(commands))


def _value_warnings(
    scenario: model.Scenario,
    names: dict[str, JsonValue],
    spot: Callable[[], Spots],
) -> list[tuple[int, int, str]]:
    """(line, col, message) of each value written out that its command does not
    take (what the device service would answer when the run gets there)."""
    found: list[tuple[int, int, str]] = []
    for action in _literal_values(scenario):
        command = filled(action.action, names)
        if command is None or command not in _known_commands():
            continue  # a typo in the command is its own warning
        reason = _value_reason(command, action.value)
        if reason is not None:
            line, col = _value_spot(spot(), action)
            message = f"value: {command}: {reason}; the device will refuse it"
            found.append((line, col, message))
    return found


def _literal_values(scenario: model.Scenario) -> list[model.DeviceAction]:
    """Each `device:` action with a value written out: no `expr:`, no template in
    it (that one is known only when it runs)."""
    actions = walk.every_action(scenario.actions)
    return [
        a
        for a in actions
        if isinstance(a, model.DeviceAction)
        and a.expr is None
        and a.value is not None
        and not _templated(a.value)
    ]


def _templated(value: JsonValue) -> bool:
    if isinstance(value, str):
        return "{" in value
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    return False


def _value_reason(command: str, value: JsonValue) -> str | None:
    """Why no kind of device that has `command` takes `value` (the device service's
    own check), or None when one does: the device's kind is not known here, so a
    value one kind takes is not warned of."""
    reasons: list[str] = []
    for oid in BUILTIN.oids():
        spec = next((c for c in BUILTIN.get(oid).commands if c.name == command), None)
        if spec is None:
            continue
        if spec.value is None:
            reasons.append("it takes no value")
        elif not spec.writable:
            reasons.append("it is read-only")
        elif (reason := reason_against(spec.value, value)) is None:
            return None
        else:
            reasons.append(reason)
    return reasons[0] if reasons else None


def _value_spot(spot: Spots, action: model.DeviceAction) -> tuple[int, int]:
    """Where the value is written (a scalar) beside this action's command, else
    the command: the first `value: 50` of the document may be another action's."""
    value = action.value
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        at = spot.value_of(action.action, str(value))
        if at != (1, 1):
            return at
    return spot("action", action.action)


@functools.cache
def _known_commands() -> frozenset[str]:
    return BUILTIN.command_names() | DEVICE_REQUESTS


def _read_keys(scenario: model.Scenario) -> list[str]:
    keys: set[str] = set()
    for expression in walk.expressions(scenario):
        keys.update(expression.kv_keys())
    return sorted(keys)


def _where(text: str, raw: str) -> tuple[int, int]:
    """(line, col) of the first `kv('raw'` in the document (a key inside an
    expression's text), else of the first `raw` (the same key in a `kv:` trigger
    comes first in most documents); (1, 1) if it is not there as written."""
    call = re.search(rf"""kv\(\s*\\?['"]({re.escape(raw)})""", text)
    at = text.find(raw) if call is None else call.start(1)
    if at < 0:
        return 1, 1
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1
