"""Which Clone changes fire a scenario's kv and event triggers, `for:` holds included,
and the `trigger` a run sees (pure: time passed in). A `for:` hold's `trigger.since`
is the wall time its test began to hold: deadlines are monotonic, but a person reads
"warm since 14:02" on the wall clock."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from raspy.devices.template import JsonValue
from raspy.rules import model
from raspy.rules.duration import spelled_offset
from raspy.rules.expr_values import same  # JSON equality: true is not 1, inside too
from raspy.rules.template import render

TriggerData = dict[str, JsonValue]


@dataclass(slots=True)
class _Hold:
    """A kv trigger with `for:` whose test holds since `start` (monotonic s)."""

    deadline: float
    trigger: TriggerData
    start: float


class KvWatch:
    """A scenario's kv and event triggers: changes in, what fires out."""

    def __init__(self, triggers: Iterable[model.Trigger], host: str) -> None:
        self._patterns = [
            (index, trigger, matcher([render(trigger.pattern, {"host": host})]))
            for index, trigger in enumerate(triggers)
            if isinstance(trigger, model.KvTrigger | model.EventTrigger)
        ]
        self._holds: dict[tuple[int, str], _Hold] = {}
        # a kv trigger's key that went to null: the value before, and the hold the
        # null broke (a value back is taken against them, see on_change)
        self._before_gap: dict[tuple[int, str], JsonValue] = {}
        self._broken: dict[tuple[int, str], TriggerData] = {}

    def on_change(
        self,
        key: str,
        old: JsonValue,
        new: JsonValue,
        mono: float,
        *,
        deleted: bool,
    ) -> list[TriggerData]:
        """What fires now because `key` went from `old` to `new` (None: absent, or a
        JSON null when not `deleted`: an event published with null fires); a hold
        that starts now gets its `trigger.since` when it fires (due()).

        For a kv trigger, no value is no change of what it watches (a failed
        reading, a board marked offline, a key deleted): it fires nothing and
        breaks a hold (one cannot say the test held through it). After a null, the
        next value is taken against the value before the gap, and a hold it broke
        holds again, for its whole time, if that value keeps the test; after a
        delete, the next value is a new key's. A trigger that names null (`to:
        null`, `from: null`) sees it as a value."""
        fired: list[TriggerData] = []
        for index, trigger, wanted in self._patterns:
            if not wanted(key):
                continue
            if isinstance(trigger, model.EventTrigger):
                if not deleted:
                    fired.append(trigger_data("event", trigger.id, key=key, value=new))
                continue
            slot = (index, key)
            if new is None and not _names_null(trigger):
                self._gap(slot, old, deleted=deleted)
                continue
            before = old  # this trigger's: each has its own gap
            if before is None:
                before = self._before_gap.pop(slot, None)
                broken = self._broken.pop(slot, None)
                if broken is not None and _keeps(trigger, new, broken):
                    broken["value"] = new  # it holds again from now, whole time
                    self._holds[slot] = _Hold(mono + trigger.for_s, broken, mono)
                    continue
            hold = self._holds.get(slot)
            if hold is not None:
                if _keeps(trigger, new, hold.trigger):
                    hold.trigger["value"] = new
                    continue
                del self._holds[slot]  # broken: starts again when it holds again
                if not _untested(trigger):
                    continue
                # without a test, the change that broke it is a change of its own
            if not fires(trigger, before, new):
                continue
            data = trigger_data("kv", trigger.id, key=key, value=new, from_=before)
            if trigger.for_s > 0:
                self._holds[slot] = _Hold(mono + trigger.for_s, data, mono)
            else:
                fired.append(data)
        return fired

    def _gap(self, slot: tuple[int, str], old: JsonValue, *, deleted: bool) -> None:
        """`slot`'s key has no value now: its hold is broken. A deleted key is gone
        for good (a board retired): what it was is forgotten."""
        hold = self._holds.pop(slot, None)
        if deleted:
            self._before_gap.pop(slot, None)
            self._broken.pop(slot, None)
            return
        if old is not None:
            self._before_gap[slot] = old
        if hold is not None:
            self._broken[slot] = hold.trigger

    def resume(self, current: Iterable[tuple[str, JsonValue]], mono: float) -> None:
        """When the scenario starts (raspyd's start, an import, an enable): a `for:`
        test that the tree's value already meets starts holding now. The change
        into it came before the stop and its time is lost, so the whole duration
        runs from the start (a door left open across a restart still fires "open
        for 10 minutes"), and `trigger.since` is the start: the time the hold that
        fires began, as for any hold. Not for a trigger with `from:`
        (the value before is unknown) nor one without a test (it fires on a
        change)."""
        current = list(current)
        for index, trigger, wanted in self._patterns:
            if not (
                isinstance(trigger, model.KvTrigger)
                and trigger.for_s > 0
                and not trigger.has_from
                and (
                    trigger.has_to
                    or trigger.below is not None
                    or trigger.above is not None
                )
            ):
                continue
            for key, value in current:
                slot = (index, key)
                if slot not in self._holds and wanted(key) and holds(trigger, value):
                    data = trigger_data("kv", trigger.id, key=key, value=value)
                    self._holds[slot] = _Hold(mono + trigger.for_s, data, mono)

    def due(self, mono: float, wall: float) -> list[TriggerData]:
        """The `for:` holds that have held long enough (each fires once), their
        `trigger.since` counted back from now (`wall`) by the monotonic clock: a
        Pi without a clock chip starts on the time it stopped, and NTP sets it
        right while the hold runs, so the wall time at its start may be hours off."""
        fired: list[TriggerData] = []
        for slot, hold in list(self._holds.items()):
            if hold.deadline <= mono:
                del self._holds[slot]
                hold.trigger["since"] = wall - (mono - hold.start)
                fired.append(hold.trigger)
        return fired

    def next_deadline(self) -> float | None:
        return min((h.deadline for h in self._holds.values()), default=None)

    def clear(self) -> None:
        self._holds.clear()
        self._before_gap.clear()
        self._broken.clear()


def _names_null(trigger: model.KvTrigger) -> bool:
    """`to: null` or `from: null`: null is what this trigger is about."""
    return (trigger.has_to and trigger.to is None) or (
        trigger.has_from and trigger.from_ is None
    )


def _untested(trigger: model.KvTrigger) -> bool:
    """No `to`, `from`, `above` or `below`: the trigger fires on any change of value."""
    return not (
        trigger.has_to
        or trigger.has_from
        or trigger.below is not None
        or trigger.above is not None
    )


def _keeps(trigger: model.KvTrigger, value: JsonValue, held: TriggerData) -> bool:
    """A hold (its trigger data `held`) goes on at `value`: the test holds, and a
    value back at `from:` undoes the change that started it. Without a test the
    hold is the value the change left: another value is a change of its own (as
    Home Assistant's state trigger with `for:`), so a value that flaps fires
    nothing until it settles, and one set back is a change from the value between,
    never a change from a value to itself."""
    if _untested(trigger):
        return same(value, held["value"])
    return holds(trigger, value) and not (
        trigger.has_from and same(value, trigger.from_)
    )


def hold_patterns(triggers: Iterable[model.Trigger], host: str) -> list[str]:
    """The globs of the `for:` triggers: the keys whose values KvWatch.resume wants."""
    return [
        render(trigger.pattern, {"host": host})
        for trigger in triggers
        if isinstance(trigger, model.KvTrigger) and trigger.for_s > 0
    ]


def matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """One test for several globs (the owner's routing of keys to scenarios)."""
    joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)
    if not joined:
        return lambda key: False
    match = re.compile(joined).match
    return lambda key: match(key) is not None


def literal_glob(key: str) -> str:
    """The glob that matches `key` alone: its `[`, `*` and `?` each in a one-character
    class (`/x/[1]` is `/x/[[]1]`), the only escape fnmatch knows."""
    return re.sub(r"([\[*?])", r"[\1]", key)


# literal_glob's escapes: a one-character class of a character fnmatch gives a meaning
_ESCAPED = re.compile(r"\[([\[*?])\]")


def is_glob(pattern: str) -> bool:
    """Does `pattern` match more than one key? `*`, `?` and `[` are wildcards, but
    not as literal_glob escapes them (`/x/[[]1]` is the key `/x/[1]` alone)."""
    return any(char in _ESCAPED.sub("", pattern) for char in "*?[")


def glob_key(pattern: str) -> str:
    """The one key a pattern that is no glob (is_glob) matches: its escapes undone."""
    return _ESCAPED.sub(r"\1", pattern)


def as_number(value: JsonValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def holds(trigger: model.KvTrigger, value: JsonValue) -> bool:
    """The value part of the test (`to`, `below`, `above`): what `for:` needs to keep."""
    if trigger.has_to and not same(value, trigger.to):
        return False
    if trigger.below is None and trigger.above is None:
        return True
    number = as_number(value)
    if number is None:
        return False
    if trigger.below is not None and not number < trigger.below:
        return False
    return trigger.above is None or number > trigger.above


def fires(trigger: model.KvTrigger, old: JsonValue, new: JsonValue) -> bool:
    """A change fires when it enters the test: a bound is crossed into, `to` is
    reached, `from` was left; a trigger with no test fires on any change of value."""
    if trigger.has_from and not same(old, trigger.from_):
        return False
    if not holds(trigger, new):
        return False
    if trigger.below is not None or trigger.above is not None:
        return not holds(trigger, old)
    return not same(old, new)


def kind_of(trigger: type) -> str:
    """What `trigger.kind` says for a trigger class: `CronTrigger` is `cron`."""
    return trigger.__name__.removesuffix("Trigger").lower()


def trigger_label(trigger: object) -> str:
    """What a trigger is called where its next fire is shown: its kind, and a sun
    trigger's event and offset (`sunset -15m`: `sun` alone did not say which)."""
    if isinstance(trigger, model.SunTrigger):
        offset = spelled_offset(trigger.offset_s) if round(trigger.offset_s) else ""
        return f"{trigger.event.value} {offset}".strip()
    return kind_of(type(trigger))


def trigger_data(
    kind: str,
    trigger_id: str,
    *,
    key: str | None = None,
    value: JsonValue = None,
    from_: JsonValue = None,
) -> TriggerData:
    """What `trigger.*` shows in templates and expressions."""
    return {"kind": kind, "id": trigger_id, "key": key, "value": value, "from": from_}
