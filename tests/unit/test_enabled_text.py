"""rules.enabled_text: a stored text made to say the hub's enabled flag, for an
export and the web editor (docs/scenarios.md, "The command line": `export`); the
rest of the text byte for byte, and an enabled text without the line untouched."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.cli.scenario_text import show_text
from raspy.devices.template import JsonValue
from raspy.rules.document import load_scenario
from raspy.rules.enabled_text import stating_enabled

HEATING = """\
# heating at 6:00, off for the holidays
name: heat-six   # the boiler
description: warm bathroom
triggers:
  - at: "06:00"
actions:
  - log: "heat on"
"""


@pytest.mark.parametrize(
    ("text", "enabled", "expected"),
    [
        pytest.param(
            HEATING,
            False,
            HEATING.replace("boiler\n", "boiler\nenabled: false\n"),
            id="added-after-name",
        ),
        pytest.param(HEATING, True, HEATING, id="enabled-without-line-as-is"),
        pytest.param(
            "name: a\r\nactions: [{log: a}]\r\ntriggers: [{startup: true}]",
            False,
            "name: a\r\nenabled: false\r\nactions: [{log: a}]\r\n"
            "triggers: [{startup: true}]",
            id="crlf-kept",
        ),
        pytest.param(
            "actions: [{log: a}]\ntriggers: [{startup: true}]\nname: a",
            False,
            "actions: [{log: a}]\ntriggers: [{startup: true}]\nname: a\nenabled: false",
            id="name-last-without-line-break",
        ),
        pytest.param(
            "name: a\nenabled: yes  # on in winter\nactions: [{log: a}]\n"
            "triggers: [{startup: true}]\n",
            False,
            "name: a\nenabled: false  # on in winter\nactions: [{log: a}]\n"
            "triggers: [{startup: true}]\n",
            id="line-rewritten-comment-kept",
        ),
        pytest.param(
            "name: a\nenabled: false\nactions: [{log: a}]\n"
            "triggers: [{startup: true}]\n",
            True,
            "name: a\nenabled: true\nactions: [{log: a}]\n"
            "triggers: [{startup: true}]\n",
            id="enabled-again-says-true",
        ),
        pytest.param(
            "name: a\nenabled: !!bool no\nactions: [{log: a}]\n"
            "triggers: [{startup: true}]\n",
            True,
            "name: a\nenabled: true\nactions: [{log: a}]\n"
            "triggers: [{startup: true}]\n",
            id="tagged-value-rewritten",
        ),
        pytest.param(
            '{"name": "a", "triggers": [{"startup": true}], "actions": [{"log": "a"}]}',
            False,
            '{"name": "a", "enabled": false, "triggers": [{"startup": true}], '
            '"actions": [{"log": "a"}]}',
            id="json-stays-json",
        ),
        pytest.param(
            "%YAML 1.1\n--- # the porch\nname: a\nactions: [{log: a}]\n"
            "triggers: [{startup: true}]\n...\n",
            False,
            "%YAML 1.1\n--- # the porch\nname: a\nenabled: false\n"
            "actions: [{log: a}]\ntriggers: [{startup: true}]\n...\n",
            id="directive-and-markers-kept",
        ),
        pytest.param(
            "name: >-\n  a\nactions: [{log: a}]\ntriggers: [{startup: true}]\n",
            False,
            "name: >-\n  a\nenabled: false\nactions: [{log: a}]\n"
            "triggers: [{startup: true}]\n",
            id="after-a-block-scalar-name",
        ),
        pytest.param("- a list\n", False, "- a list\n", id="no-mapping-as-is"),
        pytest.param("name: [\n", False, "name: [\n", id="no-yaml-as-is"),
    ],
)
def test_a_text_is_made_to_say_the_flag_and_kept_byte_for_byte_besides(
    text: str, enabled: bool, expected: str
) -> None:
    assert stating_enabled(text, enabled) == expected


def test_a_disabled_scenarios_text_loads_disabled_and_otherwise_the_same() -> None:
    """What an import of the export stores: the same scenario, disabled."""
    before = load_scenario(HEATING, "heat.yaml")
    text = stating_enabled(HEATING, False)
    after = load_scenario(text, "heat.yaml")
    same = dataclasses.replace(before, enabled=False, source_text=text)
    assert (before.enabled, after) == (True, same)


_OTHER_ENTRIES = st.permutations(
    [
        "description: x\n",
        "# a comment\n",
        "mode: queued\n",
        "variables: {a: 1}\n",
        "triggers:\n  - startup: true\n",
        "actions:\n  - log: hi\n",
        "\n",
    ]
)


@given(
    others=_OTHER_ENTRIES,
    name_at=st.integers(0, 7),
    stated_at=st.integers(0, 8),
    stated=st.sampled_from(["", "enabled: true\n", "enabled: no # held\n"]),
    enabled=st.booleans(),
    crlf=st.booleans(),
)
def test_any_arrangement_reads_back_as_the_flag(
    others: list[str],
    name_at: int,
    stated_at: int,
    stated: str,
    enabled: bool,
    crlf: bool,
) -> None:
    """Wherever `name:` and `enabled:` are among the other entries and comments,
    the text made reads as the flag, with nothing else of it changed."""
    lines = list(others)
    lines.insert(name_at, "name: a  # n\n")
    lines.insert(stated_at, stated)
    text = "".join(lines)
    if crlf:
        text = text.replace("\n", "\r\n")
    made = stating_enabled(text, enabled)
    assert load_scenario(made, "a.yaml").enabled is enabled
    assert _without_enabled(made) == _without_enabled(text)
    if load_scenario(text, "a.yaml").enabled is enabled:
        assert made == text


def _without_enabled(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith("enabled:")
    ]


@pytest.mark.parametrize("enabled", [True, False])
def test_show_prints_the_text_as_export_writes_it(enabled: bool) -> None:
    """`raspy scenario show` of a disabled scenario printed `enabled: no` above a
    text saying `enabled: true`; now the text says what the field does."""
    stored = "name: a\nenabled: true  # winter\ntriggers: [{startup: true}]"
    entry: dict[str, JsonValue] = {
        "name": "a",
        "enabled": enabled,
        "state": "idle" if enabled else "disabled",
        "document": stored,
    }
    shown = stored if enabled else stored.replace("true  #", "false  #")
    assert show_text(entry).endswith(f"\n\n{shown}\n")
