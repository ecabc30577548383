"""Text no UTF-8 holds in what a run sends: a tree value may name a lone surrogate
(`"caf\\ud800"` is ASCII and JSON), and a template puts it in a key, a call's body
or its service, or a device's name. The run fails in its own words, naming where,
and sends nothing: no raw `'utf-8' codec can't encode` from Python, no request the
actor cannot send (the run waited for its timeout)."""

from __future__ import annotations

import pytest
from support.scenario_engine import Harness, harness, requests, scenario, sets

from raspy.rules import engine
from raspy.rules import model as m
from raspy.rules.engine import State

DOOR = "/event/door"
LONE = "caf\ud800"


def _fired(action: m.Action) -> tuple[Harness, list[engine.Output]]:
    h = harness(scenario([action], [m.EventTrigger(DOOR)]))
    return h, h.change(DOOR, LONE)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "action",
    [
        m.SetAction("/x/{trigger.value}", 1),
        m.DeleteAction("/x/{trigger.value}"),
        m.EventAction("/x/{trigger.value}", 1),
    ],
)
def test_a_key_with_a_lone_surrogate_fails_the_run_naming_the_key(
    action: m.Action,
) -> None:
    h, outputs = _fired(action)
    assert sets(outputs) == []
    assert h.state is State.ERROR
    verb = {m.SetAction: "set", m.DeleteAction: "delete", m.EventAction: "event"}
    assert h.core.status.last_error == (
        f'{verb[type(action)]}: key "/x/caf?": not UTF-8 text (a lone surrogate,'
        " \\ud800)"
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize("titanic", [False, True])
def test_a_call_body_with_a_lone_surrogate_fails_the_run_naming_the_frame(
    titanic: bool,
) -> None:
    h, outputs = _fired(m.CallAction("hub.echo", ("hi", "{trigger.value}"), titanic))
    assert requests(outputs) == []
    assert h.core.status.last_error == (
        "call hub.echo: body frame 2 is not UTF-8 text (a lone surrogate, \\ud800)"
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize("titanic", [False, True])
def test_a_call_to_a_service_with_a_lone_surrogate_fails_the_run_at_once(
    titanic: bool,
) -> None:
    h, outputs = _fired(m.CallAction("hub.{trigger.value}", ("hi",), titanic))
    assert requests(outputs) == []
    assert h.state is State.ERROR
    assert h.core.status.last_error == (
        'call "hub.caf?": the service is not UTF-8 text (a lone surrogate, \\ud800)'
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "name", ["hub.{trigger.value}.lamp", "hub.fake.{trigger.value}"]
)
def test_a_device_name_with_a_lone_surrogate_fails_the_run_at_once(name: str) -> None:
    h, outputs = _fired(m.DeviceAction(name, "on"))
    assert requests(outputs) == []
    assert h.state is State.ERROR
    shown = name.replace("{trigger.value}", "caf?")
    assert h.core.status.last_error == (
        f'device "{shown}": not UTF-8 text (a lone surrogate, \\ud800)'
    )
