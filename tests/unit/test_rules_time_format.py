"""Times in messages: a template field's `{trigger.value:%H:%M}` and the expression
function `time_text(t, '%H:%M')` write epoch seconds as the hub's local time
(docs/scenarios.md "Templates")."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.expr_context import WALL_TS, make_context

from raspy.devices.template import JsonValue
from raspy.rules.document import validate_scenario
from raspy.rules.expr import ExpressionError, compile_expression
from raspy.rules.template import (
    Names,
    TemplateError,
    context_names,
    fill,
    parse,
    render,
    render_in,
)
from raspy.rules.template_field import Field
from raspy.rules.time_format import (
    DIRECTIVES,
    MAX_FORMAT_CHARS,
    TimeFormat,
    TimeFormatError,
    parse_time_format,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def _utc(text: str) -> float:
    """An instant written in UTC, as epoch seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _at(value: JsonValue, text: str, tz: ZoneInfo = BERLIN) -> str:
    return render(text, Names({"t": value}, tz, WALL_TS))


# --- the directives ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "written"),
    [
        # Thursday 2026-12-03 14:05:30 in Berlin (13:05:30 UTC), the 337th day
        ("%H:%M", "14:05"),
        ("%H:%M:%S", "14:05:30"),
        ("%a %d %b %H:%M", "Thu 03 Dec 14:05"),
        ("%A %d %B %Y", "Thursday 03 December 2026"),
        ("%d.%m.%y", "03.12.26"),
        ("%j", "337"),
        ("%I:%M %p", "02:05 PM"),
        ("%Z %z", "CET +0100"),
        ("%H%%", "14%"),
        ("%%H", "%H"),  # a percent sign, then the letter as text
        ("%H h", "14 h"),
    ],
)
def test_each_directive_writes_the_hubs_local_time(spec: str, written: str) -> None:
    assert _at(WALL_TS, f"{{t:{spec}}}") == written


@pytest.mark.parametrize(
    ("utc", "written"),
    [
        ("2026-12-03T23:05:00", "12:05 AM"),  # the hour after midnight is 12 AM
        ("2026-12-03T10:59:59", "11:59 AM"),
        ("2026-12-03T11:00:00", "12:00 PM"),  # noon is 12 PM
        ("2026-12-03T12:30:00", "01:30 PM"),
    ],
)
def test_the_12_hour_clock_writes_12_for_the_hours_after_midnight_and_noon(
    utc: str, written: str
) -> None:
    assert _at(_utc(utc), "{t:%I:%M %p}") == written


@pytest.mark.parametrize(
    ("utc", "written"),
    [
        # Berlin springs forward at 01:00 UTC on 29 March 2026: 02:00 CET is 03:00 CEST
        ("2026-03-29T00:30:00", "Sun 29 Mar 01:30 CET +0100"),
        ("2026-03-29T00:59:59", "Sun 29 Mar 01:59 CET +0100"),
        ("2026-03-29T01:00:00", "Sun 29 Mar 03:00 CEST +0200"),
        ("2026-03-29T01:30:00", "Sun 29 Mar 03:30 CEST +0200"),
        # and falls back at 01:00 UTC on 25 October: 02:30 comes twice, %Z tells which
        ("2026-10-25T00:30:00", "Sun 25 Oct 02:30 CEST +0200"),
        ("2026-10-25T01:30:00", "Sun 25 Oct 02:30 CET +0100"),
    ],
)
def test_a_time_on_the_day_the_clocks_change_is_the_local_time_of_that_moment(
    utc: str, written: str
) -> None:
    assert _at(_utc(utc), "{t:%a %d %b %H:%M %Z %z}") == written


def test_the_zone_is_the_hubs_as_the_run_knows_it() -> None:
    """The same instant in another `[core] timezone` (the run's context.tz)."""
    context = make_context(trigger={"value": _utc("2026-07-04T16:00:00")})
    assert render_in("{trigger.value:%H:%M %Z}", context) == "18:00 CEST"
    names = Names({"t": _utc("2026-07-04T16:00:00")}, NEW_YORK, WALL_TS)
    assert render("{t:%H:%M %Z %z}", names) == "12:00 EDT -0400"


def test_a_fraction_of_a_second_is_cut_not_rounded_up() -> None:
    """An event's time has a fraction (1765051980.2): 22:12:59.9 is still 22:12."""
    assert _at(_utc("2026-12-06T21:12:59") + 0.9, "{t:%H:%M:%S}") == "22:12:59"


# --- what a field writes ------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "written"),
    [
        (None, "null"),  # no value: written as usual, as :.Nf does
        (True, "true"),  # true is not a number
        ("soon", "soon"),
        ([1], "[1]"),
        (10**400, "1" + "0" * 400),  # too big for a float: as itself
        (1e20, "1e+20"),  # past the year 9999: no calendar shows it
        (-1e20, "-1e+20"),
    ],
)
def test_anything_but_a_time_is_written_as_usual(
    value: JsonValue, written: str
) -> None:
    assert _at(value, "{t:%H:%M}") == written


def test_a_time_field_alone_in_a_value_gives_text_and_anything_else_keeps_its_type() -> (
    None
):
    names = Names({"t": WALL_TS, "n": None, "x": 1e20}, BERLIN, WALL_TS)
    assert fill("{t:%H:%M}", names) == "14:05"
    assert fill({"at": "{t:%H:%M}", "list": ["{n:%H}"]}, names) == {
        "at": "14:05",
        "list": [None],
    }
    assert fill("{x:%H:%M}", names) == 1e20
    assert fill("{t:.0f}", names) == 1_796_303_130  # the decimals as before


def test_now_stays_iso_and_may_take_a_time_format_too() -> None:
    context = make_context()
    names = context_names(context)
    assert render("{now}", names) == "2026-12-03T14:05:30+01:00"
    assert render("{now:%H:%M}", names) == "14:05"
    assert fill("{now:%a %H:%M}", names) == "Thu 14:05"
    assert render_in("{now} {now:%H:%M}", context) == "2026-12-03T14:05:30+01:00 14:05"


def test_a_time_from_names_without_the_hubs_zone_is_no_guess() -> None:
    """A key filled at import (the routing of its scenario's keys) has no zone: a
    time in it is known only when the scenario runs, never written in UTC."""
    with pytest.raises(TemplateError) as caught:
        render("/x/{t:%H}", {"t": WALL_TS})
    assert (caught.value.reason, caught.value.offset) == (
        "the time of {t} is written only when the scenario runs",
        3,
    )
    assert render("/x/{host:%H}", {"host": "pi"}) == "/x/pi"  # no number: as usual


# --- the refusals -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "reason", "offset"),
    [
        (
            "at {trigger.value:%H:%q}",
            "the time format of {trigger.value}: unknown time directive '%q' (the"
            f" directives are {DIRECTIVES})",
            21,
        ),
        (
            "{t:%-H}",
            "the time format of {t}: the flag of '%-H' is not portable: write the"
            f" directive without it (the directives are {DIRECTIVES})",
            3,
        ),
        (
            "{t:%H %_d}",
            "the time format of {t}: the flag of '%_d' is not portable: write the"
            f" directive without it (the directives are {DIRECTIVES})",
            6,
        ),
        (
            "{t:%H:%}",
            "the time format of {t}: a '%' ends the time format (write '%%' for a"
            " percent sign)",
            6,
        ),
        (
            "{t:%c}",  # the locale's whole date: not one of the fixed list
            "the time format of {t}: unknown time directive '%c' (the directives are"
            f" {DIRECTIVES})",
            3,
        ),
        (
            "{t:%H{x}",
            "the time format of {t}: a time format holds no '{' (text around it goes"
            " outside the braces)",
            5,
        ),
        (
            "{t:%" + "H" * MAX_FORMAT_CHARS + "}",
            f"the time format of {{t}}: a time format is at most {MAX_FORMAT_CHARS}"
            f" characters, got {MAX_FORMAT_CHARS + 1}",
            3 + MAX_FORMAT_CHARS,
        ),
    ],
)
def test_a_bad_time_format_is_refused_naming_it_at_its_place(
    text: str, reason: str, offset: int
) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(text)
    assert (caught.value.reason, caught.value.offset) == (reason, offset)


def test_a_format_of_the_longest_length_writes_a_bounded_text() -> None:
    spec = "%A" * (MAX_FORMAT_CHARS // 2)
    written = _at(WALL_TS, f"{{t:{spec}}}")
    assert written == "Thursday" * (MAX_FORMAT_CHARS // 2)


# --- time_text() in expressions -----------------------------------------------------
def test_time_text_writes_as_the_template_does() -> None:
    context = make_context(trigger={"value": _utc("2026-03-29T01:30:00")})
    expression = compile_expression("'since ' + time_text(trigger.value, '%H:%M %Z')")
    assert expression.evaluate(context) == "since 03:30 CEST"
    assert compile_expression("time_text(now(), '%a')").evaluate(context) == "Thu"


@pytest.mark.parametrize(
    ("source", "reason", "offset"),
    [
        (
            "time_text(now(), '%k')",
            "time_text() format: unknown time directive '%k' (the directives are"
            f" {DIRECTIVES})",
            17,
        ),
        (
            "time_text(now(), 5)",
            "time_text() needs a format such as '%H:%M', got 5",
            17,
        ),
        ("time_text(now())", "time_text() takes 2 arguments, got 1", 0),
    ],
)
def test_time_text_refuses_a_bad_format_at_import(
    source: str, reason: str, offset: int
) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert (caught.value.reason, caught.value.offset) == (reason, offset)


@pytest.mark.parametrize(
    ("t", "reason"),
    [
        (None, "time_text() needs a time (epoch seconds), got null"),
        ("noon", "time_text() needs a time (epoch seconds), got 'noon'"),
        (1e20, "time_text() cannot show a large number as a time"),
    ],
)
def test_time_text_of_anything_but_a_time_is_a_fault(t: JsonValue, reason: str) -> None:
    expression = compile_expression("time_text(trigger.value, '%H:%M')")
    with pytest.raises(ExpressionError) as caught:
        expression.evaluate(make_context(trigger={"value": t}))
    assert caught.value.reason == reason


# --- hypothesis ---------------------------------------------------------------------
_YEAR_1000 = datetime(1000, 1, 1, tzinfo=UTC).timestamp()
_YEAR_9999 = datetime(9999, 12, 30, tzinfo=UTC).timestamp()
_SPEC_TEXT = st.text(alphabet=st.sampled_from("%HMSdmyYaAbBjpIZz-_0^#Eq{}: é\n"))


@settings(max_examples=400, deadline=None)
@given(_SPEC_TEXT | st.text(max_size=80))
def test_any_format_text_is_a_format_or_a_typed_refusal(spec: str) -> None:
    """Hypothesis: any text parses or is refused with TimeFormatError at a place
    inside it; a format that parses writes any time as text, of a bounded length."""
    parsed: TimeFormat | None = None
    refused: TimeFormatError | None = None
    try:
        parsed = parse_time_format(spec)
    except TimeFormatError as error:
        refused = error
    if refused is not None:
        assert 0 <= refused.offset < len(spec)
        return
    assert parsed is not None
    written = parsed.text(WALL_TS, BERLIN)
    assert written is not None
    assert len(written) <= 9 * len(spec)


@settings(max_examples=300, deadline=None)
@given(
    _SPEC_TEXT,
    st.none() | st.floats() | st.integers() | st.booleans() | st.text(max_size=4),
)
def test_any_time_field_renders_or_is_refused_with_a_template_error(
    spec: str, value: JsonValue
) -> None:
    """Hypothesis: `{t:%…}` of any text and any value renders to text, or the
    format is refused as a TemplateError at a place inside the template."""
    text = f"{{t:%{spec}}}"
    written: str | None = None
    refused: TemplateError | None = None
    try:
        written = render(text, Names({"t": value}, BERLIN, WALL_TS))
    except TemplateError as error:  # a bad format, or a `}{x}` in the text
        refused = error
    if refused is not None:
        assert 0 <= refused.offset < len(text)
        return
    assert isinstance(written, str)
    field = parse(text)[0]
    assert isinstance(field, Field)
    assert field.clock is not None


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=_YEAR_1000, max_value=_YEAR_9999))
def test_any_time_a_calendar_shows_is_written_as_strftime_would(when: float) -> None:
    """Hypothesis: our own writer agrees with the C library's strftime on the
    numbers and the English names (years of four digits, where both write the same)."""
    spec = "%Y-%m-%d %H:%M:%S %j %y %I %p %a %A %b %B %z %Z %%"
    local = datetime.fromtimestamp(when, BERLIN)
    assert parse_time_format(spec).text(when, BERLIN) == local.strftime(spec)


def test_an_import_refuses_a_bad_time_format_at_its_line_and_column() -> None:
    text = (
        "name: a\nactions:\n"
        '  - log: "door at {trigger.value:%H:%q}"\n'
        "  - event: /event/told\n"
        '    value: {at: "{trigger.since:%-H}"}\n'
        "  - set: /a\n"
        "    expr: \"time_text(now(), '%H %c')\"\n"
        '  - log: "{now:%a %d %b %H:%M}, {trigger.since:%H:%M}"\n'
    )
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:3:37: actions[0].log: the time format of {trigger.value}: unknown"
        f" time directive '%q' (the directives are {DIRECTIVES})",
        "s.yaml:5:33: actions[1].value.at: the time format of {trigger.since}: the"
        " flag of '%-H' is not portable: write the directive without it (the"
        f" directives are {DIRECTIVES})",
        "s.yaml:7:29: actions[2].expr: time_text() format: unknown time directive"
        f" '%c' (the directives are {DIRECTIVES})",
    ]
