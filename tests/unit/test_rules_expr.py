"""Scenario expressions (issue #11): a whitelisted grammar with literals, variables,
`trigger.<field>`, comparisons, and/or/not, arithmetic and the allow-listed functions;
every refusal is an ExpressionError with the offset of what is wrong."""

from __future__ import annotations

import datetime as dt

import pytest
from support.expr_context import BERLIN, SUNSET_TS, WALL_TS, make_context

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError
from raspy.rules.expr import ExpressionError, compile_expression
from raspy.rules.model import EvalContext, SunEvent

TREE: dict[str, JsonValue] = {
    "/device/pi.fake.lamp/value": False,
    "/device/pi.fake.living/value": 18.5,
    "/device/pi.fake.name/value": "hall",
}
CONTEXT = make_context(
    tree=TREE,
    variables={"target": 19.5, "room": "living", "limit": 3},
    trigger={
        "key": "/device/pi.fake.living/value",
        "value": 18.5,
        "from": 20,
        "id": "cold",
        "kind": "kv",
    },
)


def value_of(text: str, context: EvalContext = CONTEXT) -> JsonValue:
    return compile_expression(text).evaluate(context)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ('"text"', "text"),
        ("'a\\'b\\n\\u00e9'", "a'b\né"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("True and not False", True),
        ("None", None),
        ("[1, 'a', null]", [1, "a", None]),
        ("[]", []),
        ("target", 19.5),
        ("trigger.key", "/device/pi.fake.living/value"),
        ("trigger.value", 18.5),
        ("trigger.from", 20),
        ("trigger.id", "cold"),
        ("trigger.kind", "kv"),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("- -2", 2),
        ("+2", 2),
        ("'ab' + 'cd'", "abcd"),
        ("1 < 2 < 3", True),
        ("3 > 2 > 2", False),
        ("1 == 1.0", True),
        ("true == 1", False),
        ("'1' != 1", True),
        ("[1, true] == [1, true]", True),
        ("'b' >= 'a'", True),
        ("2 in [1, 2]", True),
        ("true in [1]", False),
        ("'iv' in room", True),
        ("3 not in [1, 2]", True),
        ("0 or 'x'", "x"),
        ("0 and 'x'", 0),
        ("not 0", True),
        ("'yes' if limit > 2 else 'no'", "yes"),
        ("1 if false else 2 if false else 3", 3),
        ("kv('/device/{host}.fake.lamp/value') == false", True),
        ("kv('/device/pi.fake.{room}/value') < target", True),
        ("kv('/absent')", None),
        ("kv(trigger.key)", 18.5),
        ("now()", WALL_TS),
        ("between('06:00', '23:30')", True),
        ("between('14:05:30', '14:05:31')", True),
        ("between('14:05:31', '15:00')", False),
        ("between('22:00', '06:00')", False),
        ("between('14:00', '02:00')", True),
        ("between('12:00', '12:00')", False),
        ("weekday()", 4),
        ("hour()", 14),
        ("minute()", 5),
        ("sun('sunset')", SUNSET_TS),
        ("sun('sunrise')", None),
        ("abs(-2.5)", 2.5),
        ("min(3, 1, 2)", 1),
        ("max([1, 4, 2])", 4),
        ("min('b', 'a')", "a"),
        ("round(2.567, 1)", 2.6),
        ("round(2.5)", 3),  # a half away from zero (Python's round: 2)
        ("round(-2.5)", -3),
        ("round(0.125, 2)", 0.13),
        ("round(1250, -2)", 1300),
        ("round(-0.4)", 0),
        ("round(1e300, 15)", 1e300),
        ("int('42')", 42),
        ("int(3.9)", 3),
        ("float('2.5')", 2.5),
        ("str(true) + str(1.5) + str(null)", "true1.5null"),
        ("len('abc') + len([1])", 4),
    ],
)
def test_expression_evaluates_to_its_json_value(text: str, value: JsonValue) -> None:
    assert value_of(text) == value


def test_between_wraps_midnight_in_local_time() -> None:
    late = make_context(wall_ts=WALL_TS + 9 * 3600)  # 23:05:30 local
    assert [value_of(t, late) for t in ("between('22:00', '06:00')", "hour()")] == [
        True,
        23,
    ]


def test_weekday_follows_the_local_date_not_utc() -> None:
    # 23:30 UTC on Thursday is 00:30 on Friday in Berlin
    friday = make_context(wall_ts=WALL_TS + 10 * 3600 + 24.5 * 60)
    assert (value_of("weekday()", friday), value_of("hour()", friday)) == (5, 0)


def test_a_window_over_midnight_holds_from_its_start_to_just_before_its_end() -> None:
    """`between(start, end)` is [start, end), also when it wraps midnight; and the
    weekday turns at local midnight exactly (docs/scenarios.md, the functions)."""

    def at(text: str, local: str) -> JsonValue:
        wall = dt.datetime.fromisoformat(local).replace(tzinfo=BERLIN).timestamp()
        return value_of(text, make_context(wall_ts=wall))

    window = "between('22:00', '06:00')"
    assert at(window, "2026-12-03 21:59:59") is False
    assert at(window, "2026-12-03 22:00:00") is True
    assert at(window, "2026-12-04 00:00:00") is True
    assert at(window, "2026-12-04 05:59:59") is True
    assert at(window, "2026-12-04 06:00:00") is False
    assert at("weekday()", "2026-12-03 23:59:59") == 4  # Thursday
    assert at("weekday()", "2026-12-04 00:00:00") == 5  # Friday
    assert at("between('00:00', '00:01')", "2026-12-04 00:00:00") is True


def test_sun_passes_the_event_and_the_context_time() -> None:
    seen: list[tuple[SunEvent, float]] = []

    def sun(event: SunEvent, wall_ts: float) -> float | None:
        seen.append((event, wall_ts))
        return 1.0

    context = EvalContext(
        wall_ts=5.0,
        tz=CONTEXT.tz,
        variables={},
        trigger={},
        kv=CONTEXT.kv,
        sun=sun,
        rng=CONTEXT.rng,
    )
    assert (value_of("sun('dusk')", context), seen) == (1.0, [(SunEvent.DUSK, 5.0)])


def test_only_a_kv_key_takes_templates_in_an_expression() -> None:
    """docs/scenarios.md (Templates): the key of a kv() names values in braces, an
    expression's other texts are as written (the doc had said that strings in
    conditions name values, and a condition comparing trigger.key with
    '/device/{host}...' was false with no word why)."""
    context = make_context(tree={"/x/pi": 1}, host="pi", variables={"room": "hall"})
    assert compile_expression("kv('/x/{host}')").evaluate(context) == 1
    assert compile_expression("'/x/{host}'").evaluate(context) == "/x/{host}"
    assert compile_expression("'{room}' + '{{'").evaluate(context) == "{room}{{"


def test_expression_reports_source_literal_kv_keys_and_variables() -> None:
    expression = compile_expression(
        "kv('/device/{host}.a/value') > target and kv(trigger.key) != kv('/b') or limit"
    )
    assert (
        expression.source,
        expression.kv_keys(),
        expression.variable_names(),
    ) == (
        "kv('/device/{host}.a/value') > target and kv(trigger.key) != kv('/b') or limit",
        frozenset({"/device/{host}.a/value", "/b"}),
        frozenset({"target", "limit"}),
    )


def test_expression_error_is_a_scenario_error_naming_the_expression() -> None:
    with pytest.raises(ScenarioError) as caught:
        value_of("'a' < 1")
    assert (
        str(caught.value)
        == "expression \"'a' < 1\": cannot compare 'a' < 1 (at offset 4)"
    )


def test_a_long_expressions_fault_shows_the_place_its_offset_names() -> None:
    """Cut at 64 bytes, the text said `(at offset 62)` of a place it did not show:
    one that fits is shown whole; a longer one by the part around its offset, with
    where that part is in the whole."""
    fits = "kv('/device/pi.onewire.living/value') < kv('/house/setpoint') - 0.5"
    with pytest.raises(ExpressionError) as caught:
        value_of(fits)
    assert str(caught.value) == (
        "expression \"kv('/device/pi.onewire.living/value') < kv('/house/setpoint')"
        " - 0.5\": '-' needs a number, got null (at offset 62)"
    )
    lamp = "kv('/device/pi.fake.lamp/value') == false"
    living = "kv('/device/pi.fake.living/value') < kv('/house/setpoint') - 0.5"
    long = " and ".join([lamp] * 6 + [living] + [lamp] * 2)
    with pytest.raises(ExpressionError) as caught:
        value_of(long)
    assert (caught.value.offset, len(long)) == (335, 432)
    assert str(caught.value) == (
        "expression \"…value') == false and kv('/device/pi.fake.living/value') <"
        " kv('/house/setpoint') - 0.5 and kv('/device/pi.fake.lamp/value') == false"
        " and kv('/device/pi.fake.lamp…\" (offsets 255 to 414 of 432 shown):"
        " '-' needs a number, got null (at offset 335)"
    )


@pytest.mark.parametrize(
    ("text", "reason", "offset"),
    [
        ("", "the expression is empty", 0),
        ("  ", "the expression is empty", 0),
        ("x" * 1001, "the expression is longer than 1000 characters", 1000),
        ("1 +", "expected a value, got the end", 3),
        ("(1", "expected ')', got the end", 2),
        ("1 2", "unexpected '2'", 2),
        ("a = 1", "'=' is not allowed (write == to compare)", 2),
        ("hour() > 6 && hour() < 23", "unexpected character '&' (write and)", 11),
        ("a || b", "unexpected character '|' (write or)", 2),
        ("!a", "unexpected character '!' (write not)", 0),
        (
            "a ! = b",
            "unexpected character '!' (write != to compare, no space in it)",
            2,
        ),
        (
            "a !   =b",
            "unexpected character '!' (write != to compare, no space in it)",
            2,
        ),
        # `not` only where a test may start: after an operator, `x == not y` is
        # refused, `x == (not y)` is not
        ("a and !b", "unexpected character '!' (write not)", 6),
        ("(!a)", "unexpected character '!' (write not)", 1),
        ("[1, !a]", "unexpected character '!' (write not)", 4),
        ("x if !y else !z", "unexpected character '!' (write not)", 5),
        ("x == !y", "unexpected character '!' (write (not y))", 5),
        ("x != !y", "unexpected character '!' (write (not y))", 5),
        ("x + !y", "unexpected character '!' (write (not y))", 4),
        ("a ==! b", "unexpected character '!' (write (not b))", 4),
        ("x == !kv('/a')", "unexpected character '!' (write (not …))", 5),
        # a Jinja filter: `or` would compile to something else
        (
            "kv('/a') | float > 20",
            "unexpected character '|' (no filters: write float(…))",
            9,
        ),
        ("a | b", "unexpected character '|' (write or)", 2),
        # a `=` a space away from the rest of its operator: `write ==` gave `y == = 1`
        ("y = = 1", "'=' is not allowed (write == to compare, no space in it)", 2),
        ("x = < 1", "'=' is not allowed (write <=, no space in it)", 2),
        ("x = > 1", "'=' is not allowed (write >=, no space in it)", 2),
        ("y = == 1", "'=' is not allowed (one too many before '==')", 2),
        ("x = <= 1", "'=' is not allowed (one too many before '<=')", 2),
        # a hint that would give a text still wrong is not said: `a not b`,
        # `and a`, `a ==== b`, `a ==< b`
        ("a ! b", "unexpected character '!'", 2),
        ("x == 1 ! y", "unexpected character '!'", 7),
        ("&& a", "unexpected character '&'", 0),
        ("|| a", "unexpected character '|'", 0),
        ("a === b", "'=' is not allowed (one too many after '==')", 4),
        ("a !== b", "'=' is not allowed (one too many after '!=')", 4),
        ("a != = b", "'=' is not allowed (one too many after '!=')", 5),
        ("a =< b", "'=' is not allowed (write <=)", 2),
        ("a => b", "'=' is not allowed (write >=)", 2),
        # a phone's keyboard: the character that looks like raspy's is named
        (
            "kv('/house/mode') == \u2018home\u2019",
            "unexpected character '\u2018' (a typographic quote (U+2018): write ')",
            21,
        ),
        (
            "kv('/house/mode') == \u201chome\u201d",
            "unexpected character '\u201c' (a typographic quote (U+201C): write \")",
            21,
        ),
        (
            "trigger.value \u2212 1",
            "unexpected character '\u2212' (a minus sign (U+2212): write -)",
            14,
        ),
        (
            "trigger.value \u2013 1",
            "unexpected character '\u2013' (an en dash (U+2013): write -)",
            14,
        ),
        (
            "kv('/house/mode\u2019) == 'home'",
            "a string that never ends (a typographic quote (U+2019): write ')",
            26,
        ),
        # a string that never ends is told of a typographic quote only of its own
        # kind, and only when writing it as raspy's ends every string
        ('x == "it\u2019s', "a string that never ends", 5),
        ("x == 'it\u2019s", "a string that never ends", 5),
        ("x == 'it\u2019s' and y == 'b", "a string that never ends", 21),
        (
            "kv(\"/house/mode\u201d) == 'home'",
            'a string that never ends (a typographic quote (U+201D): write ")',
            3,
        ),
        (
            'x == "a\u2019 b\u201d',
            'a string that never ends (a typographic quote (U+201D): write ")',
            5,
        ),
        (
            "kv('/a') == 'b\u2019",
            "a string that never ends (a typographic quote (U+2019): write ')",
            12,
        ),
        # an apostrophe outside a string: writing ' for it starts a string that
        # never ends (`== it's`)
        ("x == it\u2019s", "unexpected character '\u2019' (text goes in quotes)", 7),
        ("a \u2265 1", "unexpected character '\u2265' (write >=)", 2),
        (
            "trigger.value > 21,5",
            "unexpected ',' (a decimal point is '.': write 21.5)",
            18,
        ),
        ("trigger.value > 21, 5", "unexpected ','", 18),
        ("n in 1,2", "unexpected ','", 6),  # a list was meant: `n in 1.2` is wrong
        ("n not in 1,2", "unexpected ','", 10),
        ("x in -1,5", "unexpected ','", 7),  # a sign does not hide the `in`
        ("x in - +1,5", "unexpected ','", 9),
        ("x in 2 - 1,5", "unexpected ',' (a decimal point is '.': write 1.5)", 10),
        ("-1,5 < n", "unexpected ',' (a decimal point is '.': write 1.5)", 2),
        ("a \u2264 1", "unexpected character '\u2264' (write <=)", 2),
        ("a \u2260 1", "unexpected character '\u2260' (write !=)", 2),
        ("(a := 1)", "':=' is not allowed", 3),
        ("9**9**9", "'**' is not allowed", 1),
        ("__import__('os')", "unknown function '__import__'", 0),
        ("open('/etc/passwd')", "unknown function 'open'", 0),
        ("().__class__.__bases__", "empty parentheses '()'", 0),
        (
            "kv.__globals__",
            "attribute access is not allowed (only trigger.<field> and repeat.index)",
            2,
        ),
        (
            "target.real",
            "attribute access is not allowed (only trigger.<field> and repeat.index)",
            6,
        ),
        (
            "'a'.upper()",
            "attribute access is not allowed (only trigger.<field> and repeat.index)",
            3,
        ),
        (
            "kv('/a').x",
            "attribute access is not allowed (only trigger.<field> and repeat.index)",
            8,
        ),
        ("[1, 2][0]", "subscripts are not allowed", 6),
        ("kv('/a')[0]", "subscripts are not allowed", 8),
        ("target(1)", "unknown function 'target'", 0),
        (
            "betwen('06:00', '23:30')",
            "unknown function 'betwen' (did you mean between()?)",
            0,
        ),
        ("hours() > 6", "unknown function 'hours' (did you mean hour()?)", 0),
        ("now()()", "only the listed functions may be called", 5),
        ("lambda: 1", "'lambda' is not allowed", 0),
        ("[x for x in y]", "'for' is not allowed", 3),
        ("x is None", "'is' is not allowed", 2),
        ("import os", "'import' is not allowed", 0),
        ("f'{x}'", "unexpected \"'{x}'\"", 1),
        ("{1: 2}", "unexpected character '{'", 0),
        ("a; b", "unexpected character ';'", 1),
        ("`x`", "unexpected character '`'", 0),
        ("é", "unexpected character 'é'", 0),
        ("'open", "a string that never ends", 0),
        ("'\\x41'", "unknown escape '\\x' in a string", 1),
        ("1abc", "bad number '1a'", 0),
        ("1e999", "number '1e999' is out of range", 0),
        (
            "99999999999999999999",
            "number '99999999999999999999' is out of range (±2**63)",
            0,
        ),
        ("trigger", "expected '.', got the end", 7),
        (
            "trigger.__class__",
            "trigger has only the fields key, value, from, id, kind, by, since, tried, got '__class__'",
            8,
        ),
        (
            "trigger.key.x",
            "attribute access is not allowed (only trigger.<field> and repeat.index)",
            11,
        ),
        ("now(1)", "now() takes 0 arguments, got 1", 0),
        ("kv()", "kv() takes 1 argument, got 0", 0),
        ("round(1, 2, 3)", "round() takes 1 to 2 arguments, got 3", 0),
        ("kv(1)", "kv() needs a key string, got 1", 3),
        (
            "kv('/{0.__class__}')",
            "kv() key: '{' starts no {name} field (write '{{' and '}}' for braces)",
            3,
        ),
        (
            "between('6', '7')",
            "between() needs a time like '06:30' or '23:15:00', got '6'",
            8,
        ),
        (
            "between('06:00', '24:00')",
            "between() needs a time like '06:30' or '23:15:00', got '24:00'",
            17,
        ),
        (
            "sun('noon')",
            "sun() needs one of sunrise, sunset, dawn, dusk, got 'noon'",
            4,
        ),
        ("(" * 40 + "1" + ")" * 40, "the expression nests too deep (over 32)", 32),
        ("not " * 40 + "1", "the expression nests too deep (over 32)", 128),
        ("-" * 40 + "1", "the expression nests too deep (over 32)", 32),
        ("[" * 40 + "]" * 40, "the expression nests too deep (over 32)", 32),
        ("+".join(["1"] * 300), "the expression is too large (over 256 parts)", 257),
        ("[" + ",".join(["1"] * 65) + "]", "too many items (at most 64)", 129),
    ],
)
def test_compile_refuses_with_reason_and_offset(
    text: str, reason: str, offset: int
) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert (caught.value.reason, caught.value.offset, caught.value.source) == (
        reason,
        offset,
        text,
    )


@pytest.mark.parametrize(
    ("text", "reason", "offset"),
    [
        ("'a' < 1", "cannot compare 'a' < 1", 4),
        ("null > 1", "cannot compare null > 1", 5),
        ("1 / 0", "division by zero in 1 / 0", 2),
        ("1 // 0", "division by zero in 1 // 0", 2),
        ("5 % 0", "division by zero in 5 % 0", 2),
        (
            "unknown + 1",
            "unknown variable 'unknown' (text goes in quotes: 'unknown')",
            0,
        ),
        ("'a' + 1", "'+' needs a number, got 'a'", 4),
        ("true + 1", "'+' needs a number, got true", 5),
        ("-room", "unary '-' needs a number, got 'living'", 0),
        ("1 in 'abc'", "'in' a string needs a string, got 1", 2),
        ("1 in 2", "'in' needs a string or a list on the right, got 2", 2),
        ("kv(limit)", "kv() needs a key string, got 3", 0),
        ("kv('/{nope}')", "kv() key: unknown name 'nope'", 0),
        (
            "between(room, '07:00')",
            "between() needs a time like '06:30' or '23:15:00', got 'living'",
            0,
        ),
        (
            "sun(room)",
            "sun() needs one of sunrise, sunset, dawn, dusk, got 'living'",
            0,
        ),
        ("int('x')", "int() cannot read 'x'", 0),
        ("float('nan')", "float() cannot read 'nan'", 0),
        ("float('1e999')", "float() cannot read '1e999'", 0),
        ("int('1_000')", "int() cannot read '1_000'", 0),
        ("float('1_0.5')", "float() cannot read '1_0.5'", 0),
        ("int('\u0661\u0662')", "int() cannot read '\u0661\u0662'", 0),
        ("abs('x')", "abs() needs a number, got 'x'", 0),
        ("min(1, 'a')", "min() needs all numbers or all strings", 0),
        ("max([])", "max() of an empty list", 0),
        ("len(1)", "len() needs a string, list or object, got 1", 0),
        ("round(1.5, 99)", "round() needs digits from -15 to 15, got 99", 0),
        ("9223372036854775807 * 4", "the result is out of range (±2**63)", 20),
        ("1e308 * 10", "the result is not a finite number", 6),
    ],
)
def test_evaluate_faults_are_expression_errors(
    text: str, reason: str, offset: int
) -> None:
    expression = compile_expression(text)
    with pytest.raises(ExpressionError) as caught:
        expression.evaluate(CONTEXT)
    assert (caught.value.reason, caught.value.offset, caught.value.source) == (
        reason,
        offset,
        text,
    )


def test_joined_strings_are_bounded() -> None:
    big = make_context(variables={"s": "x" * 40_000})
    with pytest.raises(ExpressionError) as caught:
        value_of("s + s", big)
    assert caught.value.reason == "the joined string is longer than 65536 characters"


def test_and_or_short_circuit_past_a_fault() -> None:
    assert [value_of("false and 1 / 0"), value_of("true or unknown")] == [False, True]
