"""`==` and `in` of the expression language are JSON's equality (1 == 1.0, true is
not 1, not even inside a list), whichever way a list is compared: a list of scalars
of the same types at C speed, any other item by item through same(). Both are held
to a plain recursive definition here, the work they charge too."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.devices.template import JsonValue
from raspy.rules.expr_values import Work, contains, same


def _reference(left: JsonValue, right: JsonValue, work: Work) -> bool:
    """JSON equality, item by item: what same() must answer and charge."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return False
        work.charge(len(left))
        return all(_reference(a, b, work) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        work.charge(len(left))
        return left.keys() == right.keys() and all(
            _reference(value, right[key], work) for key, value in left.items()
        )
    return type(left) is type(right) and left == right


# few distinct values, so that equal lists and near misses are drawn often; NaN is
# no JSON value, but equality must not take a NaN for itself either way
SCALARS = st.sampled_from(
    [0, 1, -1, 0.0, 1.0, 2.5, math.nan, True, False, None, "", "1"]
)
VALUES: st.SearchStrategy[JsonValue] = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)
    ),
    max_leaves=12,
)


def _twin(draw: st.DrawFn, value: JsonValue) -> JsonValue:
    """`value` again, or with one scalar item changed (often to an equal one of
    another type: 1 for 1.0, true for 1)."""
    if isinstance(value, list) and value and draw(st.booleans()):
        at = draw(st.integers(0, len(value) - 1))
        return [*value[:at], draw(SCALARS), *value[at + 1 :]]
    return value


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[JsonValue, JsonValue]:
    left = draw(VALUES)
    right = _twin(draw, left) if draw(st.booleans()) else draw(VALUES)
    return left, right


@settings(max_examples=500, deadline=None)
@given(_pairs())
def test_same_is_json_equality_and_charges_every_item_compared(
    pair: tuple[JsonValue, JsonValue],
) -> None:
    left, right = pair
    work, expected = Work(10**9), Work(10**9)
    assert same(left, right, work) == _reference(left, right, expected)
    assert work.spent == expected.spent


@settings(max_examples=500, deadline=None)
@given(SCALARS | VALUES, st.lists(SCALARS | VALUES, max_size=5))
def test_in_is_json_equality_with_some_item(
    item: JsonValue, container: list[JsonValue]
) -> None:
    work, charged = Work(10**9), Work(10**9)
    charged.charge(len(container))  # the list's items, then those of each compared
    expected = any(_reference(item, each, charged) for each in container)
    assert contains(container, item, work) == expected
    assert work.spent == charged.spent


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ([1, 2, 3], [1, 2, 3], True),
        ([1, 2, 3], [1.0, 2.0, 3.0], True),  # numbers of both kinds: item by item
        ([True, 1], [True, 1], True),
        ([True], [1], False),  # true is no 1, in a list too
        ([1], [True], False),
        ([0, False], [False, 0], False),
        ([math.nan], [math.nan], False),
        (["a", None], ["a", None], True),
        ([[1], {"a": True}], [[1.0], {"a": True}], True),
        ([[1], {"a": True}], [[True], {"a": 1}], False),
    ],
)
def test_lists_of_scalars_compare_as_json_says(
    left: list[JsonValue], right: list[JsonValue], equal: bool
) -> None:
    assert same(left, right) is equal
    assert same(right, left) is equal


def test_in_a_list_of_numbers_finds_no_bool_and_no_text() -> None:
    numbers: list[JsonValue] = [0, 1, 2]
    assert contains(numbers, 1) is True
    assert contains(numbers, 1.0) is True
    assert contains(numbers, True) is False
    assert contains(numbers, "1") is False
    assert contains([True, False], 1) is False
    assert contains([math.nan], math.nan) is False
