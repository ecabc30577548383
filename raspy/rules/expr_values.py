"""Values of the expression language (JSON values) and the operators on them.

Types are strict as in JSON, not as in Python: true is not 1, "a" < 1 is a fault, and
no number ever becomes infinite, NaN or an integer past ±2**63. Pure, no I/O.
"""

from __future__ import annotations

import math
from itertools import repeat
from operator import eq
from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError, quote

INT_LIMIT: Final = 2**63
MAX_STRING: Final = 65_536
# the work one evaluation may do, in units of about one list item compared (half
# a microsecond to a microsecond on a PC's core): the parser bounds an expression's
# size, not the size of the values it compares, searches or writes out
MAX_WORK: Final = 1_000_000
TOO_MUCH_WORK: Final = (
    f"the expression does too much work (more than {MAX_WORK:,} items of long"
    " lists or texts compared, searched or written out)"
)


def quoted_hint(name: str) -> str:
    """The hint of an unknown variable: a word meant as text (`== home`) is
    written in quotes, as a string is."""
    return f"(text goes in quotes: '{name}')"


class Fault(ScenarioError):
    """A fault inside an expression; rules.expr turns it into an ExpressionError.
    `offset` is None until the node that saw it fills it in."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason)


class Work:
    """A meter of the work of the evaluations that share it (a context's): each
    operation whose time grows with its values' size charges it, and past `limit`
    units it is a Fault. A `==` on two lists of 100,000 items takes 50 ms; 60 of
    them in one condition, tested at every trigger or in a loop, would hold the
    scenario's actor for seconds at a time."""

    __slots__ = ("limit", "spent")

    def __init__(self, limit: int = MAX_WORK) -> None:
        self.limit = limit
        self.spent = 0

    def charge(self, units: int) -> None:
        self.spent += units
        if self.spent > self.limit:
            raise Fault(TOO_MUCH_WORK)


def is_number(value: JsonValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def describe(value: JsonValue) -> str:
    """A value for a message: its kind and (for scalars) its text, quoted and bounded."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if abs(value) < 1e15 else "a large number"
    if isinstance(value, str):
        return quote(value)
    return "a list" if isinstance(value, list) else "an object"


def checked_number(value: int | float) -> int | float:
    """The number if it is a JSON-safe one, else a Fault."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Fault("the result is not a finite number")
    if isinstance(value, int) and not -INT_LIMIT <= value <= INT_LIMIT:
        raise Fault("the result is out of range (±2**63)")
    return value


def number(value: JsonValue, what: str) -> int | float:
    """The value as a number (not a bool), or a Fault naming what needed one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise Fault(f"{what} needs a number, got {describe(value)}")


# the types of JSON's scalars: between two values of one of them, same() is Python's
# == (true is never compared with 1); a list's items of one of them compare at C
# speed, some ten times faster than one call of same() an item (the work they are
# charged is the same: Work counts items, not time)
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _scalars_alike(left: list[JsonValue], right: list[JsonValue]) -> bool:
    """Do the two lists hold scalars of the same type at each place?"""
    kinds = list(map(type, left))
    return kinds == list(map(type, right)) and _SCALARS.issuperset(kinds)


def _all_of_type(items: list[JsonValue], kind: type) -> bool:
    """Is every item of exactly this type (not a subclass: a bool is no int)?"""
    return set(map(type, items)) <= {kind}


def same(left: JsonValue, right: JsonValue, work: Work | None = None) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 and "1" != 1. `work` is charged an
    item of each list or object compared (a text compares at memory speed)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return False
        if work is not None:
            work.charge(len(left))
        if _scalars_alike(left, right):  # as below, item by item, at C speed
            return all(map(eq, left, right))
        return all(map(same, left, right, repeat(work)))
    if isinstance(left, dict) and isinstance(right, dict):
        if work is not None:
            work.charge(len(left))
        return left.keys() == right.keys() and all(
            same(v, right[k], work) for k, v in left.items()
        )
    return type(left) is type(right) and left == right


def compare(
    operator: str, left: JsonValue, right: JsonValue, work: Work | None = None
) -> bool:
    """One comparison; ordering only between two numbers or two strings."""
    if operator == "==":
        return same(left, right, work)
    if operator == "!=":
        return not same(left, right, work)
    if operator in ("in", "not in"):
        found = contains(right, left, work)
        return found if operator == "in" else not found
    if not (is_number(left) and is_number(right)) and not (
        isinstance(left, str) and isinstance(right, str)
    ):
        raise Fault(f"cannot compare {describe(left)} {operator} {describe(right)}")
    assert isinstance(left, int | float | str)
    assert isinstance(right, int | float | str)
    if operator == "<":
        return left < right  # type: ignore[operator]  # both numbers or both strings
    if operator == "<=":
        return left <= right  # type: ignore[operator]  # idem
    if operator == ">":
        return left > right  # type: ignore[operator]  # idem
    return left >= right  # type: ignore[operator]  # idem


def contains(container: JsonValue, item: JsonValue, work: Work | None = None) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise Fault(f"'in' a string needs a string, got {describe(item)}")
        return item in container
    if isinstance(container, list):
        if work is not None:
            work.charge(len(container))
        if type(item) in _SCALARS and _all_of_type(container, type(item)):
            return any(map(eq, repeat(item), container))  # as below
        return any(map(same, repeat(item), container, repeat(work)))
    raise Fault(
        f"'in' needs a string or a list on the right, got {describe(container)}"
    )


def arithmetic(operator: str, left: JsonValue, right: JsonValue) -> JsonValue:
    """+ - * / // % on numbers; + also joins two strings (at most 64 KiB)."""
    if operator == "+" and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_STRING:
            raise Fault(f"the joined string is longer than {MAX_STRING} characters")
        return left + right
    a = number(left, f"'{operator}'")
    b = number(right, f"'{operator}'")
    try:
        if operator == "+":
            result = a + b
        elif operator == "-":
            result = a - b
        elif operator == "*":
            result = a * b
        elif operator == "/":
            result = a / b
        elif operator == "//":
            result = a // b
        else:
            result = a % b
    except ZeroDivisionError:
        raise Fault(f"division by zero in {describe(left)} {operator} 0") from None
    except OverflowError:
        raise Fault("the result is out of range") from None
    return checked_number(result)


def truthy(value: JsonValue) -> bool:
    """Python's truth of a JSON value: null, false, 0, "", [] and {} are false."""
    return bool(value)
