"""Values computed by `expr:` and random waits on the real parts (docs/scenarios.md,
"Computed values"): a core on an edge, a Clone server and a Store, the fake device
service's hall dimmer, the user's command line, a FakeClock and the core's seeded
random source."""

from __future__ import annotations

import re
from pathlib import Path

from support.core_actors import (
    HOST,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import (
    mdp_request,
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.scenario_house import (
    HALL,
    LAMP,
    House,
    house_fixture,  # noqa: F401  # fixture `house`
)
from support.wait import wait_until

SCENARIOS_MD = Path(__file__).parents[2] / "docs" / "scenarios.md"
RINGS = "/house/doorbell/rings"
HALF = """\
name: hall-half
description: The hall dimmer to half of its level
triggers:
  - event: /event/hall/half
actions:
  - device: "{host}.fake.hall"
    action: level
    expr: "kv('/device/{host}.fake.hall/value') / 2"
"""
RANDOM_OFF = """\
name: random-off
triggers:
  - event: /event/lamp/go
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - wait: {min: 20m, max: 40m}
  - device: "{host}.fake.lamp"
    action: "off"
"""


def _counter() -> str:
    """The doorbell counter of docs/scenarios.md, as a reader copies it."""
    blocks = re.findall(r"^```yaml\n(.*?)^```$", SCENARIOS_MD.read_text(), re.S | re.M)
    [block] = [b for b in blocks if b.startswith("name: doorbell-counter\n")]
    return str(block)


def test_the_doorbell_counter_of_the_page_counts_each_ring(house: House) -> None:
    house.start()
    name = house.imported("counter.yaml", _counter())
    assert value(house.tree, RINGS) is None
    for ring in (1, 2, 3):
        house.event("/event/doorbell/front", ring, name)
        wait_value(house.tree, RINGS, ring)
    wait_value(house.tree, f"/scenario/{name}/runs", 3)
    assert value(house.tree, f"/scenario/{name}/last_error") is None


def test_a_dimmer_gets_the_level_an_expr_computes_and_refuses_a_fraction(
    house: House,
) -> None:
    house.start()
    reply = mdp_request(
        house.core.edge, f"{HOST}.fake.devices", action="level", device="hall", value=80
    )
    assert reply[0] == b"200", reply
    wait_value(house.tree, HALL, 80)
    name = house.imported("half.yaml", HALF)
    for level in (40, 20, 10, 5):  # 40.0 and the others computed: whole levels
        house.event("/event/hall/half", level, name)
        wait_value(house.tree, HALL, level)
        house.answered(name)
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    house.event("/event/hall/half", "2.5", name)  # 5 / 2: no level a dimmer has
    wait_value(house.tree, f"/scenario/{name}/state", "error")
    # written before `state` in the same set (raspy.rules.raspy_keys.STATE_KEYS)
    error = value(house.tree, f"/scenario/{name}/last_error")
    assert isinstance(error, str)
    assert error.startswith(
        f"device {HOST}.fake.hall: level answered 400 invalid_value"
    ), error
    assert "2.5" in error
    assert value(house.tree, HALL) == 5


def test_a_stop_ends_a_run_in_a_random_wait_and_the_lamp_stays(house: House) -> None:
    house.start()
    name = house.imported("random-off.yaml", RANDOM_OFF)
    house.event("/event/lamp/go", 1, name)
    wait_value(house.tree, LAMP, True)
    house.answered(name)
    record = f"/scenario/{name}/resume"  # the drawn wait is a long one
    wait_until(lambda: value(house.tree, record) is not None, what="its record")
    status, reply = house.core.request("stop", name=name)
    assert (status, reply["state"]) == (b"200", "idle")
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    wait_value(house.tree, record, None)  # the record goes with the run
    house.advance(40 * 60)
    house.tick(name)
    assert house.changes(LAMP) == [True]
    wait_until(
        lambda: house.core.request("get", name=name)[1]["last_trace"][-1].endswith(
            "stopped"
        ),
        what="the trace ends stopped",
    )
    trace = house.core.request("get", name=name)[1]["last_trace"]
    assert re.fullmatch(
        r"\+0\.0s wait \d+(\.\d+)?s \(random, 1200s to 2400s\)", trace[2]
    )
