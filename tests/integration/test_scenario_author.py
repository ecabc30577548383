"""A household's automations written from docs/scenarios.md by someone coming from
Home Assistant, and driven on a simulated house with a fake clock: the patterns the
other trials do not try (a button's single, double and long press; a motion light
that leaves a light switched on by hand alone and only comes on in the dark; a
sunrise fade that reads its dimmer back; a count of the day reset at midnight).

The clock starts on Tuesday 2023-11-14 at 23:13:20 in Berlin: night."""

from __future__ import annotations

from support.core_actors import (
    HOST,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.scenario_house import (
    HALL,
    HOUR,
    LAMP,
    MOTION,
    House,
    house_fixture,  # noqa: F401  # fixture `house`
)
from support.wait import wait_until

BUTTON = f"/device/{HOST}.gpio.button/value"
PRESSED = f"/event/{HOST}.gpio.button/pressed"
LUX = f"/device/{HOST}.fake.lux/value"

# --- a button: one press, two presses, a long press ------------------------------------
PRESSES = """\
name: button-presses
description: One press good night, two presses the lights, held 2 s the alarm off
mode: restart    # a second press ends the first one's wait: that is a double press
triggers:
  - event: "/event/{host}.gpio.button/pressed"
    id: press
  - kv: "/device/{host}.gpio.button/value"
    to: true
    for: 2s
    id: long
actions:
  - choose:
      - if: "trigger.id == 'long'"
        then:
          - set: /scenario/button-presses/last
            value: null
          - event: /event/house/long-press
      - if: "kv('/scenario/button-presses/last') != null and trigger.value - kv('/scenario/button-presses/last') < 0.6"
        then:
          - set: /scenario/button-presses/last
            value: null
          - event: /event/house/double-press
    else:
      - set: /scenario/button-presses/last
        value: "{trigger.value}"
      - wait: 0.7s
      - condition: "kv('/device/{host}.gpio.button/value') == false"
      - event: /event/house/single-press
"""


def _press(house: House, name: str, hold_s: float = 0.1) -> None:
    """The button down (its event says when, as a GPIO button's does) and up."""
    house.reading(BUTTON, True, name)
    house.event(PRESSED, house.core.clock.wall(), name)
    house.advance(hold_s)
    house.reading(BUTTON, False, name)


def _told(house: House) -> list[str]:
    keys = ("single-press", "double-press", "long-press")
    return [k for k in keys for _ in house.changes(f"/event/house/{k}")]


def test_a_button_tells_one_press_two_presses_and_a_long_press_apart(
    house: House,
) -> None:
    house.start()
    name = house.imported("presses.yaml", PRESSES)
    _press(house, name)
    house.advance(0.7)  # no second press within the wait: a single one
    wait_until(lambda: _told(house) == ["single-press"], what="a single press")
    house.advance(5)
    _press(house, name)
    house.advance(0.2)
    _press(house, name)  # 0.3 s after the first: its wait is ended by the restart
    house.advance(2)
    wait_until(
        lambda: _told(house) == ["single-press", "double-press"], what="a double"
    )
    house.advance(5)
    house.reading(BUTTON, True, name)
    house.event(PRESSED, house.core.clock.wall(), name)
    house.advance(0.7)  # still held when the press's wait ends: no single press
    house.tick(name)
    house.advance(1.3)  # held 2 s
    wait_until(
        lambda: _told(house) == ["single-press", "double-press", "long-press"],
        what="a long press",
    )
    house.reading(BUTTON, False, name)
    house.advance(5)
    house.tick(name)
    assert _told(house) == ["single-press", "double-press", "long-press"]
    assert value(house.tree, f"/scenario/{name}/last_error") is None


# --- a motion light in the dark, which leaves a light switched on by hand alone --------
DARK_MOTION = """\
name: motion-dark
mode: queued
triggers:
  - kv: "/device/{host}.fake.motion/value"
    to: true
    id: motion
  - kv: "/device/{host}.fake.motion/value"
    to: false
    for: 3m
    id: quiet
actions:
  - choose:
      - if: "trigger.id == 'motion'"
        then:
          - condition: "kv('/device/{host}.fake.lamp/value') != true"
          - condition: "now() > sun('sunset') or now() < sun('sunrise') or (kv('/device/{host}.fake.lux/value') != null and kv('/device/{host}.fake.lux/value') < 20)"
          - set: /scenario/motion-dark/auto
            value: true
          - device: "{host}.fake.lamp"
            action: "on"
    else:
      - condition: "kv('/scenario/motion-dark/auto') == true"
      - set: /scenario/motion-dark/auto
        value: false
      - device: "{host}.fake.lamp"
        action: "off"
"""

BY_HAND = """\
name: by-hand
triggers:
  - event: /event/hand/lamp
actions:
  - device: "{host}.fake.lamp"
    action: "{trigger.value}"
"""


def test_a_motion_light_in_the_dark_leaves_a_light_switched_on_by_hand(
    house: House,
) -> None:
    house.start()
    name = house.imported("motion.yaml", DARK_MOTION)
    hand = house.imported("hand.yaml", BY_HAND)
    house.reading(MOTION, True, name)  # 23:13, night
    wait_value(house.tree, LAMP, True)
    house.answered(name)
    house.reading(MOTION, False, name)
    house.advance(180)
    wait_value(house.tree, LAMP, False)
    house.answered(name)
    # switched on by hand: motion leaves it, and so does the quiet after it
    house.event("/event/hand/lamp", "on", hand)
    wait_value(house.tree, LAMP, True)
    house.answered(hand)
    house.reading(MOTION, True, name)
    house.reading(MOTION, False, name)
    house.advance(180)
    house.tick(name)
    wait_value(house.tree, f"/scenario/{name}/runs", 4)
    assert value(house.tree, LAMP) is True
    house.event("/event/hand/lamp", "off", hand)
    wait_value(house.tree, LAMP, False)
    house.answered(hand)
    # the next day at noon: light enough outside, unless the room is dark
    house.advance(13 * HOUR)
    house.reading(LUX, 500, name)
    house.reading(MOTION, True, name)
    house.reading(MOTION, False, name)
    house.tick(name)
    wait_value(house.tree, f"/scenario/{name}/runs", 5)
    assert house.changes(LAMP) == [True, False, True, False]
    house.advance(180)
    house.reading(LUX, 8, name)  # the blinds closed
    house.reading(MOTION, True, name)
    wait_value(house.tree, LAMP, True)
    # nothing between: the noon motion did not switch it on (then off after 3 min)
    assert house.changes(LAMP) == [True, False, True, False, True]
    assert value(house.tree, f"/scenario/{name}/last_error") is None


# --- a sunrise alarm fading the dimmer up ----------------------------------------------
SUNRISE = """\
name: sunrise
triggers:
  - cron: "10 6 * * 1-5"
actions:
  - device: "{host}.fake.hall"
    action: level
    value: 5
  - repeat:
      count: 19
      actions:
        - wait: 1m
        - device: "{host}.fake.hall"
          action: level
          expr: "min(100, kv('/device/{host}.fake.hall/value') + 5)"
"""


def test_a_sunrise_alarm_fades_the_hall_up_in_20_minutes_from_its_own_reading(
    house: House,
) -> None:
    """Each step reads the dimmer back: a read that still saw the level before the
    last command would repeat a step, and the fade would stop short of 100."""
    house.start()
    name = house.imported("sunrise.yaml", SUNRISE)
    house.advance(6 * HOUR + 57 * 60 - 1)  # Wednesday 06:10:19
    house.tick(name)
    wait_value(house.tree, HALL, 5)
    for level in range(10, 105, 5):
        house.answered(name)
        house.advance(60)
        wait_value(house.tree, HALL, level)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert house.changes(HALL) == list(range(5, 105, 5))


def test_show_says_what_the_run_under_way_did_so_far(house: House) -> None:
    """Twenty minutes of a fade showed `state: running` and the trace of the run
    before it: nothing said how far this one had come, or what it waits for."""
    house.start()
    name = house.imported("sunrise.yaml", SUNRISE)
    house.advance(6 * HOUR + 57 * 60 - 1)  # Wednesday 06:10:19
    house.tick(name)
    wait_value(house.tree, HALL, 5)
    house.answered(name)
    house.advance(60)
    wait_value(house.tree, HALL, 10)
    house.answered(name)
    status, entry = house.core.request("get", name=name)
    assert (status, entry["state"], entry["last_trace"]) == (b"200", "running", [])
    assert entry["run_trace"] == [
        "+0.0s device testhost.fake.hall level 5",
        "+0.0s device testhost.fake.hall: 200",
        "+0.0s wait 60s",
        "+60.0s device testhost.fake.hall level 10",
        "+60.0s device testhost.fake.hall: 200",
        "+60.0s wait 60s",
    ]
    assert house.cli("stop", name) == 0
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    status, entry = house.core.request("get", name=name)
    assert (entry["run_trace"], entry["last_trace"][-1]) == ([], "+60.0s stopped")


# --- a count of the day, back to 0 at midnight -----------------------------------------
DOORBELL = """\
name: doorbell-today
mode: queued
triggers:
  - event: "/event/{host}.gpio.doorbell/pressed"
    id: ring
  - at: "00:00"
    id: midnight
actions:
  - choose:
      - if: "trigger.id == 'midnight'"
        then:
          - set: /house/doorbell/yesterday
            expr: "kv('/house/doorbell/today') or 0"
          - set: /house/doorbell/today
            value: 0
    else:
      - set: /house/doorbell/today
        expr: "(kv('/house/doorbell/today') or 0) + 1"
"""


def test_the_doorbell_s_rings_of_the_day_go_to_yesterday_at_midnight(
    house: House,
) -> None:
    house.start()
    name = house.imported("doorbell.yaml", DOORBELL)
    ring = f"/event/{HOST}.gpio.doorbell/pressed"
    for count in (1, 2, 3):
        house.event(ring, house.core.clock.wall(), name)
        wait_value(house.tree, "/house/doorbell/today", count)
        house.advance(60)
    house.advance(46 * 60 + 40 - 180)  # 00:00:00 in Berlin
    house.tick(name)
    wait_value(house.tree, "/house/doorbell/today", 0)
    assert value(house.tree, "/house/doorbell/yesterday") == 3
    house.event(ring, house.core.clock.wall(), name)
    wait_value(house.tree, "/house/doorbell/today", 1)
