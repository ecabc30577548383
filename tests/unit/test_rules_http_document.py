"""The `http:` action as a document says it (docs/scenarios.md "Telling a phone"):
what loads, every refusal with its place, and any value at all under its keys giving
a Scenario or a DocumentError, never anything else."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.rules import model
from raspy.rules.document import DocumentError, load_scenario, validate_scenario
from raspy.rules.expr import compile_expression

HEAD = 'name: t\nvariables: {ntfy: "https://ntfy.sh/my-house", token: tk}\nactions:\n'


def _actions(text: str) -> tuple[model.Action, ...]:
    return load_scenario(HEAD + text).actions


def test_an_ntfy_notification_and_a_webhook_load() -> None:
    assert _actions(
        '  - http: "{ntfy}"\n'
        '    body: "Freezer at {trigger.value:.1f} °C"\n'
        "    headers:\n"
        '      Title: "Freezer warm"\n'
        "      Priority: 4\n"
        '      Authorization: "Bearer {token}"\n'
        "  - http: https://hub.local:8123/api/webhook/freezer-warm\n"
        "    method: put\n"
        '    body: {temperature: "{trigger.value}", at: "{now}"}\n'
        "    timeout: 30s\n"
        "  - http: https://example.com/ping\n"
        "    method: GET\n"
        "  - http: https://example.com/\n"
        '    expr: "[trigger.value, 1 + 2]"\n'
        "  - http: https://example.com/\n"
        "    body: null\n"
    ) == (
        model.HttpAction(
            "{ntfy}",
            "POST",
            "Freezer at {trigger.value:.1f} °C",
            True,
            (
                ("Title", "Freezer warm"),
                ("Priority", "4"),
                ("Authorization", "Bearer {token}"),
            ),
        ),
        model.HttpAction(
            "https://hub.local:8123/api/webhook/freezer-warm",
            "PUT",
            {"temperature": "{trigger.value}", "at": "{now}"},
            True,
            timeout_s=30.0,
        ),
        model.HttpAction("https://example.com/ping", "GET"),
        model.HttpAction(
            "https://example.com/", expr=compile_expression("[trigger.value, 1 + 2]")
        ),
        model.HttpAction("https://example.com/", body=None, has_body=True),
    )


def test_every_problem_of_an_http_action_is_named_at_its_place() -> None:
    text = (
        "name: t\n"
        "actions:\n"
        "  - http: ftp://x\n"
        '  - http: "https:///x"\n'
        '  - http: "ftp://{host}/x"\n'
        "  - http: https://x/\n"
        "    method: DELETE\n"
        "  - http: https://x/\n"
        "    method: GET\n"
        "    body: hi\n"
        "  - http: https://x/\n"
        '    headers: {"Bad Name": x, Host: y, "title": "a\\nb", X: [1], Y: "{nope}"}\n'
        "  - http: https://x/\n"
        "    headers: {Title: a, TITLE: b}\n"
        "  - http: https://x/\n"
        "    timeout: 61s\n"
        "  - http: https://x/\n"
        "    body: 1\n"
        '    expr: "2"\n'
        "  - http: 5\n"
        "  - http: https://x/\n"
        "    headers: [Title]\n"
        "  - http: https://x/\n"
        "    value: 1\n"
    )
    assert validate_scenario(text, "s.yaml") == [
        's.yaml:3:11: actions[0].http: expected a URL starting with http:// or https://, got "ftp://x"',
        's.yaml:4:11: actions[1].http: a URL needs a host (https://HOST/...), got "https:///…"',
        's.yaml:5:11: actions[2].http: expected a URL starting with http:// or https://, got "ftp://{host}/…"',
        "s.yaml:7:13: actions[3].method: expected one of GET, POST, PUT, got text 'DELETE'",
        "s.yaml:10:5: actions[4]: a GET sends no body: leave out body: or use method: POST or PUT",
        's.yaml:12:15: actions[5].headers.Bad Name: expected a header name of letters, digits and !#$%&\'*+-.^_`|~ (at most 64), got "Bad Name"',
        "s.yaml:12:30: actions[5].headers.Host: the header Host is written by raspy itself",
        "s.yaml:12:48: actions[5].headers.title: its value has a line break or another control character",
        "s.yaml:12:59: actions[5].headers.X: expected text or a number (a header's value), got a list",
        "s.yaml:12:68: actions[5].headers.Y: unknown name 'nope'",
        "s.yaml:14:25: actions[6].headers.TITLE: the same header twice (names are not case-sensitive)",
        "s.yaml:16:14: actions[7].timeout: expected at most 60s, got 61s",
        "s.yaml:19:5: actions[8]: body: and expr: both given; use one (expr: computes the body when the action runs)",
        "s.yaml:20:11: actions[9].http: expected text, got 5",
        "s.yaml:22:14: actions[10].headers: expected a mapping, got a list",
        "s.yaml:24:5: actions[11]: unknown key 'value'",
    ]


HTTP_KEYS = ("http", "method", "body", "expr", "headers", "timeout", "value")
URLS = st.sampled_from(
    [
        "https://ntfy.sh/x", "http://127.0.0.1:8080/a?b=c", "{ntfy}", "{ntfy}/x",
        "https://{host}/x", "ftp://{host}", "https://", "http://a:99999/", "http://[::1/",
        "https://a b/", "https://u:p@h/p#f", "{{x}}", "{nope}", "", "http://x/\n",
    ]
)  # fmt: skip
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | URLS
    | st.sampled_from(["GET", "post", "PUT", "DELETE", "10s", "61s", "0s", "-1s",
                       "1 +", "kv('/a')", "{trigger.value}", "a\r\nb", "{{", "Title"])
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(["Title", "title", "Host", "X-A", "bad name", "é", ""]) | st.text(max_size=5),
        inner,
        max_size=3,
    ),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(HTTP_KEYS), VALUES, max_size=5).map(
        lambda entry: {"http": "https://ntfy.sh/x", **entry}
    )
)
def test_any_mapping_for_an_http_action_loads_or_raises_document_error(
    entry: dict[str, object],
) -> None:
    text = json.dumps(
        {"name": "a", "variables": {"ntfy": "https://x/"}, "actions": [entry]}
    )
    outcome = _loaded(text)
    if isinstance(outcome, DocumentError):
        assert outcome.problems
        assert all(p.line == 1 and p.col >= 1 for p in outcome.problems)
        assert str(outcome).startswith("p.yaml:1:")
        return
    [action] = outcome.actions
    assert isinstance(action, model.HttpAction)
    assert action.method in ("GET", "POST", "PUT")
    assert 0 < action.timeout_s <= 60
    for name, _ in action.headers:
        assert re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}", name)


def _loaded(text: str) -> model.Scenario | DocumentError:
    try:
        return load_scenario(text, "p.yaml")
    except DocumentError as error:
        return error


@pytest.mark.parametrize(
    "url",
    [
        "https://ntfy.sh/my-house",
        "http://127.0.0.1:8080/x?y=1",
        "https://[::1]/",
        "{ntfy}",
    ],
)
def test_a_good_url_loads_as_written(url: str) -> None:
    [action] = _actions(f'  - http: "{url}"\n')
    assert action == model.HttpAction(url)


def test_a_header_of_a_bare_yes_or_off_is_told_to_quote_it() -> None:
    """docs/scenarios.md: a bare on, off, yes or no is told to be quoted where any
    text goes, and a header's value is any text: ntfy's `Markdown: yes` was told
    only what YAML read (`got true (a bare yes is YAML's true)`), not the fix."""
    text = (
        HEAD
        + '  - http: "{ntfy}"\n'
        + "    headers:\n"
        + "      Markdown: yes\n"
        + "      X-Cache: off\n"
    )
    with pytest.raises(DocumentError) as caught:
        load_scenario(text, "n.yaml")
    assert str(caught.value).splitlines() == [
        "n.yaml:6:17: actions[0].headers.Markdown: expected text or a number (a "
        "header's value), got true (a bare yes is YAML's true: quote it, 'yes')",
        "n.yaml:7:16: actions[0].headers.X-Cache: expected text or a number (a "
        "header's value), got false (a bare off is YAML's false: quote it, 'off')",
    ]
    quoted = text.replace("yes", "'yes'").replace("off", "'off'")
    [action] = load_scenario(quoted).actions
    assert isinstance(action, model.HttpAction)
    assert action.headers == (("Markdown", "yes"), ("X-Cache", "off"))
