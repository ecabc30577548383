"""`{secret.NAME}` in scenarios: allowed only in an `http:` action's url, headers and
body (refused anywhere else at import, with line and column), a name the secrets
file lacks a warning at import and a failure naming it at run time, and no value
ever in the trace or a reason, a server's answer that echoes it included."""

from __future__ import annotations

import json

import pytest
from support.scenario_engine import SECRETS, Harness, harness, requests, scenario

from raspy.http_request import Answer, decode_request, encode_outcome
from raspy.rules import engine
from raspy.rules import model as m
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.engine import State
from raspy.rules.secret_uses import WHY, secret_warnings
from raspy.rules.template import ONLY_IN_HTTP
from raspy.secrets_file import Loaded

pytestmark = pytest.mark.timeout(30)

TOKEN = "123456:AAbb-cc_dd"  # noqa: S105  # a test value to look for
KEY = "tk_9f8e7d"
DOOR = "/event/door"
TELL = """\
name: tell
triggers:
  - event: /event/door
actions:
  - http: "https://api.telegram.org/bot{secret.telegram_token}/sendMessage"
    headers:
      Authorization: "Bearer {secret.api_key}"
    body:
      chat_id: 42
      text: "Door {trigger.value} ({secret.api_key})"
"""


def test_secrets_in_an_http_url_headers_and_body_are_imported() -> None:
    scn = load_scenario(TELL, "tell.yaml")
    [action] = scn.actions
    assert isinstance(action, m.HttpAction)
    assert action.url == (
        "https://api.telegram.org/bot{secret.telegram_token}/sendMessage"
    )


@pytest.mark.parametrize(
    ("lines", "where"),
    [
        (
            '  - set: /house/t\n    value: "{secret.telegram_token}"\n',
            "6:13: actions[0].value",
        ),
        ("  - event: /event/{secret.telegram_token}\n", "5:19: actions[0].event"),
        ('  - log: "token {secret.telegram_token}"\n', "5:17: actions[0].log"),
        (
            '  - device: "{host}.gpio.lamp"\n    action: "on"\n'
            '    value: {x: "{secret.telegram_token}"}\n',
            "7:17: actions[0].value.x",
        ),
        (
            '  - http: "https://x.example/"\n'
            "    expr: \"kv('/k/{secret.telegram_token}')\"\n",
            "6:19: actions[0].expr",
        ),
    ],
)
def test_a_secret_anywhere_else_is_refused_at_its_line_and_column(
    lines: str, where: str
) -> None:
    text = "name: leak\ntriggers:\n  - event: /event/door\nactions:\n" + lines
    assert validate_scenario(text, "leak.yaml") == [
        f"leak.yaml:{where}: {ONLY_IN_HTTP}"
    ]


def test_a_secret_name_of_two_words_or_with_a_format_is_refused() -> None:
    text = (
        "name: bad\nactions:\n"
        '  - http: "https://x.example/{secret.a.b}"\n'
        '  - http: "https://x.example/{secret.n:.1f}"\n'
    )
    assert validate_scenario(text, "bad.yaml") == [
        "bad.yaml:3:30: actions[0].http: a secret's name is one word: {secret.NAME}",
        "bad.yaml:4:30: actions[1].http: {secret.n} is text as the secrets file "
        "has it: no format",
    ]


def test_a_secret_the_file_lacks_is_a_warning_at_its_place() -> None:
    scn = load_scenario(TELL, "tell.yaml")
    loaded = Loaded(SECRETS, {"api_key": KEY})
    assert secret_warnings(scn, TELL, loaded) == [
        (5, 11, f"http: secret telegram_token: not in {SECRETS}: {WHY}")
    ]
    assert secret_warnings(scn, TELL, Loaded(SECRETS, {"telegram_token": "x"})) == [
        (7, 22, f"Authorization: secret api_key: not in {SECRETS}: {WHY}"),
        (10, 13, f"text: secret api_key: not in {SECRETS}: {WHY}"),
    ]
    gone = Loaded(SECRETS, problem=f"{SECRETS}: no such file")
    assert secret_warnings(scn, TELL, gone)[0] == (
        5,
        11,
        f"http: secret telegram_token: {SECRETS}: no such file: {WHY}",
    )


def _tell(
    secrets: dict[str, str], value: str = "open"
) -> tuple[Harness, list[engine.Output]]:
    [action] = load_scenario(TELL, "tell.yaml").actions
    h = harness(scenario([action], [m.EventTrigger(DOOR)]), secrets=secrets)
    return h, h.change(DOOR, value)


def test_a_run_sends_the_secrets_and_shows_none_of_them() -> None:
    h, outputs = _tell({"telegram_token": TOKEN, "api_key": KEY}, "{secret.api_key}")
    [request] = requests(outputs)
    sent = decode_request(request.body)
    assert (sent.url, sent.headers[0], json.loads(sent.body)) == (
        f"https://api.telegram.org/bot{TOKEN}/sendMessage",
        ("Authorization", f"Bearer {KEY}"),
        # a value from the tree is not a template: its `{secret.…}` stays text
        {"chat_id": 42, "text": f"Door {{secret.api_key}} ({KEY})"},
    )
    echo = f"Not Found: /bot{TOKEN}/sendMessage, key {KEY}".encode()
    h.reply(request, *encode_outcome(Answer(404, "Not Found", echo)))
    assert h.state is State.ERROR
    status = h.core.status
    assert status.last_error == (
        "http POST https://api.telegram.org/…: 404 Not Found: Not Found: "
        "/bot{secret.telegram_token}/sendMessage, key {secret.api_key}"
    )
    shown = "\n".join([*status.last_trace, status.last_error])
    assert TOKEN not in shown
    assert KEY not in shown


def test_a_secret_the_file_lacks_fails_the_run_naming_it_and_sends_nothing() -> None:
    h, outputs = _tell({"api_key": KEY})
    assert requests(outputs) == []
    assert h.core.status.last_error == (
        f"http POST https://api.telegram.org/…: secret telegram_token: not in {SECRETS}"
    )


def test_a_hub_without_a_secrets_file_fails_the_run_naming_the_secret() -> None:
    [action] = load_scenario(TELL, "tell.yaml").actions
    h = harness(scenario([action], [m.EventTrigger(DOOR)]))
    assert requests(h.change(DOOR, "open")) == []
    assert h.core.status.last_error == (
        "http POST https://api.telegram.org/…: secret telegram_token: "
        "this hub has no secrets file"
    )


@pytest.mark.parametrize(
    ("url", "value"),
    [
        # the check of a host lowercases it, and urllib quotes what follows a colon
        ("http://{secret.hook}/x", "Hook&Token-9"),
        ("http://h{secret.hook}/x", "h:AAsecretToken"),
        ("{secret.hook}", "discord.com/api/webhooks/1/AAsecret"),
    ],
)
def test_a_url_a_secret_makes_bad_is_refused_without_a_piece_of_it(
    url: str, value: str
) -> None:
    """A URL the check refuses once a secret is in it: the check's own words quote
    the URL's parts, changed (a host lowercased, a port cut at a colon), which the
    hiding of exact forms misses; the reason names the secret instead."""
    text = f'name: t\ntriggers:\n  - event: /event/door\nactions:\n  - http: "{url}"\n'
    [action] = load_scenario(text, "t.yaml").actions
    h = harness(scenario([action], [m.EventTrigger(DOOR)]), secrets={"hook": value})
    assert requests(h.change(DOOR, "open")) == []
    reason = h.core.status.last_error
    assert reason is not None
    assert reason.endswith(
        ": not a URL once {secret.hook} is filled in (not shown here: look at its"
        f" value in {SECRETS})"
    ), reason
    for piece in ("hook&token", "AAsecret", "discord"):
        assert piece not in reason.lower(), reason


def test_a_secret_the_shown_url_would_cut_is_not_shown_in_part() -> None:
    """The reason shows a URL's scheme and host, its path as `/…`: a secret in the
    host with a `/` in its value is put back as its name before that cut, not
    left as the piece before the `/`."""
    text = (
        "name: t\ntriggers:\n  - event: /event/door\nactions:\n"
        '  - http: "http://{secret.hook}x"\n'
    )
    [action] = load_scenario(text, "t.yaml").actions
    secrets = {"hook": "hooks.example/AAsecret-path/"}
    h = harness(scenario([action], [m.EventTrigger(DOOR)]), secrets=secrets)
    [request] = requests(h.change(DOOR, "open"))
    assert decode_request(request.body).url == "http://hooks.example/AAsecret-path/x"
    assert h.core.status.run_trace[-1] == "+0.0s http POST http://{secret.hook}x"
