"""Whole documents drawn from the grammar of docs/scenarios.md (every trigger kind,
conditions, actions nested in repeat and choose, every mode): each loads, through the
loader `raspy scenario import` and the hub use, as the scenario it says; and the
export's YAML stream of several, read back as `import` reads it, loads as the same
scenarios (export keeps each text byte for byte, so the stream is the round trip)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.scenario_documents import Generated, documents

from raspy.rules import model
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.scenario_stream import join_stream, split_stream


def _without_text(scenario: model.Scenario) -> model.Scenario:
    return dataclasses.replace(scenario, source_text="")


@pytest.mark.timeout(60)
@settings(max_examples=150)
@given(documents())
def test_a_generated_document_loads_as_what_it_says(generated: Generated) -> None:
    assert validate_scenario(generated.text, "g.yaml") == []
    assert load_scenario(generated.text, "g.yaml") == generated.expected


@pytest.mark.timeout(60)
@settings(max_examples=40)
@given(st.lists(documents(), min_size=1, max_size=3))
def test_an_exported_stream_imports_as_the_same_scenarios(
    drawn: list[Generated],
) -> None:
    stream = join_stream([g.text for g in drawn])
    pieces = split_stream(stream)
    assert len(pieces) == len(drawn)
    for piece, generated in zip(pieces, drawn, strict=True):
        loaded = load_scenario(piece.text, "all.yaml")
        assert _without_text(loaded) == _without_text(generated.expected)
        # the piece is the exported text, but for the line break a stream adds and
        # a `---` that began it (the stream's own separator now)
        assert piece.text.rstrip("\n") in generated.text
