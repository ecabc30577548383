"""A devices service's `list` reply, read into what discovery needs of each device
(raspy.mqtt.discovery.DeviceInfo), pure.

A board may run another version of raspy, and any MDP worker may answer: what the
reply has is checked against this raspy's kinds, and what does not fit is left out,
never announced for Home Assistant to refuse.
"""

from __future__ import annotations

from collections.abc import Mapping

from raspy.devices.builtin_kinds import BUILTIN
from raspy.devices.gpio_gesture import Gesture
from raspy.devices.gpio_logic import BUTTON
from raspy.devices.kinds import STATE_CLASSES
from raspy.devices.template import JsonValue, reason_against
from raspy.errors import DeviceError
from raspy.mqtt.discovery import DeviceInfo


def device_infos(reply: JsonValue) -> list[DeviceInfo] | None:
    """The devices of a devices service's `list` reply; None if it is not one."""
    if not isinstance(reply, dict) or not isinstance(reply.get("devices"), list):
        return None
    devices = reply["devices"]
    assert isinstance(devices, list)
    infos: list[DeviceInfo] = []
    for item in devices:
        if not isinstance(item, dict):
            continue
        fullname, oid, name = item.get("fullname"), item.get("oid"), item.get("name")
        config = item.get("config")
        if not (isinstance(fullname, str) and isinstance(oid, str)):
            continue
        settings = config if isinstance(config, dict) else {}
        label = next(
            (
                text
                for text in (settings.get("friendly_name"), settings.get("info"), name)
                if isinstance(text, str) and text
            ),
            fullname,
        )
        unit = settings.get("unit")
        infos.append(
            DeviceInfo(
                fullname,
                oid,
                label,
                unit if isinstance(unit, str) else "",
                *_display(oid, settings),
                _gestures(oid, settings),
            )
        )
    return infos


def _gestures(oid: str, settings: Mapping[str, JsonValue]) -> tuple[Gesture, ...]:
    """The gestures a listed GPIO button makes (raspy.devices.gpio_gesture): with
    `double_press_s` a single and a double, with `long_press_s` a long and a
    single; none for any other device, or a board whose raspy lists neither."""
    if oid != "sensor.binary" or settings.get("device_class") != BUTTON:
        return ()
    double = _positive(settings.get("double_press_s"))
    long = _positive(settings.get("long_press_s"))
    made = [Gesture.SINGLE] if double or long else []
    made += [Gesture.DOUBLE] if double else []
    made += [Gesture.LONG] if long else []
    return tuple(made)


def _positive(value: JsonValue) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0


def _display(
    oid: str, settings: Mapping[str, JsonValue]
) -> tuple[int | None, str, str]:
    """A listed config's precision, state class and binary class, as this raspy's
    kind of `oid` has them (see _setting)."""
    precision = _setting(oid, settings, "precision")
    state_class = _setting(oid, settings, "state_class")
    device_class = _setting(oid, settings, "device_class")
    return (
        precision if isinstance(precision, int) else None,
        state_class if isinstance(state_class, str) else STATE_CLASSES[0],
        device_class if isinstance(device_class, str) else "",
    )


def _setting(oid: str, settings: Mapping[str, JsonValue], name: str) -> JsonValue:
    """Field `name` of a listed config, checked against this raspy's kind of `oid` as
    the device service checks it: a board may run another version, so a value the
    kind refuses is left out (None) rather than announced for Home Assistant to
    refuse (a GPIO button's `button` is raspy's own word, not one of Home
    Assistant's classes), and a field the board does not list takes the kind's
    default. None too for a kind or field this raspy does not know."""
    try:
        field = BUILTIN.get(oid).field(name)
    except DeviceError:
        return None
    if field is None:
        return None
    value = settings.get(name, field.default)
    return value if reason_against(field.spec, value) is None else None
