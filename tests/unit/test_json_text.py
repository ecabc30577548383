"""raspy.json_text: JSON from outside raises ValueError or decodes, however deep."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy import json_text


@pytest.mark.parametrize(
    "text", [b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000]
)
def test_json_nested_deeper_than_the_stack_is_a_value_error(text: bytes) -> None:
    with pytest.raises(ValueError, match="nested too deep"):
        json_text.loads(text)
    assert json_text.tree_value(text) == text.decode()


@given(st.binary(max_size=200), st.integers(0, 4000))
def test_any_body_at_any_depth_is_a_value_or_its_text(body: bytes, depth: int) -> None:
    nested = b"[" * depth + body + b"]" * depth
    value = json_text.tree_value(nested)
    assert value is None or isinstance(value, str | list | dict | int | float | bool)


def test_json_deeper_than_the_limit_is_refused_before_it_reaches_a_deeper_stack() -> (
    None
):
    """JSON just shallow enough for json.loads failed later, written back by
    json.dumps from a deeper stack (a web handler, an MQTT result): no reader
    takes more than MAX_DEPTH levels."""
    limit = json_text.MAX_DEPTH
    assert json_text.loads("[" * limit + "]" * limit) is not None
    with pytest.raises(ValueError, match=f"deeper than {limit} levels"):
        json_text.loads(b"[" * (limit + 1) + b"]" * (limit + 1))
    with pytest.raises(ValueError, match=f"deeper than {limit} levels"):
        json_text.loads('{"a": ' * (limit + 1) + "1" + "}" * (limit + 1))


def test_many_brackets_side_by_side_are_not_depth() -> None:
    wide = "[" + ",".join(["[]"] * 5000) + "]"
    assert len(json_text.loads(wide)) == 5000


def test_an_integer_no_float_holds_is_an_infinity_as_1e400_is() -> None:
    """JSON has no limit on integers: float() or math.isfinite() of one past a
    float's range raised OverflowError (no ValueError) in the history recorder,
    the history service, the web face's forms and replies."""
    huge = "9" * 400
    assert json_text.loads(f'{{"since": {huge}, "until": -{huge}}}') == {
        "since": math.inf,
        "until": -math.inf,
    }
    assert json_text.tree_value(huge.encode()) == math.inf
    held = "9" * 300
    assert json_text.loads(f"[{held}, -{held}]") == [int(held), -int(held)]


@pytest.mark.parametrize("body", [b'"caf\\ud800"', b'"caf\xed\xa0\x80"'])
def test_a_lone_surrogate_read_is_written_back_as_its_escape(body: bytes) -> None:
    """JSON names a lone surrogate by its escape, and json.loads takes one from the
    bytes ED A0 80 too; no UTF-8 holds it: written back escaped, not raised."""
    value = json_text.tree_value(body)
    assert value == "caf\ud800"
    assert (
        json_text.encode({"v": value, "é": 1}) == b'{"v": "caf\\ud800", "\\u00e9": 1}'
    )
    assert json_text.loads(json_text.encode(value)) == value
    assert json_text.encode({"b": "é", "a": 1}, sort_keys=True) == (
        '{"a": 1, "b": "é"}'.encode()
    )


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, {"a": [math.inf]}])
def test_a_number_json_has_not_is_never_written(value: object) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        json_text.encode(value)
