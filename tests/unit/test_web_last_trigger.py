"""The scenario card says what started the last run ("Last trigger"), live from
`/scenario/<name>/last_trigger`: the core sent it, and the web face dropped it, so
a run tried with `--trigger` (or started by a key) was nowhere to be seen."""

from __future__ import annotations

import json

import pytest

from raspy.devices.template import JsonValue
from raspy.web import models, scenario_pages

pytestmark = pytest.mark.timeout(10)

T = 1_796_304_600.0


def _card(trigger: JsonValue) -> str:
    entry = {"name": "lights", "state": "idle", "last_trigger": trigger}
    [row] = models.scenarios([b"200", json.dumps([entry]).encode()])
    return scenario_pages.scenarios_body([row], "c", T)


@pytest.mark.parametrize(
    ("trigger", "shown"),
    [
        (
            {"kind": "sun", "id": "dusk", "key": None, "value": T, "tried": True},
            "sun (dusk), tried by hand",
        ),
        (
            {"kind": "kv", "id": "", "key": "/device/h.fake.x/value", "value": 18.5},
            "kv, /device/h.fake.x/value = 18.5",
        ),
        ({"kind": "manual", "id": "", "by": "boss"}, "manual, by boss"),
        ({"kind": "event", "key": "/e/<b>", "value": True}, "event, /e/&lt;b&gt; = on"),
        (None, "\u2013"),
    ],
)
def test_the_card_says_the_last_trigger_in_words_live(
    trigger: JsonValue, shown: str
) -> None:
    assert (
        '<dt>Last trigger</dt><dd class="trigger" '
        f'data-key="/scenario/lights/last_trigger">{shown}</dd>'
    ) in _card(trigger)
