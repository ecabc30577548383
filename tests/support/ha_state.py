"""What Home Assistant shows after a state message, for the tests of the controls'
entities: the config's `value_template` rendered as its MQTT platforms render it
(`value` the payload's text, `value_json` only when the payload is JSON, the result
stripped), then each platform's rule for the rendered text, as Home Assistant's
MQTT number, select, switch and text pages and platforms take it. A text a platform
refuses (a number out of `min`..`max`, an option not in `options`, a switch state
neither `state_on` nor `state_off`) leaves the state it showed before: `shown`.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import jinja2

UNKNOWN = "unknown"


def rendered(template: str, payload: bytes) -> str:
    """`template` rendered for `payload` as Home Assistant renders a value template."""
    text = payload.decode()
    variables: dict[str, object] = {"value": text}
    with contextlib.suppress(ValueError):
        variables["value_json"] = json.loads(text)
    env = jinja2.Environment()  # noqa: S701  # not HTML: as Home Assistant renders it
    return env.from_string(template).render(variables).strip()


def shown_after(
    component: str, config: dict[str, Any], payload: bytes, shown: str
) -> str:
    """The state Home Assistant shows after `payload` on the state topic of the
    entity `config` of `component`, which showed `shown` before."""
    text = rendered(str(config["value_template"]), payload)
    match component:
        case "number":
            return _number(config, text, shown)
        case "select":
            if text.lower() == "none":
                return UNKNOWN
            return text if text in config["options"] else shown
        case "switch":
            if text == "None":
                return UNKNOWN
            states = {config["state_on"]: "on", config["state_off"]: "off"}
            return states.get(text, shown)
    return text if len(text) <= config.get("max", 255) else shown


def _number(config: dict[str, Any], text: str, shown: str) -> str:
    """Empty: ignored; `payload_reset` (`None`): unknown; not a number, or out of
    `min`..`max`: refused (a warning, an error in its log)."""
    if not text:
        return shown
    if text == config.get("payload_reset", "None"):
        return UNKNOWN
    try:
        number = float(text)
    except ValueError:
        return shown
    if not config["min"] <= number <= config["max"]:
        return shown
    return str(number)
