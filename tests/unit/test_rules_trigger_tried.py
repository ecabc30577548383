"""`trigger.tried`: true in a run tried as one of its triggers (`raspy scenario run
NAME --trigger ID`), false on a real firing and in a manual run, in templates and
expressions alike. Its trigger data said `"tried": true`, but the import refused
`{trigger.tried}` as an unknown name and an expression as no field of trigger."""

from __future__ import annotations

from support.scenario_engine import harness, sets

from raspy.devices.template import JsonValue
from raspy.rules import engine
from raspy.rules.document import load_scenario

LIVING = "/device/hub.fake.living/value"
TRIED = """\
name: test
triggers:
  - kv: /device/hub.fake.living/value
    id: living
actions:
  - set: /scenario/test/tried
    value: "{trigger.tried}"
  - set: /scenario/test/said
    value: "tried {trigger.tried}"
  - if: "trigger.tried"
    then:
      - set: /scenario/test/branch
        value: try
    else:
      - set: /scenario/test/branch
        value: firing
"""


def _set(outputs: list[engine.Output]) -> dict[str, JsonValue]:
    return {out.key: out.value for out in sets(outputs)}


def test_trigger_tried_is_true_in_a_tried_run_and_false_otherwise() -> None:
    h = harness(load_scenario(TRIED))
    assert _set(h.feed(h.core.run_now(h.mono, h.wall, trigger=0))) == {
        "/scenario/test/tried": True,  # a field alone keeps its JSON type
        "/scenario/test/said": "tried true",
        "/scenario/test/branch": "try",
    }
    assert _set(h.change(LIVING, 20)) == {
        "/scenario/test/tried": False,
        "/scenario/test/said": "tried false",
        "/scenario/test/branch": "firing",
    }
    assert _set(h.run_now()) == {  # a manual run is no try of a trigger
        "/scenario/test/tried": False,
        "/scenario/test/said": "tried false",
        "/scenario/test/branch": "firing",
    }
