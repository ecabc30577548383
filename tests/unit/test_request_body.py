"""The JSON envelope of the in-process services' requests: a document or a refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.devices import request_body
from raspy.devices.request_body import Refusal

KEYS = frozenset({"v", "action", "name"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            [], Refusal(None, "bad_request", "expected 1 frame, got 0"), id="no-frame"
        ),
        pytest.param(
            [b"{}", b"{}"],
            Refusal(None, "bad_request", "expected 1 frame, got 2"),
            id="two-frames",
        ),
        pytest.param(
            [b"[1]"],
            Refusal(None, "bad_request", "expected a JSON object"),
            id="not-object",
        ),
        pytest.param(
            [b'{"v": 1, "action": 5}'],
            Refusal(
                None,
                "bad_request",
                "action: expected a string of at most 64 characters",
            ),
            id="action-type",
        ),
        pytest.param(
            [b'{"v": 2, "action": "list"}'],
            Refusal("list", "unsupported_version", "v: expected 1, got 2"),
            id="version",
        ),
        pytest.param(
            [b'{"v": true, "action": "list"}'],
            Refusal("list", "unsupported_version", "v: expected 1, got true"),
            id="version-bool",
        ),
        pytest.param(
            [b'{"v": 1, "action": "list", "zz": 1, "aa": 2}'],
            Refusal("list", "unknown_field", "'aa, zz'"),
            id="unknown-fields",
        ),
        pytest.param(
            [b'{"v": 1, "action": "x", "n": NaN}'],
            Refusal(None, "bad_json", "NaN is not JSON"),
            id="nan",
        ),
    ],
)
def test_a_bad_envelope_is_refused_with_its_reason(
    body: list[bytes], expected: Refusal
) -> None:
    assert request_body.parse(body, KEYS) == expected


def test_an_oversized_body_is_refused_before_it_is_parsed() -> None:
    body = [b" " * (request_body.MAX_REQUEST_BYTES + 1)]
    assert request_body.parse(body, KEYS) == Refusal(
        None, "bad_request", "over 65536 bytes"
    )


def test_a_good_envelope_gives_the_document() -> None:
    body = [b'{"v": 1, "action": "get", "name": "n"}']
    assert request_body.parse(body, KEYS) == {"v": 1, "action": "get", "name": "n"}


@given(st.lists(st.binary(max_size=200), max_size=3))
def test_any_frames_give_a_document_or_a_refusal(body: list[bytes]) -> None:
    parsed = request_body.parse(body, KEYS)
    assert isinstance(parsed, dict | Refusal)
