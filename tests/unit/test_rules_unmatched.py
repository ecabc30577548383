"""rules.unmatched: the device keys a scenario names that the tree has nothing of,
each once, at its place, with the closest key or device the tree has."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from raspy.rules import document_yaml
from raspy.rules.document import load_scenario
from raspy.rules.unmatched import device_warnings

TREE = {
    "/device/hub.fake.hall/value",
    "/device/hub.fake.hall/status",
    "/device/hub.fake.lamp/value",
    "/device/board.onewire.28-0316a2792aff/value",
}


def warned(text: str, tree: set[str] = TREE) -> list[tuple[int, int, str]]:
    scenario = load_scenario(text, "t.yaml")
    return device_warnings(scenario, text, "hub", tree)


def test_what_the_tree_has_is_no_warning_globs_variables_and_other_boards_too() -> None:
    text = """\
name: fine
variables:
  room: hall
triggers:
  - kv: "/device/{host}.fake.hall/value"
  - kv: "/device/*/status"
  - kv: "/device/board.onewire.*/value"
  - kv: "/scenario/other/state"
  - event: "/event/door"
conditions:
  - "kv('/device/hub.fake.lamp/value') == false and kv('/stats/x') == null"
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - device: "{host}.fake.{trigger.value}"
    action: "on"
  - device: "{host}.fake.{room}"
    action: "level"
    value: 20
"""
    assert warned(text) == []


def test_each_name_the_tree_lacks_is_one_warning_at_its_place() -> None:
    text = """\
name: typos
variables:
  lamp: lmap
triggers:
  - kv: "/device/{host}.fake.hal/value"
  - kv: "/device/cellar.*/value"
conditions:
  - "kv('/device/{host}.fake.lamp/valeu') == false"
actions:
  - device: "{host}.fake.lmap"
    action: "on"
  - device: "{host}.fake.{lamp}"
    action: "off"
"""
    nothing = (
        "matches no key in the hub's tree now (a typo, or a device that is not "
        "there yet?)"
    )
    readings = nothing.replace("matches no key", "has no readings")
    assert warned(text) == [
        (
            5,
            9,
            "kv: '/device/hub.fake.hal/value' (did you mean "
            f"'/device/hub.fake.hall/value'?) {nothing}",
        ),
        (6, 9, f"kv: '/device/cellar.*/value' {nothing}"),
        (
            8,
            10,
            "kv() '/device/hub.fake.lamp/valeu' (did you mean "
            f"'/device/hub.fake.lamp/value'?) {nothing}",
        ),
        (10, 13, f"device: 'hub.fake.lmap' (did you mean 'hub.fake.lamp'?) {readings}"),
        (12, 13, f"device: 'hub.fake.lmap' (did you mean 'hub.fake.lamp'?) {readings}"),
    ]


def test_an_empty_tree_warns_of_every_device_key() -> None:
    text = """\
name: early
triggers:
  - kv: "/device/hub.fake.hall/value"
actions:
  - device: "hub.fake.lamp"
    action: "on"
"""
    assert [message.split(" ")[0] for _, _, message in warned(text, set())] == [
        "kv:",
        "device:",
    ]


def test_a_device_that_is_merely_absent_is_not_offered_another_in_its_place() -> None:
    """Every name shares `/device/<host>.<svc>.` and `/value`: only a close name
    is offered, never just any device of the service."""
    text = """\
name: garage
triggers:
  - kv: "/device/hub.fake.garage/value"
actions:
  - device: "hub.fake.garage"
    action: "on"
"""
    assert [message.split(" (")[0] for _, _, message in warned(text)] == [
        "kv: '/device/hub.fake.garage/value' matches no key in the hub's tree now",
        "device: 'hub.fake.garage' has no readings in the hub's tree now",
    ]


def test_a_document_with_many_warnings_is_parsed_once_for_their_places() -> None:
    """The core answers an import with its warnings: composing the document again
    for each place took seconds of its time with a hundred of them."""
    actions = "".join(
        f'  - device: "hub.fake.lamp{number}"\n    action: "on"\n'
        for number in range(40)
    )
    text = f'name: many\ntriggers:\n  - kv: "/device/hub.fake.x/value"\nactions:\n{actions}'
    scenario = load_scenario(text, "t.yaml")
    composed = 0

    def count(frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal composed
        if event == "call" and frame.f_code is document_yaml.compose.__code__:
            composed += 1

    sys.setprofile(count)
    try:
        found = device_warnings(scenario, text, "hub", TREE)
    finally:
        sys.setprofile(None)
    assert len(found) == 41
    assert [line for line, _, _ in found] == [3, *range(5, 5 + 2 * 40, 2)]
    assert composed == 1


def test_a_device_named_twice_is_one_warning_at_its_first_place() -> None:
    text = """\
name: twice
triggers:
  - kv: "/device/hub.fake.hal/value"
  - kv: "/device/hub.fake.hal/value"
    to: true
actions:
  - device: "hub.fake.lmap"
    action: "on"
  - wait: 10s
  - device: "hub.fake.lmap"
    action: "off"
"""
    assert [(line, col) for line, col, _ in warned(text)] == [(3, 9), (7, 13)]


def test_a_key_read_with_kv_is_placed_at_its_kv_call_not_at_the_trigger() -> None:
    text = """\
name: placed
triggers:
  - kv: "/device/hub.fake.hal/value"
conditions:
  - "kv(\\"/device/hub.fake.hal/value\\") == true"
  - "kv('/device/hub.fake.lamp/valeu') != false"
actions:
  - log: "hal"
"""
    assert [(line, col, message[:4]) for line, col, message in warned(text)] == [
        (3, 9, "kv: "),
        (5, 11, "kv()"),
        (6, 10, "kv()"),
    ]


def test_a_device_named_by_its_friendly_name_is_not_checked() -> None:
    """A device service takes a friendly name (free text) where a name goes, and
    the tree knows devices by their names only: a household that uses friendly
    names got a warning at every import. What looks like a name is checked."""
    text = """\
name: friendly
triggers:
  - event: /event/x
actions:
  - device: "hub.fake.Desk lamp"
    action: "on"
  - device: "hub.fake.Lampe über dem Tisch"
    action: "on"
  - device: "hub.fake.tv.volumen"
    action: "on"
"""
    assert [message.split(" (")[0] for _, _, message in warned(text)] == [
        "device: 'hub.fake.tv.volumen' has no readings in the hub's tree now"
    ]


def test_a_command_no_kind_of_device_has_is_one_warning_at_its_action() -> None:
    """`action: onn` is valid text that the device service refuses only when the
    run gets there; the import says so, once, with the command meant."""
    text = """\
name: commands
variables:
  verb: "toogle"
triggers:
  - event: /event/x
actions:
  - device: "hub.fake.lamp"
    action: "onn"
  - device: "hub.fake.lamp"
    action: "{verb}"
  - device: "hub.fake.lamp"
    action: "onn"
  - device: "hub.fake.lamp"
    action: "frobnicate"
  - device: "hub.fake.lamp"
    action: "{trigger.value}"
  - device: "hub.fake.lamp"
    action: "level"
    value: 3
  - device: "hub.fake.lamp"
    action: "get"
"""
    refused = "is no command of any kind of device (a typo?); the device will refuse it"
    assert warned(text) == [
        (8, 13, f"action: 'onn' (did you mean 'on'?) {refused}"),
        (10, 13, f"action: 'toogle' (did you mean 'toggle'?) {refused}"),
        (14, 13, f"action: 'frobnicate' {refused}"),
    ]


def test_a_key_read_by_an_expr_value_is_warned_of_as_a_conditions_is() -> None:
    """`expr:` computes a value with kv() as a condition does: a typo in its key is
    the same silent null, so the same warning."""
    text = """\
name: half
triggers:
  - event: /event/half
actions:
  - device: "{host}.fake.hall"
    action: level
    expr: "round(kv('/device/{host}.fake.hal/value') / 2)"
"""
    assert warned(text) == [
        (
            7,
            22,
            "kv() '/device/hub.fake.hal/value' (did you mean "
            "'/device/hub.fake.hall/value'?) matches no key in the hub's tree now "
            "(a typo, or a device that is not there yet?)",
        )
    ]


def test_a_device_s_own_event_whose_device_has_no_readings_is_warned_of() -> None:
    """A button's name mistyped in its `pressed` event is a trigger that never
    fires, as a kv trigger's typo is; other events come and go, unchecked."""
    text = """\
name: bell
triggers:
  - event: "/event/{host}.gpio.buton/pressed"
  - event: "/event/{host}.gpio.button/pressed"
  - event: "/event/{host}.gpio.relay/max_on_expired"
  - event: "/event/{host}.gpio.*/pressed"
  - event: "/event/doorbell/front"
  - event: "/event/{host}.gpio.Front door/pressed"
actions:
  - log: x
"""
    tree = {
        "/device/hub.gpio.button/value",
        "/device/hub.gpio.button/status",
        "/device/hub.gpio.relay/status",
    }
    no_readings = (
        "has no readings in the hub's tree now (a typo, or a device that is not"
        " there yet?)"
    )
    assert warned(text, tree) == [
        (
            3,
            12,
            "event: '/event/hub.gpio.buton/pressed' (did you mean"
            f" '/event/hub.gpio.button/pressed'?): its device {no_readings}",
        ),
    ]
    assert warned(text, {"/device/hub.fake.lamp/value"}) == [
        (3, 12, f"event: '/event/hub.gpio.buton/pressed': its device {no_readings}"),
        (4, 12, f"event: '/event/hub.gpio.button/pressed': its device {no_readings}"),
        (
            5,
            12,
            f"event: '/event/hub.gpio.relay/max_on_expired': its device {no_readings}",
        ),
    ]


def test_a_button_s_gestures_are_its_own_events_and_checked_as_pressed_is() -> None:
    """`single`, `double` and `long` (a button's `double_press_s`, `long_press_s`)
    are the button's own events: a mistyped button there is warned of too."""
    text = """\
name: presses
triggers:
  - event: "/event/{host}.gpio.buton/single"
  - event: "/event/{host}.gpio.buton/double"
  - event: "/event/{host}.gpio.buton/long"
  - event: "/event/{host}.gpio.button/long"
actions:
  - log: x
"""
    tree = {"/device/hub.gpio.button/value"}
    no_readings = (
        "has no readings in the hub's tree now (a typo, or a device that is not"
        " there yet?)"
    )
    assert warned(text, tree) == [
        (
            line,
            12,
            f"event: '/event/hub.gpio.buton/{what}' (did you mean"
            f" '/event/hub.gpio.button/{what}'?): its device {no_readings}",
        )
        for line, what in ((3, "single"), (4, "double"), (5, "long"))
    ]


def test_a_value_is_placed_beside_its_own_command_not_at_the_first_like_it() -> None:
    """Two actions write `value: 50`; only mute refuses it. The warning was placed
    at the first `value: 50` of the document, the volume's (line 5)."""
    text = """\
name: tv
actions:
  - device: hub.fake.tv.volume
    action: volume
    value: 50
  - device: hub.fake.tv.volume
    action: mute
    value: 50
"""
    tree = {"/device/hub.fake.tv.volume/value", "/device/hub.fake.tv.volume/status"}
    assert warned(text, tree) == [
        (
            8,
            12,
            "value: mute: expected true or false, got 50; the device will refuse it",
        )
    ]
