"""`/scenario/<name>/error_from` (docs/scenarios.md, "State in the tree"): where a
state `error` came from, written beside it, so that a start keeps a run's until
the next run and judges again one of the text or of the start."""

from __future__ import annotations

import json

from raspy.devices.template import JsonValue
from raspy.rules import engine
from raspy.rules.engine_output import ErrorFrom
from raspy.rules.status_entries import status_entries
from raspy.rules.tree_view import status_from_tree


class _Tree:
    """What status_from_tree reads of a TreeView: kv() alone."""

    def __init__(self, entries: dict[str, JsonValue]) -> None:
        self.entries = entries

    def kv(self, key: str) -> JsonValue:
        return self.entries.get(key)


def _back(entries: dict[str, JsonValue]) -> engine.State:
    return status_from_tree(_Tree(entries), "s").state  # type: ignore[arg-type]  # kv()


def test_it_is_written_beside_an_error_only() -> None:
    def written(state: engine.State, source: ErrorFrom) -> JsonValue:
        status = engine.Status(state, last_error="boom", error_from=source)
        body = status_entries("s", status)["/scenario/s/error_from"]
        shown: JsonValue = json.loads(body)
        return shown

    assert [
        written(engine.State.ERROR, ErrorFrom.RUN),
        written(engine.State.ERROR, ErrorFrom.LOAD),
        written(engine.State.ERROR, ErrorFrom.START),
        written(engine.State.IDLE, ErrorFrom.LOAD),
        written(engine.State.DISABLED, ErrorFrom.RUN),
    ] == ["run", "load", "start", None, None]


def test_only_a_runs_error_comes_back_from_the_tree_as_the_state() -> None:
    """One of the text or the start, or one stored without `error_from` (by an
    older raspy), is the start's to judge."""

    def back(state: str, error_from: str | None) -> engine.State:
        return _back({"/scenario/s/state": state, "/scenario/s/error_from": error_from})

    assert [
        back("error", "run"),
        back("error", "load"),
        back("error", "start"),
        back("error", None),
        back("error", "later"),
        back("running", None),
        back("idle", "run"),
    ] == [engine.State.ERROR] + [engine.State.IDLE] * 6


def test_an_error_written_comes_back_as_it_was_judged() -> None:
    for source, state in [
        (ErrorFrom.RUN, engine.State.ERROR),
        (ErrorFrom.LOAD, engine.State.IDLE),
    ]:
        status = engine.Status(engine.State.ERROR, error_from=source)
        entries = {k: json.loads(v) for k, v in status_entries("s", status).items()}
        assert _back(entries) is state
