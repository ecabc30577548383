"""core.scenario requests: parsed into a Request, or refused with 400/501 (never raised
otherwise)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.rules import scenario_api as api


def _body(**fields: object) -> list[bytes]:
    return [json.dumps({"v": 1, **fields}).encode()]


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (_body(action="list"), api.Request("list")),
        (_body(action="get", name="a"), api.Request("get", name="a")),
        (_body(action="run", name="a"), api.Request("run", name="a")),
        (
            _body(action="import", document="x", source="f.yaml", replace=True),
            api.Request("import", document="x", source="f.yaml", replace=True),
        ),
        (
            _body(action="validate", document="x"),
            api.Request("validate", document="x", source="<document>"),
        ),
    ],
    ids=["list", "get", "run", "import", "validate"],
)
def test_requests_parse_into_their_fields(
    frames: list[bytes], expected: api.Request
) -> None:
    assert api.parse(frames) == expected


@pytest.mark.parametrize(
    ("frames", "status", "error"),
    [
        ([], b"400", "expected one JSON frame of at most 1 MiB"),
        (
            [b"{"],
            b"400",
            "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ([b"[]"], b"400", "expected a JSON object"),
        (_body(action="list", v=2), b"400", 'expected "v": 1'),
        (_body(action="list", v=True), b"400", 'expected "v": 1'),
        (_body(action=3), b"400", 'expected "action": a string'),
        (_body(action="fly"), b"501", "unknown action 'fly'"),
        (_body(action="list", name="a"), b"400", "list: unknown field 'name'"),
        (_body(action="get"), b"400", 'get: expected "name": a string'),
        (_body(action="import"), b"400", 'import: expected "document": the text'),
        (
            _body(action="import", document="x", replace="yes"),
            b"400",
            'import: expected "source" a string, "replace" a bool',
        ),
    ],
    ids=[
        "no-frame",
        "not-json",
        "not-object",
        "version",
        "version-true",
        "action-type",
        "unknown-action",
        "unknown-field",
        "no-name",
        "no-document",
        "replace-type",
    ],
)
def test_bad_requests_are_refused_with_status_and_reason(
    frames: list[bytes], status: bytes, error: str
) -> None:
    with pytest.raises(api.Refused) as caught:
        api.parse(frames)
    assert caught.value.reply() == (status, api.encode({"error": error}))


@given(st.lists(st.binary(max_size=64), max_size=3))
def test_any_frames_parse_or_are_refused(frames: list[bytes]) -> None:
    status = b"200"
    try:
        api.parse(frames)
    except api.Refused as refused:
        status = refused.status
    assert status in (b"200", b"400", b"501")
