"""Templates in scenario strings (issue #11: `{host}`, `{trigger.value}`, variables,
`{now}`), parsed by our own code, never str.format."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Final

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.expr_context import make_context

from raspy.devices.template import JsonValue
from raspy.rules.template import (
    TemplateError,
    check,
    context_names,
    parse,
    render,
    render_in,
    render_value,
)
from raspy.rules.template_field import Field

_OR_TIME = " or a time such as :%H:%M"
NAMES: dict[str, JsonValue] = {
    "host": "pi",
    "trigger.value": 19.5,
    "trigger.key": "/device/pi.fake.living/value",
    "on": True,
    "nothing": None,
    "items": [1, "a"],
    "word": "hello",
}


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("{host}.fake.lamp", "pi.fake.lamp"),
        ("living is {trigger.value} °C", "living is 19.5 °C"),
        ("{trigger.key}", "/device/pi.fake.living/value"),
        ("{on}/{nothing}/{items}", 'true/null/[1,"a"]'),
        ("{{literal}} {word}", "{literal} hello"),
        ("{{{word}}}", "{hello}"),
        ("no fields", "no fields"),
        ("", ""),
    ],
)
def test_render_fills_fields_and_unescapes_braces(text: str, rendered: str) -> None:
    assert render(text, NAMES) == rendered


@pytest.mark.parametrize(
    ("text", "reason", "offset"),
    [
        ("{missing}", "unknown name 'missing'", 0),
        (
            "ab {0.__class__}",
            "'{' starts no {name} field (write '{{' and '}}' for braces)",
            3,
        ),
        ("{word.__class__.__mro__}", "unknown name 'word.__class__.__mro__'", 0),
        ("{}", "'{' starts no {name} field (write '{{' and '}}' for braces)", 0),
        ("{host", "'{' starts no {name} field (write '{{' for a brace)", 0),
        ("{host!r}", "'{' starts no {name} field (write '{{' and '}}' for braces)", 0),
        (
            "{host:>10}",
            "the format of {host} can only be :.Nf (N decimals, 0 to 9)" + _OR_TIME,
            0,
        ),
        (
            "a {x:.10f}",
            "the format of {x} can only be :.Nf (N decimals, 0 to 9)" + _OR_TIME,
            2,
        ),
        (
            "{x:.1F}",
            "the format of {x} can only be :.Nf (N decimals, 0 to 9)" + _OR_TIME,
            0,
        ),
        (
            "{x:}",
            "the format of {x} can only be :.Nf (N decimals, 0 to 9)" + _OR_TIME,
            0,
        ),
        ("{:.1f}", "'{' starts no {name} field (write '{{' and '}}' for braces)", 0),
        ('{"a": 1}', "'{' starts no {name} field (write '{{' and '}}' for braces)", 0),
        ("x}", "a lone '}' (write '}}' for a brace)", 1),
        # spaces around a format alone: told as spaces by the name are, not that
        # the format can only be :.Nf (which it looked to be)
        ("{room:.1f }", "{room:.1f } is no field: write {room:.1f}, without spaces", 0),
        (
            "{room: %H:%M}",
            "{room: %H:%M} is no field: write {room:%H:%M}, without spaces",
            0,
        ),
        (
            "{room: .12f}",
            "{room: .12f} is no field: no spaces in the braces, and the format of"
            " {room} can only be :.Nf (N decimals, 0 to 9)" + _OR_TIME,
            0,
        ),
        # a JSON text in a template: both its braces are said ('{{' alone would
        # leave a lone '}')
        (
            '{"on": true}',
            "'{' starts no {name} field (write '{{' and '}}' for braces)",
            0,
        ),
        # a name beyond ASCII, or spaces around one, was told to write '{{'
        (
            "in {Küche}",
            "{Küche} is no field: a name is ASCII letters, digits and _ (a "
            "variable's too)",
            3,
        ),
        ("{ room }", "{ room } is no field: write {room}, without spaces", 0),
        (
            "{trigger.value :.1f}",
            "{trigger.value :.1f} is no field: write {trigger.value:.1f}, without "
            "spaces",
            0,
        ),
        # the hint said the wrong words: a time format's `%` read as a sum, a
        # space after the format kept, a name beyond ASCII in spaces told '{{'
        (
            "{room :%H:%M}",
            "{room :%H:%M} is no field: write {room:%H:%M}, without spaces",
            0,
        ),
        (
            "{ room:.1f }",
            "{ room:.1f } is no field: write {room:.1f}, without spaces",
            0,
        ),
        # a time format's own spaces stay: "without spaces" alone said the contrary
        (
            "{ x:%H %M }",
            "{ x:%H %M } is no field: write {x:%H %M}, without spaces around the"
            " name and the format",
            0,
        ),
        (
            "{ room : .1f }",
            "{ room : .1f } is no field: write {room:.1f}, without spaces",
            0,
        ),
        (
            "{ Küche }",
            "{ Küche } is no field: a name is ASCII letters, digits and _ (a "
            "variable's too)",
            0,
        ),
        # spaces and a format that is wrong too: both are said, no wrong text
        (
            "{ room:.12f }",
            "{ room:.12f } is no field: no spaces in the braces, and the format of"
            " {room} can only be :.Nf (N decimals, 0 to 9)" + _OR_TIME,
            0,
        ),
        (
            "{ now:%Q }",
            "{ now:%Q } is no field: no spaces in the braces, and the time format of"
            " {now}: unknown time directive '%Q' (the directives are %H %M %S %d %m %y"
            " %Y %a %A %b %B %j %p %I %Z %z %%)",
            0,
        ),
    ],
)
def test_render_refuses_bad_or_unknown_fields(
    text: str, reason: str, offset: int
) -> None:
    with pytest.raises(TemplateError) as caught:
        render(text, NAMES)
    assert (caught.value.reason, caught.value.offset) == (reason, offset)


@pytest.mark.parametrize(
    ("text", "names", "rendered"),
    [
        ("{t:.1f} °C", {"t": 21.0625}, "21.1 °C"),
        ("{t:.0f}", {"t": 21.5}, "22"),
        # a half goes away from zero, as a household reads it (Python's own format
        # would give 20 and 0.2: half to even)
        ("{t:.0f}", {"t": 20.5}, "21"),
        ("{t:.0f}", {"t": -20.5}, "-21"),
        ("{t:.1f}", {"t": 0.25}, "0.3"),
        ("{t:.2f}", {"t": 2.675}, "2.67"),  # the float is 2.67499999...: below half
        ("{t:.0f}", {"t": -0.4}, "0"),  # no "-0"
        ("{t:.1f}", {"t": -0.04}, "0.0"),
        ("{t:.2f}", {"t": 3}, "3.00"),
        ("{t:.1f}", {"t": None}, "null"),  # no value: written as usual
        ("{t:.1f}", {"t": True}, "true"),  # true is not a number
        ("{t:.1f}", {"t": "warm"}, "warm"),
        ("{t:.1f}", {"t": 10**400}, "1" + "0" * 400),  # an int too big for a float
    ],
)
def test_a_number_field_may_give_its_decimals(
    text: str, names: dict[str, JsonValue], rendered: str
) -> None:
    assert render(text, names) == rendered


@pytest.mark.parametrize(
    ("value", "places", "kept"),
    [(20.5, 0, 21), (-20.5, 0, -21), (0.25, 1, 0.3), (21.0625, 1, 21.1), (7, 0, 7)],
)
def test_a_number_alone_is_rounded_half_away_from_zero(
    value: float, places: int, kept: JsonValue
) -> None:
    field = parse(f"{{v:.{places}f}}")[0]
    assert isinstance(field, Field)
    result = field.kept(value)
    assert result == kept
    assert type(result) is type(kept)


@pytest.mark.parametrize(
    ("value", "places", "kept", "shown"),
    [
        # an int went through a float: 2**53 + 1 came out as 2**53
        (9_007_199_254_740_993, 0, 9_007_199_254_740_993, "9007199254740993"),
        (-9_007_199_254_740_993, 0, -9_007_199_254_740_993, "-9007199254740993"),
        (2**63, 0, 2**63, str(2**63)),
        (123_456_789_012_345_678, 2, 1.2345678901234568e17, "123456789012345678.00"),
        # past ±2**63 a whole number stays a float (it set a 301-digit int)
        (1e300, 0, 1e300, str(int(1e300))),  # the float's exact digits
        (-1e19, 0, -1e19, "-10000000000000000000"),
        (10**30, 0, 1e30, "1" + "0" * 30),
        (2**63 + 1, 0, 9.223372036854776e18, str(2**63 + 1)),
    ],
)
def test_a_large_number_keeps_its_digits_and_its_json_range(
    value: int | float, places: int, kept: JsonValue, shown: str
) -> None:
    field = parse(f"{{v:.{places}f}}")[0]
    assert isinstance(field, Field)
    result = field.kept(value)
    assert result == kept
    assert type(result) is type(kept)
    assert render(f"{{v:.{places}f}}", {"v": value}) == shown


def test_render_in_applies_the_decimals_too() -> None:
    context = make_context(trigger={"value": 21.0625})
    assert render_in("at {trigger.value:.1f} °C", context) == "at 21.1 °C"


def test_template_error_message_names_the_text() -> None:
    with pytest.raises(TemplateError) as caught:
        render("a {nope}", NAMES)
    assert str(caught.value) == "unknown name 'nope' (at offset 2 of 'a {nope}')"


def _names(text: str) -> set[str]:
    """The names of a template's fields."""
    return {part.name for part in parse(text) if isinstance(part, Field)}


def test_parse_gives_the_fields_and_their_names() -> None:
    assert _names("{host}.{trigger.key:.1f}/{x}{{y}}") == {"host", "trigger.key", "x"}


def test_check_refuses_the_first_unknown_name() -> None:
    check("{host} {a}", {"host", "a"})
    with pytest.raises(TemplateError) as caught:
        check("{host} {b}", {"host", "a"})
    assert (caught.value.reason, caught.value.offset) == ("unknown name 'b'", 7)


def test_render_value_renders_every_string_inside() -> None:
    value: JsonValue = {"{host}": ["{word}", 1, {"k": "{on}"}], "n": None}
    assert render_value(value, NAMES) == {
        "{host}": ["hello", 1, {"k": "true"}],
        "n": None,
    }


def test_context_names_hold_host_now_trigger_and_variables() -> None:
    context = make_context(
        variables={"target": 19.5, "host": "shadowed"},
        trigger={"key": "/k", "value": 3, "kind": "kv"},
    )
    assert context_names(context) == {
        "target": 19.5,
        "host": "pi",
        "now": "2026-12-03T14:05:30+01:00",
        "trigger.key": "/k",
        "trigger.value": 3,
        "trigger.from": None,
        "trigger.id": None,
        "trigger.kind": "kv",
        "trigger.by": None,
        "trigger.since": None,
        "trigger.tried": False,  # a firing's
    }


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("{}ab.x_0 é:f1"), max_size=30)
    | st.text(max_size=30)
)
def test_any_text_renders_or_raises_template_error(text: str) -> None:
    """Hypothesis: a template renders to text or is refused with TemplateError."""
    names: dict[str, JsonValue] = {"a": 1, "ab": "x", "a.b": None, "x_0": [True]}
    refused: TemplateError | None = None
    try:
        render(text, names)
    except TemplateError as error:
        refused = error
    if refused is None:
        assert _names(text) <= set(names)
    else:
        assert 0 <= refused.offset < len(text)


_WRITE: Final = re.compile(
    r".* is no field: write (\{.*\}), without spaces( around the name and the format)?"
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["{", "}", " ", "a", ":", ".1f", "%H", ":%M", "%Q", "*", "é", " %M"]
        ),
        max_size=8,
    ).map("".join)
)
@example("{ a:.1f }")
@example("{ a :%H:%M }")
@example("{ a:%H %M }")
def test_a_field_a_hint_says_to_write_is_one(text: str) -> None:
    """Hypothesis: the text a hint tells to write is a field (`{ a:.1f }` was told
    `{a:.1f }`, itself refused), with spaces only if the hint says where it has
    none (`write {a:%H %M}, without spaces` contradicted itself)."""
    try:
        parse(text)
    except TemplateError as error:
        written = _WRITE.fullmatch(error.reason)
    else:
        return
    if written is not None:
        assert [type(part) for part in parse(written.group(1))] == [Field], text
        assert (" " in written.group(1)) == bool(written.group(2)), text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=30))
def test_text_without_braces_renders_as_itself(text: str) -> None:
    assert render(text, {}) == text


@pytest.mark.parametrize(
    "text",
    [
        "{host}/{now}/{trigger.key}/{trigger.value}/{trigger.from}/{target}",
        "plain",
        "{{x}}",
    ],
)
def test_render_in_a_context_equals_render_with_its_names(text: str) -> None:
    context = make_context(
        variables={"target": 19.5}, trigger={"key": "/k", "value": 3}
    )
    assert render_in(text, context) == render(text, context_names(context))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("temp is {v}", float("inf")),
        ("temp is {v:.1f}", float("-inf")),
        ("at {v:%H:%M}", float("nan")),
        ("list {v}", [1, float("nan")]),
    ],
)
def test_a_number_json_has_not_is_refused_in_a_text_naming_its_field(
    text: str, value: JsonValue
) -> None:
    """A tree value `1e400` reads as an infinity: a text wrote `temp is Infinity`,
    where a `set` or a `call:` frame fails on it."""
    with pytest.raises(TemplateError) as caught:
        render(text, {"v": value})
    with pytest.raises(TemplateError) as caught_in_a_run:
        render_in(text, make_context(variables={"v": value}))
    for error in (caught.value, caught_in_a_run.value):
        assert error.reason == "{v} is or holds a number that is not finite"
        assert error.offset == text.index("{")


def test_render_in_a_context_refuses_an_unknown_name() -> None:
    with pytest.raises(TemplateError) as caught:
        render_in("a{nope}", make_context())
    assert (caught.value.reason, caught.value.offset) == ("unknown name 'nope'", 1)


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


@given(_ANY_JSON, st.integers(0, 9))
def test_a_field_with_decimals_takes_any_json_value(
    value: JsonValue, places: int
) -> None:
    """Hypothesis: no value (10**400, ...) makes a format raise; one that is or
    holds Infinity or NaN is the TemplateError that names the field."""
    text = f"{{v:.{places}f}}"
    try:
        json.dumps(value, allow_nan=False)
        finite = True
    except ValueError:
        finite = False
    if not finite:
        with pytest.raises(TemplateError, match="not finite"):
            render(text, {"v": value})
    else:
        assert isinstance(render(text, {"v": value}), str)
    field = parse(text)[0]
    assert isinstance(field, Field)
    kept = field.kept(value)
    if isinstance(value, float) and math.isfinite(value):
        assert isinstance(
            kept, int | float
        )  # within half a step, less the float's error
        error = abs(Decimal(kept) - Decimal(value))
        assert (
            error
            <= Decimal(1).scaleb(-places) / 2 + Decimal(abs(kept)) * Decimal(2) ** -52
        )
