"""Properties of the expression language (issue #11 "hypothesis on the expression
parser"): any text compiles or raises ExpressionError; a compiled expression evaluates
to a JSON value or raises ExpressionError; nothing else ever escapes."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Final

from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.expr_context import make_context

from raspy.devices.template import JsonValue
from raspy.rules.expr import ExpressionError, compile_expression

CONTEXT = make_context(
    tree={"/a": 1, "/b": "text", "/c": [1, 2], "/d": None, "/e": 1e308, "/f": {"x": 1}},
    variables={"n": 3, "s": "abc", "l": [1, "a"], "z": 0, "f": 2.5, "t": True},
    trigger={"key": "/a", "value": 1, "from": None, "id": "", "kind": "kv"},
    repeat_index=2,
)

PIECES = [
    "1", "0", "-", "+", "*", "/", "//", "%", "(", ")", "[", "]", ",", ".", " ", "'a'",
    '"/a"', "2.5", "1e308", "9223372036854775807", "true", "false", "null", "None",
    "and", "or", "not", "if", "else", "in", "==", "!=", "<", "<=", ">", ">=", "n", "s",
    "l", "z", "f", "t", "x", "trigger", "key", "value", "from", "kv", "now", "between",
    "weekday", "sun", "abs", "min", "max", "round", "int", "float", "str", "len", "hour",
    "minute", "'06:00'", "'sunset'", "'{host}'", "'/{n}'", "**", "=", "lambda", "__class__",
    "'\\u00e9'", "{", "}", ":", "repeat", "index", "sun_up",
    # what the hints look at: a phone's quotes, minus, dash and comparisons, a
    # lone quote (a string that never ends), C's logic, a decimal comma's digits
    "\u2018", "\u2019", "\u201c", "\u201d", "\u2265", "\u2264", "\u2260", "\u2212",
    "\u2013", "'", '"', "it", "!", "&", "|", "21", "5",
]  # fmt: skip

LEAVES = st.sampled_from(
    ["1", "0", "2.5", "-3", "'a'", "''", "true", "false", "null", "n", "s", "l", "z", "f",
     "t", "trigger.key", "trigger.value", "trigger.from", "now()", "weekday()", "hour()",
     "kv('/a')", "kv('/b')", "kv('/c')", "kv('/d')", "kv('/e')", "kv('/f')",
     "sun('sunset')", "sun('dawn')", "between('06:00', '22:00')", "[1, 'a']", "[]",
     "repeat.index", "sun_up()"]
)  # fmt: skip
BINARY = st.sampled_from(
    ["+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "in", "not in",
     "and", "or"]
)  # fmt: skip
UNARY_CALLS = st.sampled_from(
    ["abs", "int", "float", "str", "len", "round", "min", "max", "not ", "-"]
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, BINARY, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(UNARY_CALLS, children).map(
            lambda t: f"({t[0]}{t[1]})" if t[0] in ("not ", "-") else f"{t[0]}({t[1]})"
        ),
        st.tuples(children, children, children).map(
            lambda t: f"({t[0]} if {t[1]} else {t[2]})"
        ),
    )


WELL_FORMED = st.recursive(LEAVES, _combine, max_leaves=20)


def _is_json(value: JsonValue) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(_is_json(item) for item in value.values())
    return value is None or isinstance(value, bool | int | float | str)


def _compile_and_run(text: str) -> None:
    """Compile and evaluate; every ExpressionError must point inside the text."""
    error: ExpressionError | None = None
    try:
        expression = compile_expression(text)
        assert expression.source == text
        value = expression.evaluate(CONTEXT)
    except ExpressionError as caught:
        error = caught
    if error is not None:
        assert 0 <= error.offset <= len(text)
        return
    assert _is_json(value), value
    json.dumps(value, allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_any_text_compiles_or_raises_expression_error(text: str) -> None:
    _compile_and_run(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=25).map("".join))
def test_expression_like_text_compiles_or_raises_expression_error(text: str) -> None:
    _compile_and_run(text)


@settings(max_examples=400, deadline=None)
@given(WELL_FORMED)
def test_well_formed_expressions_compile_and_evaluate_or_fault(text: str) -> None:
    compile_expression(text)
    _compile_and_run(text)


_UNENDED = re.compile(
    r"a string that never ends \(a typographic quote \(U\+([0-9A-F]{4})\): write (.)\)"
)


# texts of strings, some of them ended by a phone's quote
QUOTED = st.lists(
    st.sampled_from(
        ["'", '"', "\u2018", "\u2019", "\u201c", "\u201d", "it", "s", " ", "==",
         "x", "kv(", ")", "'a'", '"b"', "\\'"]
    ),
    max_size=12,
).map("".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(QUOTED)
def test_a_typographic_quote_a_string_that_never_ends_names_ends_it(text: str) -> None:
    """The hint of a string that never ends names a quote whose ASCII one, written
    in its place, leaves no string that never ends (it named any quote anywhere)."""
    try:
        compile_expression(text)
    except ExpressionError as caught:
        named = _UNENDED.fullmatch(caught.reason)
    else:
        return
    if named is None:
        return
    typographic, ascii_quote = chr(int(named.group(1), 16)), named.group(2)
    assert any(
        _ends_strings(text[:i] + ascii_quote + text[i + 1 :])
        for i, char in enumerate(text)
        if char == typographic
    ), text


def _ends_strings(text: str) -> bool:
    try:
        compile_expression(text)
    except ExpressionError as caught:
        return not caught.reason.startswith("a string that never ends")
    return True


# a slip of an operator or a `not`, as a habit of C, JavaScript or a quick thumb
# writes it, in a text otherwise right: each slip's text and what it was meant as
SLIPS: Final = {
    "==": ["=", "= =", "=  ="],
    "!=": ["! =", "!  ="],
    "<=": ["=<", "= <"],
    ">=": ["=>", "= >"],
    "and": ["&&", "&"],
    "or": ["||", "|"],
}
VALUES = st.sampled_from(["x", "y", "1", "kv('/a')", "(y)", "-1", "'a'", "t"])
CONTEXTS = st.sampled_from(
    [("", ""), ("(", ")"), ("[1, ", "]"), ("a and ", ""), ("x if ", " else z"),
     ("max(1, ", ")"), ("not ", ""), ("z or ", "")]
)  # fmt: skip


@st.composite
def slipped(draw: st.DrawFn) -> str:
    """A right expression with one slip in it: an operator (`y = = 1`), a `not`
    written `!` before a test (`!y`) or after an operator (`x == !y`)."""
    left, right = draw(VALUES), draw(VALUES)
    operator = draw(st.sampled_from(sorted(SLIPS)))
    core = draw(
        st.sampled_from(
            [
                f"{left} {draw(st.sampled_from(SLIPS[operator]))} {right}",
                f"!{right}",
                f"! {right}",
                f"{left} {operator} !{right}",
                f"{left} {operator}! {right}",
                f"{left} + !{right}",
            ]
        )
    )
    before, after = draw(CONTEXTS)
    return f"{before}{core}{after}"


_WRITE = re.compile(r".*write (.+?)(?: to compare)?(?:, no space in it)?\)")


@settings(max_examples=600, deadline=None)
@given(slipped())
@example("x == !y")
@example("a ==! b")
@example("y = = 1")
@example("x = < 1")
def test_the_text_a_hint_says_to_write_compiles_in_place(text: str) -> None:
    """Hypothesis: in a text right but for one slip, the X of its hint's "write
    X", put in place of what it is said of, compiles (`x == !y` was told `not`:
    `x == not y` is refused; `y = = 1` was told `==`: `y == = 1` is)."""
    try:
        compile_expression(text)
    except ExpressionError as caught:
        reason, offset = caught.reason, caught.offset
    else:
        return
    hint = _WRITE.fullmatch(reason)
    if hint is None or "…" in hint.group(1):
        return
    placed = list(_put_in_place(text, offset, hint.group(1)))
    assert any(_compiles(each) for each in placed), (text, reason, placed)


def _put_in_place(text: str, offset: int, written: str) -> Iterator[str]:
    """Each text with `written` in place of what a hint at `offset` is said of: the
    character; a doubled `&&`; a `= <` or `=<` of the same characters; the `! y`
    of `(not y)`."""
    spans = [(offset, offset + 1)]
    if text[offset : offset + 2] in ("&&", "||"):
        spans.append((offset, offset + 2))
    pair = re.compile(r".\s*.").match(text, offset)
    if pair and sorted(pair.group().replace(" ", "")) == sorted(written):
        spans.append(pair.span())
    negated = re.fullmatch(r"\(not (.+)\)", written)
    if negated:
        operand = re.compile(r"!\s*" + re.escape(negated.group(1))).match(text, offset)
        spans += [operand.span()] if operand else []
    for start, end in spans:
        for padded in (written, f" {written} "):
            yield text[:start] + padded + text[end:]


def _compiles(text: str) -> bool:
    try:
        compile_expression(text)
    except ExpressionError:
        return False
    return True
