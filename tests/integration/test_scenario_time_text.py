"""Times in messages on the real parts (docs/scenarios.md "Templates" and
"Triggers"): a core on an edge, a Clone server and a Store, the user's command line
and a FakeClock, in the hub's zone (Europe/Berlin). A field's `:%H:%M` writes epoch
seconds as the hub's local time, on the day the clocks change too, and a `for:`
hold's `trigger.since` says when the hold began, after a restart of raspyd as well."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
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
    House,
    house_fixture,  # noqa: F401  # fixture `house`
)

from raspy.cli.time_text import wall_text
from raspy.rules.time_format import DIRECTIVES

BERLIN = "Europe/Berlin"
PRESSED = f"/event/{HOST}.gpio.backdoor/pressed"
FREEZER = f"/device/{HOST}.fake.freezer/value"
BACK_DOOR = """\
name: back-door
triggers:
  - event: "/event/{host}.gpio.backdoor/pressed"
actions:
  - set: /house/backdoor/told
    value: "The back door opened at {trigger.value:%H:%M} ({now:%a %d %b %H:%M:%S %Z})"
  - set: /house/backdoor/at
    value: "{trigger.value:%H:%M}"
"""
FREEZER_WARM = """\
name: freezer-warm
triggers:
  - kv: "/device/{host}.fake.freezer/value"
    above: -12
    for: 10m
actions:
  - set: /house/freezer/told
    value: "The freezer has been warm since {trigger.since:%H:%M}"
  - set: /house/freezer/since
    expr: "trigger.since"
"""

HUB_ZONE = ZoneInfo("Europe/Berlin")  # the house's [core] timezone


def _to(house: House, local: str) -> float:
    """The clock moves on to `local` (ISO 8601, UTC offset included): its epoch s."""
    target = datetime.fromisoformat(local).timestamp()
    assert target >= house.core.clock.wall()
    house.advance(target - house.core.clock.wall())
    return target


@pytest.mark.timeout(60)
def test_a_button_press_is_told_at_its_local_time_across_the_clocks_change(
    house: House,
) -> None:
    """A GPIO button's `pressed` event carries its time, epoch seconds: the message
    says 01:59 CET before Berlin's clocks go forward and 03:00 CEST after."""
    house.start()
    name = house.imported("back-door.yaml", BACK_DOOR)
    pressed = _to(house, "2024-03-31T01:59:30+01:00") - 0.4
    house.event(PRESSED, pressed, name)
    wait_value(house.tree, "/house/backdoor/at", "01:59")
    assert value(house.tree, "/house/backdoor/told") == (
        "The back door opened at 01:59 (Sun 31 Mar 01:59:30 CET)"
    )
    pressed = _to(house, "2024-03-31T03:00:10+02:00") - 0.4  # 40 s later
    house.event(PRESSED, pressed, name)
    wait_value(house.tree, "/house/backdoor/at", "03:00")
    assert value(house.tree, "/house/backdoor/told") == (
        "The back door opened at 03:00 (Sun 31 Mar 03:00:10 CEST)"
    )
    # a directive of no portable meaning is refused at import, at its place
    bad = BACK_DOOR.replace("name: back-door", "name: back-door-2").replace(
        '{trigger.value:%H:%M}"\n', '{trigger.value:%-H:%M}"\n'
    )
    assert house.import_("bad.yaml", bad) == 1  # refused by the hub
    assert house.errors == [
        f"raspy scenario import: {house.folder / 'bad.yaml'}:8:28: actions[1].value:"
        " the time format of {trigger.value}: the flag of '%-H' is not portable:"
        f" write the directive without it (the directives are {DIRECTIVES})",
        "raspy scenario import: nothing imported",
    ]
    assert value(house.tree, "/scenario/back-door-2/state") is None


@pytest.mark.timeout(60)
def test_a_warm_freezer_says_since_when_and_after_a_restart_since_the_start(
    house: House,
) -> None:
    house.start()
    name = house.imported("freezer-warm.yaml", FREEZER_WARM)
    house.reading(FREEZER, -18.0, name)
    warm = _to(house, "2023-11-14T23:20:05+01:00")
    house.reading(FREEZER, -11.0, name)  # warm from 23:20:05: the hold begins
    house.advance(300)
    house.reading(FREEZER, -10.5, name)  # still warm: the same hold
    house.advance(300)
    house.tick(name)
    wait_value(house.tree, "/house/freezer/since", warm)
    assert value(house.tree, "/house/freezer/told") == (
        "The freezer has been warm since 23:20"
    )
    # the core writes the scenario's status keys in a batch of their own, which may
    # reach the tree after the run's writes: waited for, not read once
    wait_value(
        house.tree,
        f"/scenario/{name}/last_trigger",
        {
            "kind": "kv",
            "id": "",
            "key": FREEZER,
            "value": -10.5,
            "from": -18.0,
            "since": warm,
        },
    )
    assert house.cli("show", name) == 0
    assert _line(house, "last trigger:") == (
        f"last trigger: kv {FREEZER} = -10.5 since {wall_text(warm, HUB_ZONE)}"
    )
    # raspyd stops and starts again while the freezer is still warm: the hold is
    # taken up from the tree at the start, and its since is the start
    house.reading(FREEZER, -12.5, name)
    house.reading(FREEZER, -11.5, name)
    house.advance(120)
    house.restart()
    started = house.core.clock.wall()
    house.advance(600)
    house.tick(name)
    wait_value(house.tree, "/house/freezer/since", started)
    assert value(house.tree, "/house/freezer/told") == (
        "The freezer has been warm since 23:32"
    )
    assert house.cli("show", name) == 0  # in the hub's zone, which its reply names
    assert _line(house, "last trigger:") == (
        f"last trigger: kv {FREEZER} = -11.5 since {wall_text(started, HUB_ZONE)}"
    )


def _line(house: House, label: str) -> str:
    """The one line of the last command's output that starts with `label`."""
    [line] = [line for line in house.output if line.startswith(label)]
    return line
