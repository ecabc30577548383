"""core.scenario requests: parsed into a Request, or refused with 400/501 (never raised
otherwise)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.rules import scenario_api as api

SHA_X = hashlib.sha256(b"x").hexdigest()
BAD_FINGERPRINT = (
    'expected "if_fingerprint": "absent" or a SHA-256 of the stored text as 64 '
    "lowercase hex digits"
)


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
        (
            _body(action="import", document="x", if_fingerprint=SHA_X),
            api.Request("import", document="x", if_fingerprint=SHA_X),
        ),
        (
            _body(action="delete", name="a", if_fingerprint="absent"),
            api.Request("delete", name="a", if_fingerprint="absent"),
        ),
        (
            _body(action="import", document="x", if_enabled=False),
            api.Request("import", document="x", if_enabled=False),
        ),
    ],
    ids=[
        "list",
        "get",
        "run",
        "import",
        "validate",
        "import-if",
        "delete-if",
        "import-if-enabled",
    ],
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
        (
            _body(action="import", document="x", if_fingerprint=SHA_X.upper()),
            b"400",
            f"import: {BAD_FINGERPRINT}",
        ),
        (
            _body(action="delete", name="a", if_fingerprint=SHA_X + "0"),
            b"400",
            f"delete: {BAD_FINGERPRINT}",
        ),
        (
            _body(action="delete", name="a", if_fingerprint=None),
            b"400",
            f"delete: {BAD_FINGERPRINT}",
        ),
        (
            _body(action="validate", document="x", if_fingerprint=SHA_X),
            b"400",
            "validate: unknown field 'if_fingerprint'",
        ),
        (
            _body(action="enable", name="a", if_fingerprint=SHA_X),
            b"400",
            "enable: unknown field 'if_fingerprint'",
        ),
        (
            _body(action="import", document="x", if_enabled="false"),
            b"400",
            'import: expected "if_enabled": a bool',
        ),
        (
            _body(action="delete", name="a", if_enabled=True),
            b"400",
            "delete: unknown field 'if_enabled'",
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
        "fingerprint-upper-case",
        "fingerprint-too-long",
        "fingerprint-null",
        "validate-if",
        "enable-if",
        "if-enabled-type",
        "delete-if-enabled",
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


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(
    st.sampled_from(["import", "delete"]),
    _JSON
    | st.just("absent")
    | st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
    | st.binary(min_size=32, max_size=33).map(bytes.hex),
)
def test_any_if_fingerprint_parses_as_itself_or_is_refused_with_its_reason(
    action: str, value: object
) -> None:
    fields = {"document": "x"} if action == "import" else {"name": "a"}
    well_formed = isinstance(value, str) and re.fullmatch(r"absent|[0-9a-f]{64}", value)
    outcome: object
    try:
        outcome = api.parse(_body(action=action, if_fingerprint=value, **fields))
    except api.Refused as refused:
        outcome = refused.reply()
    if well_formed:
        assert isinstance(outcome, api.Request)
        assert outcome.if_fingerprint == value
    else:
        assert outcome == (
            b"400",
            api.encode({"error": f"{action}: {BAD_FINGERPRINT}"}),
        )


def test_the_fingerprint_is_the_sha256_of_the_text_and_absent_for_none() -> None:
    assert [api.fingerprint(None), api.fingerprint("x"), api.fingerprint("\udc80")] == [
        "absent",
        SHA_X,
        hashlib.sha256(b"\xed\xb2\x80").hexdigest(),  # a lone surrogate, as is
    ]


def test_an_import_of_documents_parses_into_text_and_source_pairs() -> None:
    frames = _body(
        action="import",
        documents=[{"document": "x", "source": "a.yaml"}, {"document": "y"}],
        replace=True,
    )
    assert api.parse(frames) == api.Request(
        "import", replace=True, documents=(("x", "a.yaml"), ("y", "<document>"))
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"documents": [{"document": "x"}], "document": "x"},
            'import: "document" with "documents" (one or the other)',
        ),
        (
            {"documents": [{"document": "x"}], "others": ["b"]},
            'import: "others" with "documents" (one or the other)',
        ),
        (
            {"documents": [{"document": "x"}], "if_enabled": True},
            'import: "if_enabled" with "documents" (one or the other)',
        ),
        (
            {"documents": []},
            'import: expected "documents": a list of 1 to 1000 objects',
        ),
        (
            {"documents": [{"document": "x"}, "y"]},
            'import: documents[1]: expected {"document", "source"?}',
        ),
        (
            {"documents": [{"document": "x", "replace": True}]},
            'import: documents[0]: expected {"document", "source"?}',
        ),
        (
            {"documents": [{"document": 3}]},
            'import: documents[0]: expected "document" and "source": strings',
        ),
        (
            {"documents": [{"document": "x"}], "replace": 1},
            'import: expected "replace": a bool',
        ),
    ],
    ids=[
        "and-document",
        "and-others",
        "and-if-enabled",
        "none",
        "not-object",
        "field",
        "type",
        "replace",
    ],
)
def test_a_bad_import_of_documents_is_refused_with_its_reason(
    fields: dict[str, object], error: str
) -> None:
    with pytest.raises(api.Refused) as caught:
        api.parse(_body(action="import", **fields))
    assert caught.value.reply() == (b"400", api.encode({"error": error}))


def test_validate_takes_no_documents() -> None:
    with pytest.raises(api.Refused) as caught:
        api.parse(_body(action="validate", documents=[{"document": "x"}]))
    assert caught.value.body == {"error": "validate: unknown field 'documents'"}
