"""rules.http_off: the `http:` actions of a scenario whose `<host>.http` service is
off, each URL once, at its place, shown without its path."""

from __future__ import annotations

from raspy.rules.document import load_scenario
from raspy.rules.http_off import WHY, http_off_warnings

TELLS = """\
name: tell
variables:
  ntfy: "https://ntfy.sh/my-house-7fq2k"
triggers:
  - event: /event/door
actions:
  - http: "{ntfy}"
    body: door
  - choose:
      - if: "trigger.value == 'open'"
        then:
          - http: "https://hooks.example/api/webhook/secret-id"
          - http: "{ntfy}"
            body: again
"""


def test_each_http_url_is_a_warning_once_at_its_first_place() -> None:
    found = http_off_warnings(load_scenario(TELLS, "t.yaml"), TELLS)
    assert found == [
        (7, 11, f"http: {{ntfy}} {WHY}"),
        (12, 19, f"http: https://hooks.example/… {WHY}"),
    ]


def test_a_scenario_without_http_has_no_warning() -> None:
    text = "name: quiet\ntriggers:\n  - event: /event/e\nactions:\n  - wait: 1s\n"
    assert http_off_warnings(load_scenario(text, "q.yaml"), text) == []
