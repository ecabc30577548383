"""The words a scenario written from Home Assistant habit uses where raspy has a word
of its own (`delay` for `wait`, `sequence` for `then`), for the loader's "unknown key"
refusals: a spelling hint (`did you mean`) cannot find `wait` from `delay`. It only
names a word; it never reads a Home Assistant document as raspy's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from raspy.errors import quote

# Home Assistant's key -> raspy's, in the order tried: the first the place allows
# (`sequence` is a choice's `then`, but a repeat's `actions`).
_WORDS: Final[Mapping[str, tuple[str, ...]]] = {
    "delay": ("wait",),
    "sequence": ("then", "actions"),
    "conditions": ("if",),
    "default": ("else",),
    "data": ("value",),
    "event_data": ("value",),
    "service": ("device", "call"),
    "target": ("device",),
    "entity_id": ("kv", "device"),
    "alias": ("description",),
    "value_template": ("when",),  # a template trigger's test
}
# a trigger's kind is its first key in raspy, not a `platform:` (or `trigger:`) value
_KIND_KEYS: Final = ("platform", "trigger")
_TRIGGER_KINDS: Final = (
    "kv",
    "when",
    "event",
    "cron",
    "at",
    "every",
    "sun",
    "startup",
)


def raspy_word(key: str, allowed: tuple[str, ...]) -> str:
    """` 'delay' (Home Assistant's word; raspy's is 'wait')` for a key raspy does
    not take where `allowed` are the keys it takes, or "" when the key is not one of
    Home Assistant's that raspy says otherwise here."""
    named = f" {quote(key)} (Home Assistant's"
    if key in _KIND_KEYS and any(kind in allowed for kind in _TRIGGER_KINDS):
        kinds = ", ".join(_TRIGGER_KINDS[:-1]) + f" or {_TRIGGER_KINDS[-1]}"
        return (
            f"{named}; a raspy trigger starts with its kind: {kinds},"
            " e.g. kv: /device/<host>.<service>.<name>/value)"
        )
    for word in _WORDS.get(key, ()):
        if word in allowed:
            return f"{named} word; raspy's is {quote(word)})"
    return ""
