"""The `http:` action of a run (rules.run_walk calls it): the request for `<host>.http`
filled in and checked, and the reason of a failure, which names the action by its
method and URL, never the URL's query or user nor a header's value (tokens go there)."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Final

from raspy import http_request
from raspy.names import HTTP_SERVICE
from raspy.rules import model
from raspy.rules.run_scope import RunScope
from raspy.rules.run_steps import Reply, Resume, RunFailed, SendRequest, Step

# an `http:` action waits for the service this much longer than its timeout: the
# service says "no answer within 10s" itself, and a request may wait its turn behind
# others ([http_client] max_concurrent)
HTTP_GRACE_S: Final = 5.0
WHY_OFF: Final = "raspyd's [http_client] enabled = false: nothing was sent"


def http_step(
    scope: RunScope, action: model.HttpAction
) -> Generator[Step, Resume, None]:
    """A request through `<host>.http`; anything but a 2xx answer fails the run,
    with a reason that names the action by its method and URL (never the URL's
    query or user, nor a header's value: tokens go there)."""
    filled = scope.text(action.url)
    what = f"http {action.method} {http_request.shown_url(filled)}"
    try:
        url = http_request.check_url(filled)
    except http_request.UrlError as exc:
        raise RunFailed(f"{what}: {exc}") from None
    if not scope.env.http_service:  # not 15 s of waiting for a service that is off
        raise RunFailed(f"{what}: {WHY_OFF}")
    headers: list[tuple[str, str]] = []
    for name, template in action.headers:
        value = scope.text(template)
        problem = http_request.header_value_problem(value)
        if problem is not None:
            raise RunFailed(f"{what}: header {name}: {problem}")
        headers.append((name, value))
    body = b""
    if action.expr is not None or action.has_body:
        given = scope.value_of(action.body, action.expr, lambda: what)
        if isinstance(given, str):  # text as it is; any other value as its JSON
            text, kind = given, http_request.TEXT_TYPE
        else:
            text = json.dumps(given, ensure_ascii=False, allow_nan=False)
            kind = http_request.JSON_TYPE
        encoded = http_request.body_bytes(text)
        if encoded is None:
            raise RunFailed(f"{what}: a body that is not UTF-8 text (a lone surrogate)")
        body = encoded
        if len(body) > http_request.MAX_BODY_BYTES:
            raise RunFailed(
                f"{what}: a body of {len(body)} bytes; at most "
                f"{http_request.MAX_BODY_BYTES}"
            )
        if all(name.lower() != "content-type" for name, _ in headers):
            headers.append(("Content-Type", kind))
    patience_s = action.timeout_s + HTTP_GRACE_S
    deadline = scope.clock.mono + patience_s
    # the service is told when the run stops waiting: a request whose turn comes
    # after that is not sent, so a phone is never told after the run failed
    frames = http_request.encode_request(
        http_request.HttpRequest(
            action.method, url, tuple(headers), body, action.timeout_s, deadline
        )
    )
    service = f"{scope.env.host}.{HTTP_SERVICE}"
    scope.note(lambda: what)
    answer = yield SendRequest(scope.env.next_request_id(), service, frames, deadline)
    if not isinstance(answer, Reply):
        raise RunFailed(f"{what}: {service} did not answer within {patience_s:g}s")
    ok, said = http_request.reply_reason(answer.body)
    scope.note(lambda: f"{what}: {said}")
    if not ok:
        raise RunFailed(f"{what}: {said}")
