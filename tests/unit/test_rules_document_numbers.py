"""Bare numbers YAML 1.1 reads otherwise than they look: `6:45` is 405 (base 60) and
`010` is 8 (octal); and those JSON has not, `0x1F` and `0b101`. A header is text on
the wire, so it is sent as written; a value or a body refuses them at their line, as
a duration does."""

from __future__ import annotations

import pytest

from raspy.rules import model
from raspy.rules.document import DocumentError, load_scenario

HEAD = "name: t\ntriggers:\n  - event: /event/x\nactions:\n"


def _http(headers: str) -> model.HttpAction:
    (action,) = load_scenario(
        HEAD + f"  - http: https://h/\n    headers: {{X-Val: {headers}}}\n"
    ).actions
    assert isinstance(action, model.HttpAction)
    return action


@pytest.mark.parametrize(
    "written", ["6:45", "23:15", "1:30", "010", "0x1F", "4.50", "1_000", "+5", "4"]
)
def test_a_bare_number_as_a_header_is_sent_as_written(written: str) -> None:
    assert _http(written).headers == (("X-Val", written),)


def _refusal(text: str) -> tuple[int, int, str]:
    with pytest.raises(DocumentError) as caught:
        load_scenario(HEAD + text)
    (problem,) = caught.value.problems
    return problem.line, problem.col, problem.message


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        (
            "  - set: /x\n    value: 6:45\n",
            (6, 12),
            "actions[0].value: a bare 6:45 is YAML's base-60 number 405:"
            " quote it, '6:45'",
        ),
        (
            "  - set: /x\n    value: 010\n",
            (6, 12),
            "actions[0].value: a bare 010 is YAML's octal number 8: quote it,"
            " '010', or write 10",
        ),
        (
            "  - http: https://h/\n    body: {at: 6:45}\n",
            (6, 16),
            "actions[0].body.at: a bare 6:45 is YAML's base-60 number 405:"
            " quote it, '6:45'",
        ),
        (
            "  - event: /event/y\n    value: [1, -0_17]\n",
            (6, 16),
            "actions[0].value[1]: a bare -0_17 is YAML's octal number -15: quote it,"
            " '-0_17', or write -17",
        ),
        (
            "  - set: /x\n    value: 1:30.5\n",
            (6, 12),
            "actions[0].value: a bare 1:30.5 is YAML's base-60 number 90.5:"
            " quote it, '1:30.5'",
        ),
    ],
    ids=["clock", "octal", "body", "signed-octal-in-a-list", "float"],
)
def test_a_value_that_yaml_reads_as_base_60_or_octal_is_refused_at_its_line(
    text: str, place: tuple[int, int], message: str
) -> None:
    assert _refusal(text) == (*place, message)


@pytest.mark.parametrize(
    ("written", "value"), [("0", 0), ("007", 7), ("10", 10), ("'0x1F'", "0x1F")]
)
def test_a_number_that_reads_as_it_looks_is_a_value(
    written: str, value: object
) -> None:
    (action,) = load_scenario(HEAD + f"  - set: /x\n    value: {written}\n").actions
    assert isinstance(action, model.SetAction)
    assert action.value == value


@pytest.mark.parametrize("written", [".nan", ".inf", "-.inf", "1e400", "-1e400"])
def test_a_header_that_is_no_finite_number_is_refused_as_a_body_is(
    written: str,
) -> None:
    text = f"  - http: https://h/\n    headers: {{Priority: {written}}}\n"
    assert _refusal(text) == (
        6,
        25,
        f"actions[0].headers.Priority: expected a finite number, got {written}",
    )
    body = f"  - http: https://h/\n    body: {written}\n"
    assert _refusal(body)[2] == (
        f"actions[0].body: expected a finite number, got {written}"
    )


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("0x32", "YAML's hexadecimal number 50: quote it, '0x32', or write 50"),
        ("-0x_1F", "YAML's hexadecimal number -31: quote it, '-0x_1F', or write -31"),
        ("0b101", "YAML's binary number 5: quote it, '0b101', or write 5"),
        ("+0b1_0", "YAML's binary number 2: quote it, '+0b1_0', or write 2"),
    ],
)
def test_a_bare_hexadecimal_or_binary_value_is_refused(
    written: str, message: str
) -> None:
    """`value: 0x32` set 50 and `value: 0b101` set 5, where JSON reads neither as a
    number, YAML 1.2 reads 0b101 as text and `raspy device` sends both as text."""
    text = f"  - set: /x\n    value: {written}\n"
    assert _refusal(text) == (6, 12, f"actions[0].value: a bare {written} is {message}")
    listed = f"  - event: /event/y\n    value: [1, {written}]\n"
    assert _refusal(listed)[2].startswith(f"actions[0].value[1]: a bare {written} is")


def _doc_refusal(document: str) -> tuple[int, int, str]:
    with pytest.raises(DocumentError) as caught:
        load_scenario(document)
    (problem,) = caught.value.problems
    return problem.line, problem.col, problem.message


KV_HEAD = "name: t\ntriggers:\n  - kv: /k\n"
LOG = "actions:\n  - log: hi\n"


@pytest.mark.parametrize(
    ("document", "place", "message"),
    [
        (
            KV_HEAD + "    above: 010\n" + LOG,
            (4, 12),
            "triggers[0].above: a bare 010 is YAML's octal number 8: write 10",
        ),
        (
            KV_HEAD + "    below: 6:45\n" + LOG,
            (4, 12),
            "triggers[0].below: a bare 6:45 is YAML's base-60 number 405:"
            " write 405 if it is meant",
        ),
        (
            HEAD + "  - repeat:\n      count: 010\n      actions:\n        - log: hi\n",
            (6, 14),
            "actions[0].repeat.count: a bare 010 is YAML's octal number 8: write 10",
        ),
        (
            "name: t\nmode: queued\nmax: 010\ntriggers:\n  - event: /event/e\n" + LOG,
            (3, 6),
            "max: a bare 010 is YAML's octal number 8: write 10",
        ),
        (
            KV_HEAD + "    above: 0x10\n" + LOG,
            (4, 12),
            "triggers[0].above: a bare 0x10 is YAML's hexadecimal number 16: write 16",
        ),
        (
            HEAD
            + "  - repeat:\n      count: 0b11\n      actions:\n        - log: hi\n",
            (6, 14),
            "actions[0].repeat.count: a bare 0b11 is YAML's binary number 3: write 3",
        ),
    ],
    ids=["above-octal", "below-clock", "repeat-count", "max", "above-hex", "count-bin"],
)
def test_a_number_that_yaml_reads_as_base_60_or_octal_is_refused_where_a_number_goes(
    document: str, place: tuple[int, int], message: str
) -> None:
    """Only a JSON value was checked: `above: 010` loaded as 8.0, `below: 6:45`
    as 405.0, `count: 010` ran 8 times."""
    assert _doc_refusal(document) == (*place, message)


def test_a_number_that_reads_as_it_looks_is_taken_where_a_number_goes() -> None:
    scenario = load_scenario(KV_HEAD + "    above: 007\n    below: 1_000\n" + LOG)
    (trigger,) = scenario.triggers
    assert isinstance(trigger, model.KvTrigger)
    assert (trigger.above, trigger.below) == (7.0, 1000.0)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "08",
            "a bare 08 is YAML's text '08', not a number: quote it, '08', or write 8",
        ),
        (
            "-09",
            "a bare -09 is YAML's text '-09', not a number: quote it, '-09', or write -9",
        ),
        (
            "0_8",
            "a bare 0_8 is YAML's text '0_8', not a number: quote it, '0_8', or write 8",
        ),
    ],
)
def test_a_bare_number_with_a_leading_zero_that_yaml_reads_as_text_is_refused(
    written: str, message: str
) -> None:
    """`07` is 7 and `010` is refused, but `08` set the text '08'."""
    text = f"  - set: /x\n    value: {written}\n"
    assert _refusal(text) == (6, 12, f"actions[0].value: {message}")


def test_a_bare_08_where_a_number_goes_is_told_the_number() -> None:
    document = KV_HEAD + "    above: 08\n" + LOG
    assert _doc_refusal(document) == (
        4,
        12,
        "triggers[0].above: a bare 08 is YAML's text '08', not a number: write 8",
    )


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("'08'", "08"),
        ('"08"', "08"),
        ("0", 0),
        ("00", 0),
        ("0.8", 0.8),
        ("08x", "08x"),
        ("a08", "a08"),
        ("['08', 7]", ["08", 7]),
    ],
)
def test_a_quoted_08_or_another_text_is_a_value(written: str, value: object) -> None:
    (action,) = load_scenario(HEAD + f"  - set: /x\n    value: {written}\n").actions
    assert isinstance(action, model.SetAction)
    assert action.value == value


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        (
            "  - wait: 010\n",
            (5, 11),
            "actions[0].wait: a bare 010 is YAML's octal number 8: write 10",
        ),
        (
            "  - wait: 0x10\n",
            (5, 11),
            "actions[0].wait: a bare 0x10 is YAML's hexadecimal number 16: write 16",
        ),
        (
            "  - wait: {min: 0b10, max: 20}\n",
            (5, 17),
            "actions[0].wait.min: a bare 0b10 is YAML's binary number 2: write 2",
        ),
        (
            "  - http: https://h/\n    timeout: 010\n",
            (6, 14),
            "actions[0].timeout: a bare 010 is YAML's octal number 8: write 10",
        ),
    ],
    ids=["octal-wait", "hex-wait", "binary-random-wait", "octal-timeout"],
)
def test_a_duration_that_yaml_reads_otherwise_than_it_looks_is_refused(
    text: str, place: tuple[int, int], message: str
) -> None:
    """`wait: 010` waited 8 s and `0x10` 16 s, where a number anywhere else was
    refused with its fix."""
    assert _refusal(text) == (*place, message)


@pytest.mark.parametrize("written", ["10", "'08'", '"09"', "'010'", "1.5", "0", "007"])
def test_a_duration_that_reads_as_it_looks_is_taken(written: str) -> None:
    (action,) = load_scenario(HEAD + f"  - wait: {written}\n").actions
    assert isinstance(action, model.WaitAction)
    assert action.seconds == float(written.strip("'\""))


def test_a_hexadecimal_for_of_a_trigger_is_refused() -> None:
    with pytest.raises(DocumentError) as caught:
        load_scenario(
            "name: t\ntriggers:\n  - kv: /a\n    for: 0x10\nactions:\n  - wait: 1\n"
        )
    assert [(p.line, p.col, p.message) for p in caught.value.problems] == [
        (
            4,
            10,
            "triggers[0].for: a bare 0x10 is YAML's hexadecimal number 16: write 16",
        )
    ]


OCTAL_TOLD = "a bare 010 is YAML's octal number 8: write"
MAPPING = "(a mapping of units is Home Assistant's form)"


@pytest.mark.parametrize(
    ("document", "place", "message"),
    [
        (HEAD + "  - wait: 010\n", (5, 11), f"actions[0].wait: {OCTAL_TOLD} 10"),
        (
            HEAD + "  - wait: {seconds: 010}\n",
            (5, 11),
            f"actions[0].wait: {OCTAL_TOLD} 10s {MAPPING}",
        ),
        (
            KV_HEAD + "    for: {minutes: 010}\n" + LOG,
            (4, 10),
            f"triggers[0].for: {OCTAL_TOLD} 10m {MAPPING}",
        ),
        (
            HEAD + "  - wait: {minutes: 1, seconds: 010}\n",
            (5, 11),
            f"actions[0].wait: {OCTAL_TOLD} 1m10s {MAPPING}",
        ),
        (
            "name: t\ntriggers:\n  - sun: sunset\n    offset: {minutes: -010}\n" + LOG,
            (4, 13),
            "triggers[0].offset: a bare -010 is YAML's octal number -8: write -10m"
            f" {MAPPING}",
        ),
        (
            HEAD + "  - wait: {seconds: 0x10}\n",
            (5, 11),
            "actions[0].wait: a bare 0x10 is YAML's hexadecimal number 16: write 16s"
            f" {MAPPING}",
        ),
    ],
    ids=["wait", "wait-seconds", "for-minutes", "two-units", "offset", "hex"],
)
def test_an_octal_duration_is_told_the_same_in_a_mapping_of_units(
    document: str, place: tuple[int, int], message: str
) -> None:
    """`wait: {seconds: 010}` was told Home Assistant's form with `write 8s`, as if
    8 s were meant; a bare `010` alone is told `write 10`."""
    assert _doc_refusal(document) == (*place, message)


NOT_NEGATIVE = "expected a duration ≥ 0, got"
UNITS = "(a mapping of units is Home Assistant's form)"


@pytest.mark.parametrize(
    ("document", "place", "message"),
    [
        (
            HEAD + "  - wait: {seconds: -010}\n",
            (5, 11),
            f"actions[0].wait: {NOT_NEGATIVE} seconds: -10 {UNITS}",
        ),
        (
            HEAD + "  - wait: {minutes: -5}\n",
            (5, 11),
            f"actions[0].wait: {NOT_NEGATIVE} minutes: -5 {UNITS}",
        ),
        (
            HEAD + "  - wait: {minutes: 1, seconds: -0.5}\n",
            (5, 11),
            f"actions[0].wait: {NOT_NEGATIVE} seconds: -0.5 {UNITS}",
        ),
        (
            KV_HEAD + "    for: {hours: -1}\n" + LOG,
            (4, 10),
            f"triggers[0].for: {NOT_NEGATIVE} hours: -1 {UNITS}",
        ),
    ],
    ids=["octal", "wait", "two-units", "for"],
)
def test_a_negative_amount_in_a_mapping_of_units_is_told_as_negative(
    document: str, place: tuple[int, int], message: str
) -> None:
    """`wait: {seconds: -010}` was told `unknown key 'seconds'` (and a `for:`
    `expected a value, got a mapping`): refused as a negative `wait: -10` is, and
    told Home Assistant's form as `{seconds: 010}` is."""
    assert _doc_refusal(document) == (*place, message)


TEXT_08 = "a bare 08 is YAML's text '08', not a number: write"


@pytest.mark.parametrize(
    ("document", "place", "message"),
    [
        (HEAD + "  - wait: 08\n", (5, 11), f"actions[0].wait: {TEXT_08} 8"),
        (
            HEAD + "  - wait: 09\n",
            (5, 11),
            "actions[0].wait: a bare 09 is YAML's text '09', not a number: write 9",
        ),
        (KV_HEAD + "    for: 08\n" + LOG, (4, 10), f"triggers[0].for: {TEXT_08} 8"),
        (
            "name: t\ntriggers:\n  - every: 08\n" + LOG,
            (3, 12),
            f"triggers[0].every: {TEXT_08} 8",
        ),
        (
            HEAD + "  - wait: {min: 08, max: 20}\n",
            (5, 17),
            f"actions[0].wait.min: {TEXT_08} 8",
        ),
        (
            HEAD + "  - http: https://h/\n    timeout: 08\n",
            (6, 14),
            f"actions[0].timeout: {TEXT_08} 8",
        ),
        (
            "name: t\ntriggers:\n  - sun: sunset\n    offset: -08\n" + LOG,
            (4, 13),
            "triggers[0].offset: a bare -08 is YAML's text '-08', not a number:"
            " write -8",
        ),
        (
            HEAD + "  - wait: {seconds: 08}\n",
            (5, 11),
            f"actions[0].wait: {TEXT_08} 8s {MAPPING}",
        ),
        (
            KV_HEAD + "    for: {minutes: 08}\n" + LOG,
            (4, 10),
            f"triggers[0].for: {TEXT_08} 8m {MAPPING}",
        ),
        # a sign where none goes is said as such, not told to write -8 or -10
        (
            HEAD + "  - wait: -08\n",
            (5, 11),
            "actions[0].wait: expected a duration ≥ 0, got '-08'",
        ),
        (
            HEAD + "  - wait: -010\n",
            (5, 11),
            "actions[0].wait: expected a duration ≥ 0, got '-010'",
        ),
    ],
    ids=[
        "wait",
        "wait-09",
        "for",
        "every",
        "random-wait",
        "timeout",
        "offset",
        "wait-seconds",
        "for-minutes",
        "unsigned",
        "unsigned-octal",
    ],
)
def test_a_bare_08_duration_is_refused_as_a_bare_08_number_is(
    document: str, place: tuple[int, int], message: str
) -> None:
    """YAML 1.1 reads a bare `08` as the text '08' (its octal has no 8): a
    duration read it as 8 s, where a value or a number refuses it (and `010`, 8 in
    octal, is refused as a duration too)."""
    assert _doc_refusal(document) == (*place, message)
