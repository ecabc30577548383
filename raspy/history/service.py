"""The `<host>.logger.history` request handler: pure, one JSON frame in,
`[status, json]` out, in the devices service's envelope and error shape.

Requests (see docs/history.md):

    {"v": 1, "action": "history", "key": "/device/<fullname>/value" | "<fullname>",
     "since": <epoch s>, "until": <epoch s> | null, "resolution": "auto" | "<step>"}
    {"v": 1, "action": "keys"}
    {"v": 1, "action": "forget", "key": "/device/<fullname>/value" | "<fullname>"}

200 {"v", "action": "history", "key", "tier", "step_s", "since", "until",
     "points": [[t, avg, min, max], ...]}  |  {"v", "action": "keys", "keys": [...]}
    |  {"v", "action": "forget", "key", "rows": <rows deleted>}
400 bad_request / bad_json / unknown_field / unsupported_version, 404 unknown_key,
501 unknown_action, 503 store_error (forget): {"v", "action", "error", "detail"}.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Collection, Sequence
from typing import Final, TypeGuard

from raspy.devices import reading, request_body
from raspy.devices.service_vocabulary import ok, refused
from raspy.devices.template import JsonValue
from raspy.errors import StoreError, shown
from raspy.history import query
from raspy.history.tiers import Tier

VERSION: Final = request_body.VERSION
OK: Final = b"200"
BAD_REQUEST: Final = b"400"
NOT_FOUND: Final = b"404"
UNKNOWN_ACTION: Final = b"501"
STORE_FAILED: Final = b"503"
_KEYS: Final = frozenset({"v", "action", "key", "since", "until", "resolution"})
_MAX_KEY_CHARS: Final = 255

Reply = tuple[bytes, bytes]


def value_key(key: str) -> str:
    """The Clone key a request names: a key as is, a device full name's `/value`."""
    return key if key.startswith("/") else reading.value_key(key)


def _time(document: dict[str, JsonValue], name: str, default: float | None) -> float:
    value = document.get(name)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected epoch seconds, got {shown(value)}")
    # a `since` before the epoch reads as the epoch: "the last 24 h" asked by a Pi
    # whose clock still stands near 1970 (no RTC, NTP not there yet)
    low = -1e11 if name == "since" else 0
    if not math.isfinite(value) or not low <= value < 1e11:
        raise ValueError(f"{name}: expected epoch seconds, got {shown(value)}")
    return max(0.0, float(value))


def handle(
    body: Sequence[bytes],
    now: float,
    tiers: Sequence[Tier],
    recorded: Collection[str],
    fetch: Callable[[str], query.Fetch],
    forget: Callable[[str], int | None] | None = None,
) -> Reply:
    """Answer one request; never raises. `recorded`: the keys with history;
    `fetch(key)` reads that key's rows; `forget(key)` deletes them all and returns
    how many there were, or None when the store holds nothing of the key
    (StoreError if it could not; `forget` None: no forget here)."""
    parsed = request_body.parse(body, _KEYS)
    if isinstance(parsed, request_body.Refusal):
        return refused(BAD_REQUEST, parsed.action, parsed.token, parsed.detail)
    action = str(parsed["action"])
    if action == "keys":
        extra = sorted(set(parsed) - {"v", "action"})
        if extra:
            return refused(BAD_REQUEST, action, "unknown_field", ", ".join(extra))
        keys: list[JsonValue] = list(sorted(recorded))
        return ok(action, keys=keys)
    if action == "forget" and forget is not None:
        return _forget(parsed, recorded, forget)
    if action != "history":
        return refused(UNKNOWN_ACTION, action, "unknown_action", shown(action))
    key = parsed.get("key")
    if not _good_key(key):
        return _bad_key(action, key)
    resolution = parsed.get("resolution", query.AUTO)
    try:
        since = _time(parsed, "since", None)
        until = _time(parsed, "until", now)
        if not isinstance(resolution, str):
            raise ValueError(f"resolution: expected a string, got {shown(resolution)}")
        if since >= until:
            raise ValueError(f"since: expected before until ({since} >= {until})")
        try:
            tier = query.choose_tier(tiers, since, now, resolution)
        except ValueError as exc:
            raise ValueError(f"resolution: {exc}, got {shown(resolution)}") from None
    except ValueError as exc:
        return refused(BAD_REQUEST, action, "bad_request", str(exc))
    full_key = value_key(key)
    if full_key not in recorded:
        return _unknown_key(action, full_key, recorded)
    answer = query.run(tier, since, until, now, fetch(full_key))
    points: list[JsonValue] = [list(p) for p in answer.points]
    return ok(
        action,
        key=full_key,
        tier=answer.tier.name,
        step_s=answer.step_s,
        since=since,
        until=until,
        points=points,
    )


def _forget(
    parsed: dict[str, JsonValue],
    recorded: Collection[str],
    forget: Callable[[str], int | None],
) -> Reply:
    """Delete every recorded value of one key (a device retired for good: its rows
    stay in the store otherwise, some MB a logged sensor). A key no longer recorded
    is asked for too: rows an older forget left (those of a tier no longer
    configured) are found by the store's walk, not by the record."""
    action = "forget"
    extra = sorted(set(parsed) - {"v", "action", "key"})
    if extra:
        return refused(BAD_REQUEST, action, "unknown_field", ", ".join(extra))
    key = parsed.get("key")
    if not _good_key(key):
        return _bad_key(action, key)
    full_key = value_key(key)
    try:
        rows = forget(full_key)
    except StoreError as exc:
        return refused(STORE_FAILED, action, "store_error", str(exc))
    if rows is None:
        return _unknown_key(action, full_key, recorded)
    return ok(action, key=full_key, rows=rows)


def _good_key(key: JsonValue) -> TypeGuard[str]:
    """A key the store can hold: a string of 1 to 255 characters that UTF-8 encodes
    (JSON may name a lone surrogate, `"\\udcff"`: a byte of argv that was not UTF-8;
    the store's encoding of it raised out of the handler, and no reply went back)."""
    if not isinstance(key, str) or not 0 < len(key) <= _MAX_KEY_CHARS:
        return False
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_key(action: str, key: JsonValue) -> Reply:
    detail = f"key: expected a Clone key or a device name, got {shown(key)}"
    return refused(BAD_REQUEST, action, "bad_request", detail)


_CLOSE_KEY: Final = 0.85  # a typo of a device's name, not another device of it
_CLOSE_NAME: Final = 0.75  # the device's own name, as raspy.errors compares names


def _full_name(key: str) -> str:
    """A key's device full name: `pi.fake.attic` of `/device/pi.fake.attic/value`,
    of `/device/pi.fake.attic` and of `…/value/value` (a name typed with `/value`)."""
    return key.removeprefix(reading.DEVICE_TREE).partition("/")[0]


def _device_name(key: str) -> str:
    """The last part of a key's device name: `attic` of `/device/pi.fake.attic/value`."""
    return _full_name(key).rpartition(".")[2]


def _meant(full_key: str, recorded: Collection[str]) -> str | None:
    """The recorded key a typo of `full_key` likely meant. Only a device's `/value`
    is recorded: a device's key without it, another of its fields, or a name typed
    with `/value` means the device's `/value`. Whole keys alone will not
    do: `/device/<host>.<svc>.` and `/value` are most of a key, so any two devices
    of a service look alike (`cellar` was offered `attic`); the device's own name
    must be close too (or the same, a typo in the host or service)."""
    if full_key.startswith(reading.DEVICE_TREE):
        full_key = reading.value_key(_full_name(full_key))
    name = _device_name(full_key)
    alike = [
        key
        for key in recorded
        if difflib.SequenceMatcher(None, name, _device_name(key)).ratio() >= _CLOSE_NAME
    ]
    close = difflib.get_close_matches(full_key, alike, n=1, cutoff=_CLOSE_KEY)
    return close[0] if close else None


def _unknown_key(action: str, full_key: str, recorded: Collection[str]) -> Reply:
    """Which recorded key was likely meant, and when a key has points: a key just
    forgotten was told `only a device with log = true is recorded`, which it was."""
    close = _meant(full_key, recorded)
    meant = f" (did you mean {shown(close)}?)" if close else ""
    return refused(
        NOT_FOUND,
        action,
        "unknown_key",
        f"no history for {shown(full_key)}{meant}: only a device with log = true"
        " is recorded, from its first reading (after a forget, its next one)",
    )
