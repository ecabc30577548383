"""Bad scenario documents are refused whole, each problem as `file:line:col: what is
wrong` (issue #11: "A bad document is refused whole with file:line:col")."""

from __future__ import annotations

import pytest

from raspy.errors import ScenarioError
from raspy.rules.document import (
    DocumentError,
    Problem,
    load_scenario,
    validate_scenario,
)

OK_ACTIONS = "actions: [{wait: 1s}]\n"

CASES: list[tuple[str, str, list[str]]] = [
    ("empty", "", ["s.yaml:1:1: the document is empty"]),
    ("comment only", "# nothing\n", ["s.yaml:1:1: the document is empty"]),
    ("a list", "- a\n", ["s.yaml:1:1: expected a mapping, got a list"]),
    ("a scalar", "hello\n", ["s.yaml:1:1: expected a mapping, got text 'hello'"]),
    (
        "unknown key with a suggestion",
        "name: a\ntrigger: []\n" + OK_ACTIONS,
        ["s.yaml:2:1: unknown key 'trigger' (did you mean 'triggers'?)"],
    ),
    (
        "unknown key",
        "name: a\nfrob: 1\n" + OK_ACTIONS,
        ["s.yaml:2:1: unknown key 'frob'"],
    ),
    (
        "a key of another kind of trigger says which kinds take it",
        "name: a\ntriggers:\n  - at: '18:00'\n    for: 5m\n"
        "  - every: 1h\n    offset: 5m\n  - sun: dusk\n    below: 1\n" + OK_ACTIONS,
        [
            "s.yaml:4:5: triggers[0]: unknown key 'for' (for: belongs to a kv or "
            "when trigger)",
            "s.yaml:6:5: triggers[1]: unknown key 'offset' (offset: belongs to a sun "
            "trigger)",
            "s.yaml:8:5: triggers[2]: unknown key 'below' (below: belongs to a kv "
            "trigger)",
        ],
    ),
    (
        "missing keys",
        "description: x\n",
        ["s.yaml:1:1: missing key 'actions'", "s.yaml:1:1: missing key 'name'"],
    ),
    (
        "bad name",
        "name: Heat Living\n" + OK_ACTIONS,
        [
            "s.yaml:1:7: name: expected a name matching [a-z0-9_-]{1,64}, got 'Heat Living'"
        ],
    ),
    (
        "name not text",
        "name: 5\n" + OK_ACTIONS,
        ["s.yaml:1:7: name: expected text, got 5"],
    ),
    (
        "a bare on, off, yes read as YAML's booleans are named as written",
        "name: a\nactions:\n  - {device: '{host}.fake.lamp', action: Off}\n"
        "  - {device: '{host}.fake.lamp', action: yes}\n"
        "  - {device: '{host}.fake.lamp', action: true}\n",
        [
            "s.yaml:3:42: actions[0].action: expected text, got false "
            "(a bare Off is YAML's false: quote it, 'Off')",
            "s.yaml:4:42: actions[1].action: expected text, got true "
            "(a bare yes is YAML's true: quote it, 'yes')",
            "s.yaml:5:42: actions[2].action: expected text, got true",
        ],
    ),
    (
        "the quoting fix only where any text goes: a quoted word is refused elsewhere",
        "name: a\ntriggers:\n  - startup: off\n  - {kv: /a, above: on}\n"
        "actions:\n  - {log: x, level: on}\n  - {set: /a, value: 1, on: 2}\n",
        [
            "s.yaml:3:14: triggers[0].startup: expected true (startup: true), got "
            "false (a bare off is YAML's false)",
            "s.yaml:4:21: triggers[1].above: expected a number, got true (a bare on "
            "is YAML's true)",
            "s.yaml:6:21: actions[0].level: expected one of debug, info, warning, "
            "error, got true (a bare on is YAML's true)",
            "s.yaml:7:25: actions[1]: a key must be text, got true (a bare on is "
            "YAML's true: quote it, 'on')",
        ],
    ),
    (
        "duplicate key",
        "name: a\nname: b\n" + OK_ACTIONS,
        ["s.yaml:2:1: name: duplicate key"],
    ),
    (
        "duplicate and non-text keys do not hide other problems",
        "name: a\nname: b\n1: x\nmode: x\n" + OK_ACTIONS,
        [
            "s.yaml:2:1: name: duplicate key",
            "s.yaml:3:1: a key must be text, got 1",
            "s.yaml:4:7: mode: expected one of single, restart, queued, parallel, got 'x'",
        ],
    ),
    (
        "duplicate key in a value",
        "name: a\nactions: [{set: /a, value: {x: 1, x: 2}}]\n",
        ["s.yaml:2:35: actions[0].value.x: duplicate key"],
    ),
    (
        "python tag",
        "name: a\nactions: !!python/object/apply:os.system ['ls']\n",
        ["s.yaml:2:10: YAML: the tag '!!python/object/apply:os.system' is not allowed"],
    ),
    (
        "python name tag in a value",
        "name: a\nactions: [{set: /a, value: !!python/name:os.system ''}]\n",
        ["s.yaml:2:28: YAML: the tag '!!python/name:os.system' is not allowed"],
    ),
    (
        "local tag",
        "name: a\nactions: !foo [1]\n",
        ["s.yaml:2:10: YAML: the tag '!foo' is not allowed"],
    ),
    (
        "binary tag",
        "name: !!binary aGk=\n",
        ["s.yaml:1:7: YAML: the tag '!!binary' is not allowed"],
    ),
    (
        "alias",
        "a: &x [1, 2]\nb: *x\n",
        ["s.yaml:2:4: YAML: aliases (*name) are not allowed"],
    ),
    (
        "alias bomb",
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
        ["s.yaml:2:8: YAML: aliases (*name) are not allowed"],
    ),
    (
        "merge key",
        "name: a\n<<: {x: 1}\n" + OK_ACTIONS,
        ["s.yaml:2:1: unknown key '<<'"],
    ),
    (
        "deep nesting",
        "name: a\nactions: " + "[" * 100 + "]" * 100 + "\n",
        ["s.yaml:2:41: YAML: nesting deeper than 32 levels"],
    ),
    (
        "unclosed flow",
        "name: a\nactions: [\n",
        ["s.yaml:3:1: YAML: expected the node content, but found '<stream end>'"],
    ),
    (
        "tab indent",
        "name: a\n\tactions: []\n",
        [
            "s.yaml:2:1: YAML: found character '\\t' that cannot start any token "
            "(a tab: YAML takes spaces, never tabs)"
        ],
    ),
    (
        "control character",
        "name: a\x07\n",
        ["s.yaml:1:8: YAML: character U+0007 is not allowed"],
    ),
    (
        "control character after other line breaks",
        "a: 1\r\nb: 2\u2028c: [\x01]",
        ["s.yaml:3:5: YAML: character U+0001 is not allowed"],
    ),
    (
        "two documents",
        "name: a\n---\nname: b\n",
        ["s.yaml:2:1: YAML: one document per text (a second '---' document found)"],
    ),
    (
        "too large",
        "name: a\n" + "#" * (256 * 1024),
        ["s.yaml:1:1: the document is larger than 256 KiB (262152 bytes)"],
    ),
    (
        "mode",
        "name: a\nmode: serial\n" + OK_ACTIONS,
        [
            "s.yaml:2:7: mode: expected one of single, restart, queued, parallel, got 'serial'"
        ],
    ),
    (
        "max without queued or parallel",
        "name: a\nmax: 5\n" + OK_ACTIONS,
        ["s.yaml:2:1: max: only for mode queued or parallel (mode is single)"],
    ),
    (
        "max out of range",
        "name: a\nmode: queued\nmax: 1001\n" + OK_ACTIONS,
        ["s.yaml:3:6: max: expected a whole number from 1 to 1000, got 1001"],
    ),
    (
        "enabled",
        "name: a\nenabled: maybe\n" + OK_ACTIONS,
        ["s.yaml:2:10: enabled: expected true or false, got text 'maybe'"],
    ),
    (
        "variables",
        "name: a\nvariables: {t: 1, host: 2, 'a b': 3, kv: 4, v: .nan}\n" + OK_ACTIONS,
        [
            "s.yaml:2:19: variables: 'host' is a built-in name",
            "s.yaml:2:28: variables: a variable name is a word ([A-Za-z_][A-Za-z0-9_]*), got 'a b'",
            "s.yaml:2:38: variables: 'kv' is a built-in name",
            "s.yaml:2:48: variables.v: expected a finite number, got .nan",
        ],
    ),
    (
        "no actions",
        "name: a\nactions: []\n",
        ["s.yaml:2:10: actions: expected at least one action"],
    ),
    (
        "triggers",
        "name: a\ntriggers:\n"
        "  - kv: /a\n    cron: '* * * * *'\n"
        "  - blow: 3\n"
        "  - id: x\n"
        "  - kv: a/b\n"
        "  - cron: 'x y'\n"
        "  - at: '25:00'\n"
        "  - every: 0s\n"
        "  - sun: noon\n"
        "  - sun: sunset\n    offset: 13h\n"
        "  - event: /x\n"
        "  - startup: false\n"
        "  - kv: /a\n    below: 10\n    above: 20\n"
        "  - kv: '/{nope}'\n"
        "  - kv: /a\n    for: -1m\n"
        "  - kv: /a\n    below: 'x'\n"
        "  - at: 7\n"
        "  - kv: /a\n    id: [1]\n"
        "  - 5\n" + OK_ACTIONS,
        [
            "s.yaml:4:5: triggers[0]: one kind per trigger, got kv and cron",
            "s.yaml:5:5: triggers[1]: unknown key 'blow' (did you mean 'below'?)",
            "s.yaml:6:5: triggers[2]: a trigger needs one of kv, when, cron, at, every, sun, event, startup",
            "s.yaml:7:9: triggers[3].kv: expected a key pattern starting with /, got 'a/b'",
            "s.yaml:8:11: triggers[4].cron: cron 'x y': expected 5 fields (minute hour day month weekday), got 2",
            "s.yaml:9:9: triggers[5].at: expected a time like 23:00 or 06:30:15, got '25:00'",
            "s.yaml:10:12: triggers[6].every: expected an interval of at least 1s, got '0s'",
            "s.yaml:11:10: triggers[7].sun: expected one of sunrise, sunset, dawn, dusk, got 'noon'",
            "s.yaml:13:13: triggers[8].offset: expected an offset within ±12h, got '13h'",
            "s.yaml:14:12: triggers[9].event: expected a key pattern starting with /event/, got '/x'",
            "s.yaml:15:14: triggers[10].startup: expected true (startup: true), got false",
            "s.yaml:17:12: triggers[11].below: must be greater than above (20), or the trigger never fires",
            "s.yaml:19:11: triggers[12].kv: unknown name 'nope' (only {host} may be used here)",
            "s.yaml:21:10: triggers[13].for: expected a duration ≥ 0, got '-1m'",
            "s.yaml:23:12: triggers[14].below: expected a number, got text 'x'",
            "s.yaml:24:9: triggers[15].at: expected a time like 23:00 or 06:30:15, got '7'",
            "s.yaml:26:9: triggers[16].id: expected text, got a list",
            "s.yaml:27:5: triggers[17]: expected a mapping, got 5",
        ],
    ),
    (
        "actions",
        "name: a\nvariables: {t: 1}\nactions:\n"
        "  - device: lamp\n    action: set\n"
        "  - device: '{host}.x.y'\n"
        "  - set: /a\n"
        "  - set: nokey\n    value: 1\n"
        "  - call: x\n    body: [1, '{bad']\n"
        "  - wait: soon\n"
        "  - wait_until: 'x >'\n"
        "  - wait_until: 'tt > 1'\n"
        "  - repeat: {count: 0, actions: [{wait: 1s}]}\n"
        "  - repeat: {count: 1, while: 'true', actions: []}\n"
        "  - choose: [{if: 'true'}, {then: []}, {if: 'a[0]', then: []}]\n"
        "  - event: /notevent\n"
        "  - run: Bad Name\n"
        "  - log: hi\n    level: loud\n"
        "  - condition: '1 +'\n"
        "  - frobnicate: 1\n"
        "  - {}\n"
        "  - wait: 1s\n    log: x\n"
        "  - log: 'x {trigger.nope}'\n"
        "  - log: {a: 1}\n"
        "  - set: /a\n    value: '{nope}'\n"
        "  - repeat: {count: 2}\n"
        "  - call: x\n    timeout: 0s\n"
        "  - wait_until: 'true'\n    continue_on_timeout: 1\n"
        "  - call: ' '\n"
        "  - choose: []\n",
        [
            "s.yaml:4:13: actions[0].device: expected <host>.<service>.<device> (e.g. {host}.fake.lamp), got 'lamp'",
            "s.yaml:6:5: actions[1]: a device action needs action: (e.g. action: set)",
            "s.yaml:7:5: actions[2]: a set action needs value: or expr: (delete: KEY removes a key)",
            "s.yaml:8:10: actions[3].set: expected a key starting with /, got 'nokey'",
            "s.yaml:11:16: actions[4].body[1]: '{' starts no {name} field (write '{{' for a brace)",
            "s.yaml:12:11: actions[5].wait: expected a duration like 90s, 5m or 1h30m, got 'soon'",
            "s.yaml:13:21: actions[6].wait_until: expected a value, got the end",
            "s.yaml:14:18: actions[7].wait_until: unknown variable 'tt' (did you mean 't'?)",
            "s.yaml:15:21: actions[8].repeat.count: expected a whole number from 1 to 10000, got 0",
            "s.yaml:16:13: actions[9].repeat: a repeat needs exactly one of count, while, until",
            "s.yaml:17:14: actions[10].choose[0]: a choice needs then:",
            "s.yaml:17:28: actions[10].choose[1]: a choice needs if:",
            "s.yaml:17:47: actions[10].choose[2].if: subscripts are not allowed",
            "s.yaml:18:12: actions[11].event: expected a key starting with /event/, got '/notevent'",
            "s.yaml:19:10: actions[12].run: expected a scenario name ([a-z0-9_-]{1,64}), got 'Bad Name'",
            "s.yaml:21:12: actions[13].level: expected one of debug, info, warning, error, got text 'loud'",
            "s.yaml:22:20: actions[14].condition: expected a value, got the end",
            "s.yaml:23:5: actions[15]: unknown key 'frobnicate'",
            "s.yaml:24:5: actions[16]: an action needs one of device, set, delete, call, http, wait, wait_until, repeat, choose, if, event, run, stop, log, condition",
            "s.yaml:26:5: actions[17]: one kind per action, got wait and log",
            "s.yaml:27:13: actions[18].log: unknown name 'trigger.nope'",
            "s.yaml:28:10: actions[19].log: expected text, got a mapping",
            "s.yaml:30:13: actions[20].value: unknown name 'nope'",
            "s.yaml:31:13: actions[21].repeat: a repeat needs actions:",
            "s.yaml:33:14: actions[22].timeout: expected a duration > 0",
            "s.yaml:35:26: actions[23].continue_on_timeout: expected true or false, got 1",
            "s.yaml:36:11: actions[24].call: expected a service name such as {host}.echo",
            "s.yaml:37:13: actions[25].choose: a choose needs at least one if/then choice (or an else:)",
        ],
    ),
    (
        "computed values and random waits",
        "name: a\nvariables: {t: 1}\nactions:\n"
        "  - set: /a\n    value: 1\n    expr: 't + 1'\n"
        "  - device: '{host}.fake.hall'\n    action: level\n    value: 3\n    expr: t\n"
        "  - event: /event/a\n    value: 1\n    expr: t\n"
        "  - set: /a\n    expr: 'tt + 1'\n"
        "  - set: /a\n    expr: 'random(5, 1)'\n"
        "  - set: /a\n    expr: 'random(1)'\n"
        "  - event: /event/a\n    expr: \"random('a', 2)\"\n"
        "  - set: /a\n    expr: [1]\n"
        "  - wait: {min: 20m, max: 5m}\n"
        "  - wait: {min: 5m}\n"
        "  - wait: {max: 5m, mini: 1m}\n"
        "  - wait: {min: soon, max: -1m}\n"
        "  - wait: [5m, 20m]\n"
        "  - set: /a\n    expr: \"kv('/{nope}')\"\n",
        [
            "s.yaml:6:5: actions[0]: value: and expr: both given; use one (expr: computes the value when the action runs)",
            "s.yaml:10:5: actions[1]: value: and expr: both given; use one (expr: computes the value when the action runs)",
            "s.yaml:13:5: actions[2]: value: and expr: both given; use one (expr: computes the value when the action runs)",
            "s.yaml:15:12: actions[3].expr: unknown variable 'tt' (did you mean 't'?)",
            "s.yaml:17:12: actions[4].expr: random(a, b) needs a <= b, got 5 > 1",
            "s.yaml:19:12: actions[5].expr: random() takes 0 or 2 arguments, got 1",
            "s.yaml:21:19: actions[6].expr: random() needs a number, got 'a'",
            "s.yaml:23:11: actions[7].expr: expected text, got a list",
            "s.yaml:24:27: actions[8].wait.max: expected max >= min, got max 300s < min 1200s",
            "s.yaml:25:11: actions[9].wait: a random wait needs min: and max: (e.g. {min: 5m, max: 20m}), max: is missing",
            "s.yaml:26:21: actions[10].wait: unknown key 'mini' (did you mean 'min'?)",
            "s.yaml:27:17: actions[11].wait.min: expected a duration like 90s, 5m or 1h30m, got 'soon'",
            "s.yaml:27:28: actions[11].wait.max: expected a duration ≥ 0, got '-1m'",
            "s.yaml:28:11: actions[12].wait: expected a duration like 5m, or {min: 5m, max: 20m}, got a list",
            "s.yaml:30:17: actions[13].expr: unknown name 'nope'",
        ],
    ),
    (
        "expression offsets in quoted and plain text",
        "name: a\nconditions:\n  - \"kv('/a') < 'x' or 2 ** 3\"\n  - kv('/a') ** 2\n  - >\n    1 **\n    2\n"
        + OK_ACTIONS,
        [
            "s.yaml:3:26: conditions[0]: '**' is not allowed",
            "s.yaml:4:14: conditions[1]: '**' is not allowed",
            "s.yaml:5:5: conditions[2]: '**' is not allowed",
        ],
    ),
    (
        "expression security",
        "name: a\nconditions:\n"
        "  - \"__import__('os')\"\n"
        "  - ().__class__.__bases__\n"
        "  - kv.__globals__\n"
        "  - \"[x for x in kv('/a')]\"\n"
        "  - 'lambda: 1'\n"
        "  - 9**9**9\n"
        "  - \"kv('/{0.__class__}')\"\n" + OK_ACTIONS,
        [
            "s.yaml:3:6: conditions[0]: unknown function '__import__'",
            "s.yaml:4:5: conditions[1]: empty parentheses '()'",
            "s.yaml:5:7: conditions[2]: attribute access is not allowed (only trigger.<field> and repeat.index)",
            "s.yaml:6:9: conditions[3]: 'for' is not allowed",
            "s.yaml:7:6: conditions[4]: 'lambda' is not allowed",
            "s.yaml:8:6: conditions[5]: '**' is not allowed",
            "s.yaml:9:9: conditions[6]: kv() key: '{' starts no {name} field (write '{{' and '}}' for braces)",
        ],
    ),
    (
        "huge number and infinity",
        "name: a\nactions: [{set: /a, value: "
        + "9" * 5000
        + "}, {set: /b, value: .inf}]\n",
        [
            "s.yaml:2:28: actions[0].value: expected a JSON value, got a number of 5000 characters",
            "s.yaml:2:5048: actions[1].value: expected a finite number, got .inf",
        ],
    ),
    (
        "a mapping key that is not text",
        "name: a\nactions: [{set: /a, value: {1: 2}}]\n",
        ["s.yaml:2:29: actions[0].value: a key must be text, got 1"],
    ),
]


@pytest.mark.parametrize(
    ("text", "lines"), [(t, lines) for _, t, lines in CASES], ids=[c[0] for c in CASES]
)
def test_validate_names_every_problem_with_its_line_and_column(
    text: str, lines: list[str]
) -> None:
    assert validate_scenario(text, "s.yaml") == lines


def test_document_error_holds_every_problem_and_prints_one_per_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("name: A\nmode: x\n" + OK_ACTIONS, "bad.yaml")
    error = caught.value
    assert isinstance(error, DocumentError)
    assert (error.source, error.problems, str(error)) == (
        "bad.yaml",
        [
            Problem(1, 7, "name: expected a name matching [a-z0-9_-]{1,64}, got 'A'"),
            Problem(
                2, 7, "mode: expected one of single, restart, queued, parallel, got 'x'"
            ),
        ],
        "bad.yaml:1:7: name: expected a name matching [a-z0-9_-]{1,64}, got 'A'\n"
        "bad.yaml:2:7: mode: expected one of single, restart, queued, parallel, got 'x'",
    )


HEX = "0x" + "f" * 5000  # past Python's digit limit, which YAML's hex escapes
HUGE = "1" + "0" * 400
NUMBERS: list[tuple[str, str, list[str]]] = [
    (
        "a hex variable past the digit limit",
        f"name: a\nvariables: {{x: {HEX}}}\n" + OK_ACTIONS,
        [
            "s.yaml:2:16: variables.x: expected a JSON value, "
            "got a number of 5002 characters"
        ],
    ),
    (
        "a base-60 variable past the digit limit",
        "name: a\nvariables: {x: 1" + ":59" * 3000 + "}\n" + OK_ACTIONS,
        [
            "s.yaml:2:16: variables.x: expected a JSON value, "
            "got a number of 9001 characters"
        ],
    ),
    (
        "big numbers within the digit limit load as before",
        # (a bare base-60 or hex number is refused as such:
        # test_rules_document_numbers)
        "name: a\nvariables: {x: " + "9" * 60 + ", y: 123456789012345678901234}\n"
        "actions: [{call: echo, body: [1111111111111111111111111]}]\n",
        [],
    ),
    (
        "a hex call body",
        f"name: a\nactions: [{{call: echo, body: {HEX}}}]\n",
        [
            "s.yaml:2:30: actions[0].body: expected a JSON value, "
            "got a number of 5002 characters"
        ],
    ),
    (
        "Home Assistant's duration of a huge float",
        "name: a\nactions: [{wait: {hours: 1e308}}]\n",
        [
            "s.yaml:2:18: actions[0].wait: duration too long (at most 366d), "
            "got a mapping with hours"
        ],
    ),
    (
        "Home Assistant's duration of a huge int",
        f"name: a\nactions: [{{wait: {{seconds: {HUGE}}}}}]\n",
        [
            "s.yaml:2:18: actions[0].wait: duration too long (at most 366d), "
            "got a mapping with seconds"
        ],
    ),
    (
        "a hugely negative sun offset",
        f"name: a\ntriggers: [{{sun: sunset, offset: -{HUGE}}}]\n" + OK_ACTIONS,
        [
            "s.yaml:2:34: triggers[0].offset: offset too long (at most 366d), "
            "got a number of 402 characters"
        ],
    ),
    (
        "a wait of 5000 digits",
        "name: a\nactions: [{wait: 1" + "0" * 5000 + "}]\n",
        [
            "s.yaml:2:18: actions[0].wait: duration too long (at most 366d), "
            "got a number of 5001 characters"
        ],
    ),
    (
        "a clock of 5000 digits",
        'name: a\nactions: [{wait: "' + "9" * 5000 + ':30"}]\n',
        [
            "s.yaml:2:18: actions[0].wait: expected a duration like 90s, 5m or "
            "1h30m, got '" + "9" * 64 + "'…"
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "lines"),
    [(t, lines) for _, t, lines in NUMBERS],
    ids=[c[0] for c in NUMBERS],
)
def test_a_huge_number_is_refused_at_its_place_in_raspy_s_words(
    text: str, lines: list[str]
) -> None:
    """An int Python will not write as text (over 4300 digits), written in hex or
    base 60, loaded and then broke the engine wherever it was written out; a huge
    duration crashed the loader (OverflowError) or was refused in Python's own
    words."""
    assert validate_scenario(text, "s.yaml") == lines


def test_a_huge_expression_string_is_refused() -> None:
    text = "name: a\nconditions: ['" + "1+" * 6000 + "1']\n" + OK_ACTIONS
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:2:1015: conditions[0]: the expression is longer than 1000 characters"
    ]


def test_a_variable_in_a_trigger_s_key_is_told_that_only_host_may_be_used() -> None:
    """A trigger's key is filled at import, before any run: the scenario's own
    variable was told `unknown name 'room'`, as if it had not been declared."""
    text = (
        "name: a\nvariables: {room: living}\ntriggers:\n"
        "  - kv: '/device/{host}.fake.{room}/value'\n" + OK_ACTIONS
    )
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:4:30: triggers[0].kv: unknown name 'room' (only {host} may be used here)"
    ]


def test_names_and_keys_in_expressions_are_checked_at_their_column() -> None:
    text = (
        "name: a\nvariables: {target: 1}\nconditions:\n"
        "  - \"kv('/a') > targte\"\n"
        "  - kv('/device/{host}.{room}/value') == 1\n"
        "  - \"kv('/\\u0041{x}') == 1\"\n" + OK_ACTIONS
    )
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:4:17: conditions[0]: unknown variable 'targte' (did you mean 'target'?)",
        "s.yaml:5:24: conditions[1]: unknown name 'room'",
        "s.yaml:6:5: conditions[2]: unknown name 'x'",
    ]


def test_a_function_named_without_its_call_is_told_how_to_call_it() -> None:
    """`random < 0.5` said only "unknown variable 'random'"."""
    text = 'name: a\nconditions:\n  - "random < 0.5"\n  - "hour >= 7"\n' + OK_ACTIONS
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:3:6: conditions[0]: unknown variable 'random' (did you mean random()?)",
        "s.yaml:4:6: conditions[1]: unknown variable 'hour' (did you mean hour()?)",
    ]
    declared = 'name: a\nvariables: {random: 1}\nconditions: ["random == 1"]\n'
    assert validate_scenario(declared + OK_ACTIONS, "s.yaml") == []


def test_an_operator_slip_is_told_the_way_to_write_it() -> None:
    """`&&` was `unexpected character '&'` and a bare word `unknown variable 'home'`
    alone: the household was not told to write `and`, or to quote a text."""
    text = (
        "name: a\nvariables: {target: 1}\nconditions:\n"
        '  - "hour() > 6 && hour() < 23"\n'
        "  - \"kv('/house/mode') == home\"\n"
        "  - \"kv('/house/mode') == targte\"\n" + OK_ACTIONS
    )
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:4:17: conditions[0]: unexpected character '&' (write and)",
        "s.yaml:5:27: conditions[1]: unknown variable 'home' (text goes in quotes:"
        " 'home')",
        "s.yaml:6:27: conditions[2]: unknown variable 'targte' (did you mean"
        " 'target'?)",
    ]


def test_a_flood_of_problems_is_listed_up_to_a_hundred() -> None:
    text = "name: a\n" + "".join(f"k{i}: 1\n" for i in range(150)) + OK_ACTIONS
    with pytest.raises(DocumentError) as caught:
        load_scenario(text, "s.yaml")
    expected = [f"s.yaml:{i + 2}:1: unknown key 'k{i}'" for i in range(100)]
    assert (len(caught.value.problems), caught.value.lines()) == (
        150,
        [*expected, "s.yaml:102:1: and 50 more problems"],
    )
