"""The controls (raspy.controls) over MQTT (pure): their topics, a command's payload
into the value to write, and each one's Home Assistant entity.

A control is shown to MQTT as a device of this hub's reserved `control` level: the
key `/house/living/setpoint` is `<base>/<host>/control/house.living.setpoint/` with
`value` (retained, the tree's JSON as a device's value), `set` (the command) and
`result` (its answer). Four levels under the base like a device's topics, so the
bridge's `<base>/+/+/+/set` subscription takes the commands, `value` is never a
command, and the sweep's filters already see an earlier run's topics. A key's `/`
become dots in one level, as a sub-device's name keeps its dot; a key that makes no
valid level, or the same level as another control's key, is not bridged (said at
start).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Final

from raspy.controls import Control, check
from raspy.devices.template import JsonValue
from raspy.mqtt.payload import command_text
from raspy.mqtt.topics import CONTROL_SEGMENT, TopicMap, level_ok
from raspy.records import frozen

SET: Final = "set"
VALUE: Final = "value"
# Home Assistant's limits: a text entity's state is at most 255 characters, a
# number's step at least 0.001 and its max above its min
HA_MAX_TEXT: Final = 255
HA_MIN_STEP: Final = 0.001
SLIDER_MAX_STEPS: Final = 1000  # more steps than that: a box (a slider is too coarse)
# no limit in the config: the widest a box takes without losing digits in a float
_UNBOUNDED: Final = 2.0**53
_COMPONENTS: Final = {
    "number": "number",
    "switch": "switch",
    "choice": "select",
    "text": "text",
}
COMPONENTS: Final = frozenset(_COMPONENTS.values())
# The JSON state as the text Home Assistant wants: `"away"` is away, a switch's
# true/false its state_on/state_off. No value (null, or a deleted key: its empty
# payload is no JSON, so value_json is undefined) is what each platform takes for
# it: the text `None` for a number (its `payload_reset`), a select (`none` in any
# case) and a switch, which show unknown; a text has no unknown (the rendered text
# is its state, `None` was shown as such): the empty text. A value the entity
# refuses (a number out of its min..max or no number, no option, no true/false:
# set elsewhere, raspy.controls.breaks) is `None` too: Home Assistant passes over
# it (its number and select log an error) and goes on showing the state before, as
# if it were the control's. A text refuses one longer than its `max` so, and shows
# any other JSON as its text: what is no text, or too long, is the empty text
_NO_VALUE: Final = "value_json is not defined or value_json is none"
_SWITCH_STATE: Final = (
    "{{ ('true' if value_json else 'false') if value_json is defined "
    "and value_json is boolean else 'None' }}"
)


def _number_state(low: float, high: float) -> str:
    """A number between the entity's `min` and `max`, else `None`."""
    return (
        "{{ value_json if value_json is defined and value_json is number "
        f"and value_json is not boolean and {_literal(low)} <= value_json "
        f"<= {_literal(high)} else 'None' }}}}"
    )


def _text_state(max_length: int) -> str:
    """A text of at most the entity's `max` characters, else the empty text."""
    return (
        "{{ value_json if value_json is defined and value_json is string "
        f"and value_json|length <= {max_length} else '' }}}}"
    )


def _choice_state(options: Sequence[str]) -> str:
    """One of the entity's `options`, else `None`."""
    return (
        "{{ value_json if value_json is defined and value_json is string "
        f"and value_json in {_literal(list(options))} else 'None' }}}}"
    )


def _literal(value: JsonValue) -> str:
    """A number, or a list of texts, as a Jinja literal: JSON's (a JSON string's
    escapes are Jinja's too; with ensure_ascii a character past U+FFFF would be
    two surrogate escapes, which Jinja does not join)."""
    return json.dumps(value, ensure_ascii=False)


def control_level(key: str) -> str:
    """The topic level of a control's key: `/house/mode` is `house.mode`."""
    return key.strip("/").replace("/", ".")


def control_unique(host: str, key: str) -> str:
    """The Home Assistant unique id of a control: `raspy.<host>.control/house/mode`."""
    return f"raspy.{host}.{CONTROL_SEGMENT}{key}"


class ControlMap:
    """The bridged controls of one hub, by their topic level; `skipped` names those
    that are not bridged and why (the actor logs them at start)."""

    def __init__(self, controls: Sequence[Control], topics: TopicMap) -> None:
        self.topics = topics
        self.by_level: dict[str, Control] = {}
        self.by_key: dict[str, str] = {}  # key -> level
        self.skipped: list[tuple[str, str]] = []
        for control in controls:
            level = control_level(control.key)
            if not level_ok(level):
                self.skipped.append((control.key, "makes no MQTT topic level"))
            elif level in self.by_level:
                other = self.by_level[level].key
                self.skipped.append((control.key, f"has the topic of {other}'s"))
            else:
                self.by_level[level] = control
                self.by_key[control.key] = level

    def state_topic(self, key: str) -> str | None:
        """`…/control/<level>/value` of a control's key; None for another key."""
        level = self.by_key.get(key)
        return None if level is None else self.topic(level, VALUE)

    def topic(self, level: str, leaf: str) -> str:
        return self.topics.control_topic(level, leaf)


def control_value(control: Control, payload: bytes) -> JsonValue:
    """The value a command's payload sets: the payload is what a person types on
    the web face (`21.5`, `away`, `on`, a text), checked by the same rule
    (raspy.controls.check: ControlError says why not); MalformedMessage for a
    payload that is no text at all."""
    return check(control, command_text(payload))


@frozen
class ControlEntity:
    """What a control's Home Assistant config is made of: its component and the
    fields of that component (the common ones come from raspy.mqtt.discovery)."""

    component: str
    fields: dict[str, JsonValue]


def control_entity(control: Control, state: str, command: str) -> ControlEntity:
    """The entity of `control` whose state is `state` and commands go to `command`."""
    fields: dict[str, JsonValue] = {"state_topic": state, "command_topic": command}
    match control.kind:
        case "number":
            fields.update(_number_fields(control))
        case "switch":
            fields.update(
                value_template=_SWITCH_STATE,
                payload_on="true",
                payload_off="false",
                state_on="true",
                state_off="false",
            )
        case "choice":
            fields.update(
                value_template=_choice_state(control.options),
                options=list(control.options),
            )
        case _:
            longest = min(control.max_length, HA_MAX_TEXT)
            fields.update(value_template=_text_state(longest), max=longest)
    return ControlEntity(_COMPONENTS[control.kind], fields)


def _number_fields(control: Control) -> dict[str, JsonValue]:
    """min, max, step, mode and unit: a slider when both ends are set and it has at
    most SLIDER_MAX_STEPS steps, else a box; without an end, the widest one."""
    low = control.minimum if control.minimum is not None else -_UNBOUNDED
    high = control.maximum if control.maximum is not None else _UNBOUNDED
    step = control.step if control.step is not None else HA_MIN_STEP
    step = max(step, HA_MIN_STEP)
    if high <= low:  # one value only: Home Assistant wants max > min
        high = low + step
        if not low < high < math.inf:  # a bound so large that the step is lost
            high = math.nextafter(low, math.inf)  # (or overflows): the next float
        if math.isinf(high):  # low is the largest float: min goes down a hair
            high, low = low, math.nextafter(low, -math.inf)
    bounded = control.minimum is not None and control.maximum is not None
    slider = (
        bounded and control.step is not None and (high - low) / step <= SLIDER_MAX_STEPS
    )
    fields: dict[str, JsonValue] = {
        "min": low,
        "max": high,
        "step": step,
        "mode": "slider" if slider else "box",
        "value_template": _number_state(low, high),
    }
    if control.unit:
        fields["unit_of_measurement"] = control.unit
    return fields
