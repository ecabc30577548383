"""The `http:` action in a run (ScenarioCore, fake clock): the request it gives the
`<host>.http` service, and how the service's reply ends the action; the reason of a
failure names the action by its method and URL, never the URL's query or user nor a
header's value."""

from __future__ import annotations

import json
import math

import pytest
from support.scenario_engine import Harness, harness, requests, scenario

from raspy.http_reply import Answer, Failure, encode_outcome
from raspy.http_request import (
    JSON_TYPE,
    TEXT_TYPE,
    HttpRequest,
    decode_request,
)
from raspy.rules import engine
from raspy.rules import model as m
from raspy.rules.engine import State
from raspy.rules.expr import compile_expression
from raspy.rules.run_http import HTTP_GRACE_S

DOOR = "/event/door"
NTFY = "https://ntfy.sh/my-house"
VARIABLES = {"ntfy": NTFY, "token": "tk_secret"}


def _fired(
    action: m.HttpAction, value: object = "front"
) -> tuple[Harness, list[engine.Output]]:
    h = harness(scenario([action], [m.EventTrigger(DOOR)], variables=VARIABLES))
    return h, h.change(DOOR, value)  # type: ignore[arg-type]  # a JSON value


def _sent(outputs: list[engine.Output]) -> HttpRequest:
    [request] = requests(outputs)
    assert request.service == "hub.http"
    return decode_request(request.body)


def test_a_text_body_goes_as_text_with_its_headers_filled_in() -> None:
    action = m.HttpAction(
        "{ntfy}",
        body="Freezer at {trigger.value:.1f} °C",
        has_body=True,
        headers=(
            ("Title", "Freezer {trigger.key}"),
            ("Authorization", "Bearer {token}"),
        ),
    )
    h, outputs = _fired(action, -12.46)
    assert _sent(outputs) == HttpRequest(
        "POST",
        NTFY,
        (
            ("Title", "Freezer /event/door"),
            ("Authorization", "Bearer tk_secret"),
            ("Content-Type", TEXT_TYPE),
        ),
        "Freezer at -12.5 °C".encode(),
        10.0,
        h.mono + 10.0 + HTTP_GRACE_S,  # the service is told when the run gives up
    )
    [request] = requests(outputs)
    assert request.deadline == h.mono + 10.0 + HTTP_GRACE_S
    h.reply(request, *encode_outcome(Answer(200, "OK", b"{}")))
    assert h.state is State.IDLE
    assert h.core.status.last_trace[:2] == (
        "+0.0s http POST https://ntfy.sh/…",
        "+0.0s http POST https://ntfy.sh/…: 200 OK",
    )


def test_any_other_body_goes_as_json_and_a_content_type_given_is_kept() -> None:
    h, outputs = _fired(
        m.HttpAction(
            "https://hook.example/api/webhook/x",
            "PUT",
            {"door": "{trigger.value}", "n": [1, None]},
            True,
            timeout_s=30,
        )
    )
    assert _sent(outputs) == HttpRequest(
        "PUT",
        "https://hook.example/api/webhook/x",
        (("Content-Type", JSON_TYPE),),
        json.dumps({"door": "front", "n": [1, None]}).encode(),
        30.0,
        h.mono + 30.0 + HTTP_GRACE_S,
    )
    _, outputs = _fired(
        m.HttpAction(
            NTFY,
            expr=compile_expression("'a=' + str(trigger.value)"),
            headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        )
    )
    sent = _sent(outputs)
    assert (sent.body, sent.headers) == (
        b"a=front",
        (("Content-Type", "application/x-www-form-urlencoded"),),
    )
    _, outputs = _fired(m.HttpAction(NTFY, body=None, has_body=True))
    assert _sent(outputs).body == b"null"
    h, outputs = _fired(m.HttpAction(NTFY + "/ping", "GET"))
    assert _sent(outputs) == HttpRequest(
        "GET", NTFY + "/ping", give_up_at=h.mono + 10.0 + HTTP_GRACE_S
    )


def test_an_answer_that_is_not_2xx_fails_the_run_naming_the_action() -> None:
    url = "https://user:pw@ntfy.sh/my-house?auth=tk_secret"
    h, outputs = _fired(m.HttpAction(url))
    [request] = requests(outputs)
    h.reply(request, *encode_outcome(Answer(404, "Not Found", b"no such\ntopic")))
    assert h.state is State.ERROR
    assert h.core.status.last_error == (
        "http POST https://ntfy.sh/…: 404 Not Found: no such topic"
    )


def test_no_connection_and_no_answer_from_the_service_fail_the_run() -> None:
    h, outputs = _fired(m.HttpAction(NTFY, timeout_s=2))
    h.reply(
        requests(outputs)[0], *encode_outcome(Failure("connect", "connection refused"))
    )
    assert h.core.status.last_error == "http POST https://ntfy.sh/…: connection refused"
    h.change(DOOR, "back")
    [second] = requests(h.outputs)[1:]
    h.advance(2 + HTTP_GRACE_S - 0.01)
    assert h.state is State.RUNNING
    h.advance(0.01)
    assert h.core.status.last_error == (
        "http POST https://ntfy.sh/…: hub.http did not answer within 7s"
    )
    assert h.reply(second, b"200", b"{}") == []  # too late: nothing happens


def test_with_the_http_service_off_the_run_fails_at_once_and_sends_nothing() -> None:
    """[http_client] enabled = false (the core is told): no 7 s of waiting for a
    service that is not there, and a reason that says why."""
    action = m.HttpAction(NTFY, timeout_s=2)
    h = harness(scenario([action], [m.EventTrigger(DOOR)]), http_service=False)
    assert requests(h.change(DOOR, "front")) == []
    assert h.state is not State.RUNNING
    assert h.core.status.last_error == (
        "http POST https://ntfy.sh/…: raspyd's [http_client] enabled = false: "
        "nothing was sent"
    )


def test_a_url_or_a_header_that_a_template_spoils_fails_before_anything_is_sent() -> (
    None
):
    h, outputs = _fired(m.HttpAction("{trigger.value}/x"), "ftp://host")
    assert requests(outputs) == []
    assert h.core.status.last_error == (
        "http POST ftp://host/…: expected a URL starting with http:// or https://, "
        'got "ftp://host/…"'
    )
    h, outputs = _fired(
        m.HttpAction(NTFY, headers=(("Title", "{trigger.value}"),)), "a\r\nX-Evil: 1"
    )
    assert requests(outputs) == []
    assert h.core.status.last_error == (
        "http POST https://ntfy.sh/…: header Title: its value has a line break or another "
        "control character"
    )
    assert "X-Evil" not in "".join(h.core.status.last_trace)


_NO_SCHEME = "expected a URL starting with http:// or https://"
_NO_HOST = "a URL needs a host (https://HOST/...)"


@pytest.mark.parametrize(
    ("url", "shown", "why"),
    [
        ("https//api.telegram.org/bot1:SECRET/send", "https/…", _NO_SCHEME),
        ("https:/hooks.slack.com/services/T0/B0/SECRET", "https:/…", _NO_HOST),
        ("me:pw@ntfy.sh/my-topic?auth=SECRET", "ntfy.sh/…", _NO_SCHEME),
    ],
)
def test_a_url_a_template_makes_without_its_scheme_s_slashes_shows_no_path(
    url: str, shown: str, why: str
) -> None:
    """docs/scenarios.md (Telling a phone): raspy shows a URL's scheme and host,
    never its path, query or user:password, in the scenario's last_error that every
    reader of the tree sees. A URL missing the `:` or a `/` of its `://` (a typo
    in a variable or a tree value) was shown whole, a bot's token with it."""
    h, outputs = _fired(m.HttpAction("{trigger.value}"), url)
    assert requests(outputs) == []
    assert h.core.status.last_error == f'http POST {shown}: {why}, got "{shown}"'
    assert "SECRET" not in "".join(h.core.status.last_trace)


def test_a_lone_surrogate_from_the_tree_is_a_fault_naming_where_it_went() -> None:
    """JSON may escape half of a UTF-16 pair; such text has no UTF-8 to send."""
    h, outputs = _fired(
        m.HttpAction(NTFY, body="{trigger.value}", has_body=True), "\ud800"
    )
    assert requests(outputs) == []
    assert h.core.status.last_error == (
        "http POST https://ntfy.sh/…: a body that is not UTF-8 text (a lone surrogate)"
    )
    h, outputs = _fired(
        m.HttpAction(NTFY, headers=(("Title", "{trigger.value}"),)), "\ud800"
    )
    assert h.core.status.last_error == (
        "http POST https://ntfy.sh/…: header Title: its value is not UTF-8 text (a lone surrogate)"
    )


@pytest.mark.parametrize(
    "action",
    [
        m.HttpAction(NTFY, body={"v": "{trigger.value}"}, has_body=True),
        m.HttpAction(NTFY, body="{trigger.value}", has_body=True),
        m.HttpAction(NTFY, expr=compile_expression("[1, trigger.value]")),
    ],
    ids=["in-a-mapping", "alone", "expr"],
)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_body_holding_a_number_that_is_not_finite_fails_naming_the_action(
    action: m.HttpAction, value: float
) -> None:
    """A tree value `1e400` reads as an infinity: the run failed in Python's
    words (`ValueError: Out of range float values are not JSON compliant`)."""
    h, outputs = _fired(action, value)
    assert requests(outputs) == []
    assert h.core.status.last_error == (
        "http POST https://ntfy.sh/…: the body is or holds a number that is not finite"
    )


def test_a_json_body_holding_a_lone_surrogate_is_sent_with_its_escape() -> None:
    _, outputs = _fired(
        m.HttpAction(NTFY, body={"v": "{trigger.value}"}, has_body=True), "a\ud800"
    )
    assert _sent(outputs).body == b'{"v": "a\\ud800"}'


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (
            m.HttpAction(NTFY + "/tk_secret?t={trigger.value}"),
            "http POST https://ntfy.sh/…: url: {trigger.value} is or holds a number "
            "that is not finite (at offset 37)",
        ),
        (
            m.HttpAction(
                NTFY, headers=(("Authorization", "tk_secret {trigger.value}"),)
            ),
            "http POST https://ntfy.sh/…: header Authorization: {trigger.value} is or "
            "holds a number that is not finite (at offset 10)",
        ),
        (
            m.HttpAction(NTFY, body="at {trigger.value}", has_body=True),
            "http POST https://ntfy.sh/…: body: {trigger.value} is or holds a number "
            "that is not finite (at offset 3 of 'at {trigger.value}')",
        ),
    ],
    ids=["url", "header", "body"],
)
def test_a_text_filled_with_a_number_json_has_not_names_the_action_not_the_url(
    action: m.HttpAction, reason: str
) -> None:
    """docs/scenarios.md (Telling a phone): raspy never shows a URL's path or
    query nor a header's value. A tree value `1e400` (an infinity) in a text of
    them failed the run quoting the template whole, path, query, token and all,
    in the last_error every reader of the tree sees, and naming no action."""
    h, outputs = _fired(action, math.inf)
    assert requests(outputs) == []
    assert h.core.status.last_error == reason
    assert "tk_secret" not in "".join(h.core.status.last_trace)
