"""Hypothesis strategies for whole scenario documents, as the YAML text a user
imports, each drawn with the model the loader must read from it (docs/scenarios.md).

Every part is drawn twice over: what goes into the document (a plain value, later
written out by PyYAML in block or flow style, with comments around) and what
rules.model holds for it. A document built here is valid by construction; the
property tests load its text and compare.

`Generated.open_ended` says whether a run of it may wait for ever (a `wait_until`
without a timeout, a `repeat` with `while`/`until`): the others end once the clock
passes every timeout.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import yaml
from hypothesis import strategies as st

from raspy.devices.template import JsonValue
from raspy.rules import document_yaml, model
from raspy.rules.document_when import reads_nothing, reads_time
from raspy.rules.expr import CompiledExpression, compile_expression

Drawn: TypeAlias = tuple[Any, Any]  # (what the document says, what the model holds)
NAME = "gen"  # the scenario's name: its keys are under /scenario/gen/
KEYS = (  # the keys of the generated tree, as the harness host `hub` spells them
    "/device/hub.fake.t/value",
    "/device/hub.fake.door/value",
    "/out",
    "/scenario/gen/x",
)
EVENTS = ("/event/gen/a", "/event/gen/b", "/event/other")
PATTERNS = (
    "/device/*.fake.t/value",
    "/device/{host}.fake.door/value",
    "/out",
    "/scenario/gen/*",
    "/device/hub.fake.[td]*/value",
)
VARIABLES: dict[str, JsonValue] = {"target": 19.5, "room": "living", "limit": 3}
# expressions that load; some may fail at run time (a null compared), as users' do
EXPRESSIONS = (
    "true",
    "false",
    "trigger.value == null",
    "trigger.value != null and trigger.value > 2",
    "trigger.kind == 'manual'",
    "trigger.id in ['a', 'b']",
    "kv('/device/{host}.fake.t/value') > target",
    "kv('/device/{host}.fake.t/value') != null and kv('/device/hub.fake.t/value') < 18",
    "kv('/out') == 1",
    "kv('/scenario/gen/x') != null",
    "between('06:00', '23:30')",
    "between('22:00', '06:00')",
    "sun('sunset') == null or now() > sun('sunset')",
    "weekday() <= 5",
    "hour() >= 18 or minute() < 30",
    "len(str(trigger.value)) > 1",
    "round(now() / 60) % 2 == 0",
    "abs(limit - 3) < max(1, min(2, 3))",
    "(room if limit > 2 else 'x') == 'living'",
    "int(float('2.5')) == 2 and not false",
    "round(target, -1) >= 10 // 1",
    "random() < 0.5",
    "random(1, 6) >= 1 and random(limit, 10) <= 10",
)
# `expr:` of a set, device or event: a value computed when the action runs
VALUE_EXPRESSIONS = (
    "random()",
    "round(random(1, 6))",
    "random(-2.5, target)",
    "(kv('/out') or 0) + 1",
    "trigger.value",
    "[trigger.kind, random(0, 0)]",
    "str(limit) + room",
    "kv('/device/{host}.fake.t/value')",
    "null",
)
TEMPLATES = (
    "plain",
    "{trigger.value}",
    "{trigger.value:.1f}",
    "at {now} in {room}",
    "{target}",
    "{{literal}} {host}",
    "{trigger.key} was {trigger.from}",
    "{trigger.id}/{trigger.kind}",
    "",
)
# text that YAML would read as something else unless quoted: PyYAML quotes it
TRICKY_TEXT = ("on", "off", "yes", "no", "null", "~", "12:30", "1e3", "0x1F", "-", "#x")


@dataclass(frozen=True, slots=True)
class Generated:
    """A document's text and the scenario it must load as."""

    text: str
    expected: model.Scenario
    open_ended: bool


# --- small values -------------------------------------------------------------------
@functools.cache  # strategies are built once: building them is most of the time
def _duration(low: int = 0, high: int = 400) -> st.SearchStrategy[Drawn]:
    """(written, seconds): `90s`, `1m30s`, `2h`, `250ms`, `1.5s` or a plain number."""

    def written(seconds: int, form: int) -> Drawn:
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        if form == 0:
            return seconds, float(seconds)
        if form == 1:
            return f"{seconds}s", float(seconds)
        if form == 2:
            parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
            text = "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"
            return text, float(seconds)
        if form == 3 and seconds:
            return f"{seconds}.5s", seconds + 0.5
        return f"{seconds * 1000}ms", float(seconds * 1000) * 0.001

    return st.builds(written, st.integers(low, high), st.integers(0, 4))


@functools.cache
def _compiled(source: str) -> CompiledExpression:
    """The model's expression for a drawn source, parsed once per process: the
    drawn sources repeat (150 documents hold ~1,500, ~280 of them distinct), an
    expression compares by its source and is immutable, and the loader under test
    parses its own."""
    return compile_expression(source)


@functools.cache
def _expression() -> st.SearchStrategy[Drawn]:
    base = st.sampled_from(EXPRESSIONS)
    joined = st.recursive(
        base,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
            st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
            st.builds(lambda a: f"not ({a})", inner),
        ),
        max_leaves=3,
    )
    return joined.map(lambda source: (source, _compiled(source)))


@functools.cache
def _value_expression() -> st.SearchStrategy[Drawn]:
    return st.sampled_from(VALUE_EXPRESSIONS).map(
        lambda source: (source, _compiled(source))
    )


@st.composite
def _value_or_expr(draw: st.DrawFn, written: dict[str, Any], optional: bool) -> Drawn:
    """(value, expr) of a set, device or event, written into `written`: a `value:`
    (left out now and then where it is optional) or an `expr:`."""
    how = draw(
        st.sampled_from(["value", "expr", "none"] if optional else ["value", "expr"])
    )
    if how == "expr":
        written["expr"], compiled = draw(_value_expression())
        return None, compiled
    if how == "none":
        return None, None
    value = draw(_json(templates=True))
    written["value"] = value
    return value, None


@functools.cache
def _json(templates: bool) -> st.SearchStrategy[JsonValue]:
    """A JSON value; its strings are good templates when the field takes them."""
    texts = st.sampled_from(TEMPLATES if templates else (*TEMPLATES, "{x", "}"))
    leaves: st.SearchStrategy[JsonValue] = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**40), 2**40),
        # 1e-05 too (no dot, as JSON writes it), which YAML 1.1 alone reads as text
        st.floats(allow_nan=False, allow_infinity=False),
        texts,
        st.sampled_from(TRICKY_TEXT),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(["a", "b", "on", "1"]), inner, max_size=3),
        ),
        max_leaves=5,
    )


def _with_id(
    entry: dict[str, Any], build: Callable[[str], model.Trigger], trigger_id: str
) -> Drawn:
    if trigger_id:
        entry["id"] = trigger_id
    return entry, build(trigger_id)


_IDS = st.sampled_from(["", "a", "b", "cold spell"])


# --- triggers -----------------------------------------------------------------------
@st.composite
def _kv_trigger(draw: st.DrawFn) -> Drawn:
    pattern = draw(st.sampled_from(PATTERNS))
    entry: dict[str, Any] = {"kv": pattern}
    below = above = None
    if draw(st.booleans()):
        above = draw(st.integers(-20, 20))
        entry["above"] = above
    if draw(st.booleans()):
        below = draw(
            st.integers(-20, 20) if above is None else st.integers(above + 1, 40)
        )
        entry["below"] = below
    # mostly values the tree is given in the engine tests, so that `to:` is reached
    values = st.sampled_from(["open", "closed", 0, 1, True, None]) | _json(False)
    has_to, has_from = draw(st.booleans()), draw(st.booleans())
    to = draw(values) if has_to else None
    from_ = draw(values) if has_from else None
    if has_to:
        entry["to"] = to
    if has_from:
        entry["from"] = from_
    hold_s = 0.0
    if draw(st.booleans()):
        written, hold_s = draw(_duration(0, 120))
        entry["for"] = written
    return _with_id(
        entry,
        lambda trigger_id: model.KvTrigger(
            pattern,
            below=None if below is None else float(below),
            above=None if above is None else float(above),
            to=to,
            from_=from_,
            has_to=has_to,
            has_from=has_from,
            for_s=hold_s,
            id=trigger_id,
        ),
        draw(_IDS),
    )


@st.composite
def _time_trigger(draw: st.DrawFn) -> Drawn:
    trigger_id = draw(_IDS)
    kind = draw(st.sampled_from(["cron", "at", "every", "sun"]))
    if kind == "cron":
        expression = draw(
            st.sampled_from(
                ["* * * * *", "*/5 * * * *", "0 7 * * 1-5", "30 2 * * *", "@hourly"]
            )
        )
        return _with_id(
            {"cron": expression},
            lambda i: model.CronTrigger(expression, i),
            trigger_id,
        )
    if kind == "at":
        hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
        second = draw(st.none() | st.integers(0, 59))
        text = f"{hour:02d}:{minute:02d}" + ("" if second is None else f":{second:02d}")
        seconds = hour * 3600 + minute * 60 + (second or 0)
        return _with_id({"at": text}, lambda i: model.AtTrigger(seconds, i), trigger_id)
    if kind == "every":
        written, interval = draw(_duration(1, 7200))
        return _with_id(
            {"every": written}, lambda i: model.EveryTrigger(interval, i), trigger_id
        )
    event = draw(st.sampled_from(list(model.SunEvent)))
    entry: dict[str, Any] = {"sun": event.value}
    offset = 0.0
    if draw(st.booleans()):
        sign = draw(st.sampled_from(["-", "+", ""]))
        written, magnitude = draw(_duration(0, 12 * 3600 - 1))
        entry["offset"] = f"{sign}{written}"
        offset = -magnitude if sign == "-" else magnitude
    return _with_id(entry, lambda i: model.SunTrigger(event, offset, i), trigger_id)


@st.composite
def _other_trigger(draw: st.DrawFn) -> Drawn:
    trigger_id = draw(_IDS)
    if draw(st.booleans()):
        pattern = draw(st.sampled_from(["/event/gen/*", "/event/gen/a", "/event/*"]))
        return _with_id(
            {"event": pattern}, lambda i: model.EventTrigger(pattern, i), trigger_id
        )
    return _with_id({"startup": True}, model.StartupTrigger, trigger_id)


TRIGGERS: st.SearchStrategy[Drawn] = st.one_of(
    _kv_trigger(), _time_trigger(), _other_trigger()
)


# --- actions ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Action:
    written: dict[str, Any]
    action: model.Action
    open_ended: bool = False


def _plain(written: dict[str, Any], action: model.Action) -> _Action:
    return _Action(written, action)


@st.composite
def _simple_action(draw: st.DrawFn, finite: bool) -> _Action:
    kind = draw(
        st.sampled_from(
            [
                *("device", "set", "delete", "call", "http", "wait", "wait_until"),
                "event",
                *("run", "stop", "log", "condition"),
            ]
        )
    )
    if kind == "device":
        device = draw(st.sampled_from(["{host}.fake.lamp", "hub.fake.{room}", "a.b.c"]))
        command = draw(st.sampled_from(["on", "off", "level", "{trigger.value}"]))
        written: dict[str, Any] = {"device": device, "action": command}
        value, expr = draw(_value_or_expr(written, optional=True))
        timeout = 5.0
        if draw(st.booleans()):
            written["timeout"], timeout = draw(_duration(1, 30))
        return _plain(
            written, model.DeviceAction(device, command, value, timeout, expr)
        )
    if kind == "set":
        key = draw(st.sampled_from([*KEYS, "/scenario/gen/{trigger.kind}"]))
        written = {"set": key}
        value, expr = draw(_value_or_expr(written, optional=False))
        ttl = 0.0
        if draw(st.booleans()):
            written["ttl"], ttl = draw(_duration(1, 600))
        return _plain(written, model.SetAction(key, value, ttl, expr))
    if kind == "delete":
        key = draw(st.sampled_from(KEYS))
        return _plain({"delete": key}, model.DeleteAction(key))
    if kind == "call":
        service = draw(st.sampled_from(["{host}.echo", "titanic.reply", "x"]))
        written = {"call": service}
        body: tuple[str, ...] = ()
        if draw(st.booleans()):
            frames = draw(st.lists(st.sampled_from(TEMPLATES), max_size=3))
            written["body"], body = frames, tuple(frames)
        titanic = draw(st.booleans())
        if titanic or draw(st.booleans()):
            written["titanic"] = titanic
        timeout = 5.0
        if draw(st.booleans()):
            written["timeout"], timeout = draw(_duration(1, 30))
        return _plain(written, model.CallAction(service, body, titanic, timeout))
    if kind == "http":
        return draw(_http_action())
    if kind == "wait":
        written_s, seconds = draw(_duration(0, 90))
        if draw(st.booleans()):
            return _plain({"wait": written_s}, model.WaitAction(seconds))
        written_max, most = draw(_duration(0, 120))
        low, high = sorted(
            [(seconds, written_s), (most, written_max)], key=lambda p: p[0]
        )
        return _plain(
            {"wait": {"min": low[1], "max": high[1]}},
            model.WaitAction(low[0], high[0]),
        )
    if kind == "wait_until":
        # one that nothing would test again (no key, no time) is refused
        source, compiled = draw(_expression().filter(lambda d: not reads_nothing(d[1])))
        written = {"wait_until": source}
        timeout_s: float | None = None
        if finite or draw(st.booleans()):
            written["timeout"], timeout_s = draw(_duration(1, 300))
        go_on = draw(st.booleans())
        if go_on or draw(st.booleans()):
            written["continue_on_timeout"] = go_on
        return _Action(
            written,
            model.WaitUntilAction(compiled, timeout_s, go_on, reads_time(compiled)),
            open_ended=timeout_s is None,
        )
    if kind == "event":
        key = draw(st.sampled_from([*EVENTS, "/event/gen/{trigger.kind}"]))
        written = {"event": key}
        value, expr = draw(_value_or_expr(written, optional=True))
        if "value" not in written and expr is None:
            value = True  # no value written: the event says true
        return _plain(written, model.EventAction(key, value, expr))
    if kind in ("run", "stop"):
        name = draw(st.sampled_from([NAME, "other", "{room}"]))
        built = model.RunAction(name) if kind == "run" else model.StopAction(name)
        return _plain({kind: name}, built)
    if kind == "log":
        message = draw(st.sampled_from(TEMPLATES))
        written = {"log": message}
        level = "info"
        if draw(st.booleans()):
            level = draw(st.sampled_from(["debug", "info", "warning", "error"]))
            written["level"] = level
        return _plain(written, model.LogAction(message, level))
    source, compiled = draw(_expression())
    return _plain({"condition": source}, model.ConditionAction(compiled))


@st.composite
def _http_action(draw: st.DrawFn) -> _Action:
    """An `http:` action: a URL written out or templated, any method (a GET with no
    body), a body, an expr or neither, headers, a timeout up to its 60 s."""
    url = draw(
        st.sampled_from(
            ["https://ntfy.sh/gen", "http://127.0.0.1:9/x?y={room}", "{room}/x"]
        )
    )
    written: dict[str, Any] = {"http": url}
    method = draw(st.sampled_from(["POST", "PUT", "GET", "post"]))
    if method != "POST" or draw(st.booleans()):
        written["method"] = method
    body: JsonValue = None
    has_body = False
    expr = None
    if method.upper() != "GET":
        how = draw(st.sampled_from(["body", "expr", "none"]))
        if how == "body":
            body, has_body = draw(_json(templates=True)), True
            written["body"] = body
        elif how == "expr":
            written["expr"], expr = draw(_value_expression())
    headers: tuple[tuple[str, str], ...] = ()
    if draw(st.booleans()):
        headers = tuple(
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(["Title", "X-Priority", "Authorization"]),
                        st.sampled_from(TEMPLATES[:-1]),
                    ),
                    max_size=3,
                    unique_by=lambda pair: pair[0],
                )
            )
        )
        written["headers"] = dict(headers)
    timeout = 10.0
    if draw(st.booleans()):
        # 59.5s at most (`59.5s` is one of _duration's forms): within the 60 s allowed
        written["timeout"], timeout = draw(_duration(1, 59))
    return _plain(
        written,
        model.HttpAction(url, method.upper(), body, has_body, headers, timeout, expr),
    )


def _block(inner: st.SearchStrategy[_Action]) -> st.SearchStrategy[list[_Action]]:
    return st.lists(inner, min_size=1, max_size=3)


def _nested(
    finite: bool,
) -> Callable[[st.SearchStrategy[_Action]], st.SearchStrategy[_Action]]:
    def extend(inner: st.SearchStrategy[_Action]) -> st.SearchStrategy[_Action]:
        return st.one_of(
            _repeat(_block(inner), finite), _choose(_block(inner)), _if(_block(inner))
        )

    return extend


@st.composite
def _repeat(
    draw: st.DrawFn, blocks: st.SearchStrategy[list[_Action]], finite: bool
) -> _Action:
    body = draw(blocks)
    actions = tuple(a.action for a in body)
    inner_open = any(a.open_ended for a in body)
    how = draw(st.sampled_from(["count"] if finite else ["count", "while", "until"]))
    shape: dict[str, Any] = {"actions": [a.written for a in body]}
    if how == "count":
        count = draw(st.integers(1, 5))
        shape["count"] = count
        return _Action(
            {"repeat": shape}, model.RepeatAction(actions, count=count), inner_open
        )
    source, compiled = draw(_expression())
    shape[how] = source
    if how == "while":
        built = model.RepeatAction(actions, while_=compiled)
    else:
        built = model.RepeatAction(actions, until=compiled)
    return _Action({"repeat": shape}, built, open_ended=True)


@st.composite
def _choose(draw: st.DrawFn, blocks: st.SearchStrategy[list[_Action]]) -> _Action:
    branches = []
    written: list[dict[str, Any]] = []
    open_ended = False
    for _ in range(draw(st.integers(0, 2))):
        source, compiled = draw(_expression())
        then = draw(blocks)
        open_ended = open_ended or any(a.open_ended for a in then)
        written.append({"if": source, "then": [a.written for a in then]})
        branches.append(model.Branch(compiled, tuple(a.action for a in then)))
    entry: dict[str, Any] = {"choose": written}
    otherwise: tuple[model.Action, ...] = ()
    if not branches or draw(st.booleans()):
        flat = draw(blocks) if draw(st.booleans()) else []  # `else: []` loads too
        entry["else"] = [a.written for a in flat]
        otherwise = tuple(a.action for a in flat)
        open_ended = open_ended or any(a.open_ended for a in flat)
    return _Action(entry, model.ChooseAction(tuple(branches), otherwise), open_ended)


@st.composite
def _if(draw: st.DrawFn, blocks: st.SearchStrategy[list[_Action]]) -> _Action:
    source, compiled = draw(_expression())
    then = draw(blocks)
    entry: dict[str, Any] = {"if": source, "then": [a.written for a in then]}
    sides = [then]
    otherwise: tuple[model.Action, ...] = ()
    if draw(st.booleans()):
        flat = draw(blocks) if draw(st.booleans()) else []  # `else: []` loads too
        entry["else"] = [a.written for a in flat]
        otherwise = tuple(a.action for a in flat)
        sides.append(flat)
    open_ended = any(a.open_ended for side in sides for a in side)
    built = model.IfAction(compiled, tuple(a.action for a in then), otherwise)
    return _Action(entry, built, open_ended)


ACTIONS: st.SearchStrategy[_Action] = st.recursive(
    _simple_action(False), _nested(False), max_leaves=10
)
FINITE_ACTIONS: st.SearchStrategy[_Action] = st.recursive(
    _simple_action(True), _nested(True), max_leaves=10
)


# --- documents ----------------------------------------------------------------------
@st.composite
def documents(draw: st.DrawFn, *, finite: bool = False) -> Generated:
    """A valid document (`finite`: none of its runs waits for ever)."""
    document: dict[str, Any] = {"name": NAME}
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        document["description"] = fields["description"] = draw(
            st.sampled_from(["", "Heater on when cold", "é ünïcode ✓", "on"])
        )
    if draw(st.booleans()):
        document["enabled"] = fields["enabled"] = draw(st.booleans())
    mode = draw(st.sampled_from(list(model.Mode)))
    if mode is not model.Mode.SINGLE or draw(st.booleans()):
        document["mode"] = mode.value
    fields["mode"] = mode
    if mode in (model.Mode.QUEUED, model.Mode.PARALLEL) and draw(st.booleans()):
        document["max"] = fields["max_runs"] = draw(st.integers(1, 4))
    if draw(st.booleans()):
        document["variables"] = dict(VARIABLES)
    fields["variables"] = dict(VARIABLES) if "variables" in document else {}
    triggers = draw(st.lists(TRIGGERS, max_size=6))
    if draw(st.booleans()) or triggers:
        document["triggers"] = [written for written, _ in triggers]
    conditions: list[Drawn] = []  # none at all often: they keep runs from starting
    if draw(st.booleans()):
        conditions = draw(st.lists(_expression(), max_size=2))
    if conditions:
        document["conditions"] = [written for written, _ in conditions]
    elif draw(st.booleans()):
        document["conditions"] = []
    actions = draw(
        st.lists(FINITE_ACTIONS if finite else ACTIONS, min_size=1, max_size=5)
    )
    document["actions"] = [a.written for a in actions]
    uses_variables = "{room}" in repr(document) or any(
        word in repr(document) for word in ("target", "limit")
    )
    if uses_variables and "variables" not in document:
        document["variables"] = dict(VARIABLES)
        fields["variables"] = dict(VARIABLES)
    keys = list(document)
    order = draw(st.permutations(keys))
    text = _written({key: document[key] for key in order}, draw)
    expected = model.Scenario(
        triggers=tuple(trigger for _, trigger in triggers),
        actions=tuple(a.action for a in actions),
        conditions=tuple(compiled for _, compiled in conditions),
        source_text=text,
        name=NAME,
        **fields,
    )
    return Generated(text, expected, any(a.open_ended for a in actions))


class _Dumper(yaml.SafeDumper):
    """Quotes a text that raspy reads as a number (`1e3`, as JSON has it), which
    YAML 1.1, and so PyYAML, would write plain."""


_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    document_yaml.EXPONENT_FLOAT,
    document_yaml.NUMBER_STARTS,
)


def _written(document: dict[str, Any], draw: st.DrawFn) -> str:
    """The document as YAML: block or flow style, any width, maybe as JSON, with a
    comment and a document start or end marker now and then."""
    style = draw(st.sampled_from(["block", "flow", "mixed", "json"]))
    if style == "json":
        text = json.dumps(document, ensure_ascii=draw(st.booleans()), indent=2)
    else:
        text = yaml.dump(
            document,
            Dumper=_Dumper,
            default_flow_style={"block": False, "flow": True, "mixed": None}[style],
            sort_keys=False,
            allow_unicode=draw(st.booleans()),
            width=draw(st.sampled_from([40, 80, 1000])),
            explicit_start=draw(st.booleans()),
        )
    if draw(st.booleans()):
        text = f"# generated\n{text}"
    if not draw(st.booleans()):
        text = text.rstrip("\n")
    return text
