"""`{secret.NAME}` in scenarios: allowed only in an `http:` action's url, headers and
body (refused anywhere else at import, with line and column), a name the secrets
file lacks a warning at import and a failure naming it at run time, and no value
ever in the trace or a reason, a server's answer that echoes it included."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from support.scenario_engine import SECRETS, Harness, harness, requests, scenario

from raspy.http_reply import Answer, encode_outcome
from raspy.http_request import check_url, decode_request
from raspy.rules import engine
from raspy.rules import model as m
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.engine import State
from raspy.rules.secret_uses import WHY, secret_warnings, secrets_named, uses_secrets
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


def test_only_a_scenario_that_names_a_secret_uses_secrets() -> None:
    """The import reads the secrets file for those only."""
    assert uses_secrets(load_scenario(TELL, "tell.yaml"))
    plain = TELL.replace("{secret.telegram_token}", "123")
    plain = plain.replace("{secret.api_key}", "{trigger.value}")
    assert not uses_secrets(load_scenario(plain, "plain.yaml"))


def test_the_secrets_a_scenario_names_are_sorted_and_once_each() -> None:
    """What the start compares with the file's names: every `http:` action's url,
    headers and body, a name in two places or two actions once."""
    second = '  - http: "https://ntfy.sh/{secret.zone_key}/{secret.api_key}"\n'
    scn = load_scenario(TELL + second, "tell.yaml")
    assert secrets_named(scn) == ["api_key", "telegram_token", "zone_key"]
    plain = TELL.replace("{secret.telegram_token}", "123")
    plain = plain.replace("{secret.api_key}", "{trigger.value}")
    assert secrets_named(load_scenario(plain, "plain.yaml")) == []


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
    # an answer to a request that carried a secret: its status line alone
    assert status.last_error == "http POST https://api.telegram.org/…: 404 Not Found"
    shown = "\n".join([*status.last_trace, status.last_error])
    assert TOKEN not in shown
    assert KEY not in shown


LONG = "tk_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


@pytest.mark.parametrize(
    ("secret", "body"),
    [
        # cut at the 200 characters a reason quotes: half the token
        (LONG, f"{'x' * 180} token {LONG} rejected".encode()),
        # escaped in JSON, squeezed to one space: hidden() finds neither
        ('to"ken', json.dumps({"error": 'bad key to"ken'}).encode()),
        ("two  spaces", b"bad key two  spaces"),
    ],
)
def test_an_answer_to_a_request_with_a_secret_is_shown_by_its_status_alone(
    secret: str, body: bytes
) -> None:
    h, outputs = _tell({"telegram_token": "123:abc", "api_key": secret})
    [request] = requests(outputs)
    h.reply(request, *encode_outcome(Answer(401, "Unauthorized", body)))
    status = h.core.status
    assert status.last_error == (
        "http POST https://api.telegram.org/…: 401 Unauthorized"
    )
    assert status.last_trace[-1].endswith(
        "https://api.telegram.org/…: 401 Unauthorized"
    )
    shown = "\n".join([*status.last_trace, status.last_error])
    assert "bad" not in shown
    assert "ABCDEF" not in shown


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


def _sent(url: str, secrets: dict[str, str]) -> tuple[str | None, str | None]:
    """(the URL sent, or None; the run's last error) of one `http: url` run."""
    h = harness(scenario([m.HttpAction(url)], [m.EventTrigger(DOOR)]), secrets=secrets)
    sent = requests(h.change(DOOR, "open"))
    return (
        decode_request(sent[0].body).url if sent else None,
        h.core.status.last_error,
    )


@pytest.mark.parametrize(
    ("url", "secret", "wire"),
    [
        (
            "https://bot:{secret.S}@api.example.com/send",
            "s3cr3tPart/xyz",
            "https://bot:s3cr3tPart%2Fxyz@api.example.com/send",
        ),
        (
            "https://api.example.com/hook/{secret.S}?to=me",
            "a?b#c@d%e f/é",
            "https://api.example.com/hook/a%3Fb%23c%40d%25e%20f%2F%C3%A9?to=me",
        ),
        (
            "https://api.example.com/send?token={secret.S}&to=me",
            "k&to=them",
            "https://api.example.com/send?token=k%26to%3Dthem&to=me",
        ),
    ],
)
def test_a_secret_in_a_url_is_percent_encoded_and_cannot_end_its_part(
    url: str, secret: str, wire: str
) -> None:
    assert _sent(url, {"S": secret}) == (wire, None)


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        (
            "https://api.telegram.org/bot{secret.T}/sendMessage",
            {"T": "123456789:AAH-x_Yz09.~"},
        ),
        ("https://ntfy.sh/{secret.T}", {"T": "my-house_7fq2k"}),
        ("https://ntfy.example/{secret.T}?auth={secret.K}", {"T": "a", "K": "tk_9"}),
    ],
)
def test_a_telegram_token_or_an_ntfy_topic_makes_the_url_it_made_before(
    url: str, secrets: dict[str, str]
) -> None:
    written = url
    for name, value in secrets.items():
        written = written.replace(f"{{secret.{name}}}", value)
    assert _sent(url, secrets) == (check_url(written), None)
    assert check_url(written) == written


def test_a_url_error_names_the_url_with_its_secrets_and_not_urlsplit() -> None:
    """A secret in a port (which the import refuses): urlsplit's message would
    quote it."""
    assert _sent("https://api.example.com:{secret.P}/x", {"P": "s3cr3t"}) == (
        None,
        "http POST https://api.example.com:{secret.P}/…: not a URL: "
        '"https://api.example.com:{secret.P}/…"',
    )


HOST_WRITTEN = (
    "may be sent only to a host written out: write the URL's scheme, host and port "
    "in it (https://api.example.com/…), not filled in by a template, which would "
    "let whoever writes its value choose where the secret goes"
)


def _http(url: str, more: str = "") -> str:
    return (
        "name: hook\ntriggers:\n  - event: /event/door\nactions:\n"
        f'  - http: "{url}"\n{more}'
    )


@pytest.mark.parametrize(
    ("url", "more", "secret"),
    [
        ("{trigger.value}/send?token={secret.T}", "", "T"),
        ("https://{trigger.value}/send?token={secret.T}", "", "T"),
        ("https://api.example.com{trigger.value}/send?token={secret.T}", "", "T"),
        ("https://api.example.com:{trigger.value}/send?token={secret.T}", "", "T"),
        # a tree value with `evil.example/` before the @ would end the authority
        ("https://{trigger.value}@api.example.com/send?token={secret.T}", "", "T"),
        ("{trigger.value}/send", '    headers: {X-Key: "{secret.K}"}\n', "K"),
        ("https://{trigger.value}/send", '    body: {key: "{secret.K}"}\n', "K"),
    ],
)
def test_a_secret_sent_to_a_host_a_template_fills_in_is_refused(
    url: str, more: str, secret: str
) -> None:
    """Whoever writes the trigger's key (a Clone client, MQTT, the web face) would
    choose where the token goes."""
    assert validate_scenario(_http(url, more), "hook.yaml") == [
        f"hook.yaml:5:11: actions[0].http: {{secret.{secret}}} {HOST_WRITTEN}"
    ]


@pytest.mark.parametrize(
    ("url", "more"),
    [
        ("https://bot:{secret.T}@api.example.com/send", ""),
        ("https://api.example.com:8443/{trigger.value}?token={secret.T}", ""),
        ("https://api.example.com?token={secret.T}", ""),
        ("https://api.example.com", '    headers: {X-Key: "{secret.K}"}\n'),
        ("{trigger.value}/send", '    body: {key: "{trigger.value}"}\n'),
    ],
)
def test_a_secret_sent_to_a_host_written_out_is_imported(url: str, more: str) -> None:
    assert validate_scenario(_http(url, more), "hook.yaml") == []


@pytest.mark.parametrize(
    ("url", "value"),
    [
        # the check of a host lowercases it, and urllib quotes what follows a colon
        ("http://{secret.hook}/x", "Hook&Token-9"),
        ("http://h{secret.hook}/x", "h:AAsecretToken"),
        ("{secret.hook}", "discord.com/api/webhooks/1/AAsecret"),
        ("http://{secret.hook}x", "hooks.example/AAsecret-path/"),
    ],
)
def test_a_secret_in_the_host_is_refused_at_import_and_a_run_shows_no_piece_of_it(
    url: str, value: str
) -> None:
    """A secret where the host goes is refused at import (whoever writes it would
    choose where it goes). Should a run ever meet one (the model built without the
    import), what it shows quotes no piece of the value: the check's own words
    would quote the URL's parts changed (a host lowercased, a port cut at a colon,
    the path cut at a `/`), which the hiding of exact forms misses."""
    text = f'name: t\ntriggers:\n  - event: /event/door\nactions:\n  - http: "{url}"\n'
    [problem] = validate_scenario(text, "t.yaml")
    assert HOST_WRITTEN in problem
    h = harness(
        scenario([m.HttpAction(url)], [m.EventTrigger(DOOR)]), secrets={"hook": value}
    )
    outputs = h.change(DOOR, "open")
    shown = " ".join([h.core.status.last_error or "", *h.core.status.run_trace])
    assert "{secret.hook}" in shown
    for piece in ("hook&token", "aasecret", "discord"):
        assert piece not in shown.lower(), shown
    for request in requests(outputs):  # sent: percent-encoded, within the host
        assert "/" not in urlsplit(decode_request(request.body).url).netloc
