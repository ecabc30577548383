"""The `http:` action of a run (rules.run_walk calls it): the request for `<host>.http`
filled in and checked, and the reason of a failure, which names the action by its
method and URL, never the URL's query or user nor a header's value (tokens go there).

Its url, headers and body may fill in secrets (`{secret.NAME}`, raspy.secrets_file),
read from the file as it is when the action runs; in the URL percent-encoded, so
that none ends its part. A secret's value is in the request alone: the action is
named by its URL with each secret as its `{secret.NAME}`, every other line of the
trace and every reason (the run's `last_error`, the log) has it replaced so, and an
answer is said by its status line alone (a server may echo what it was sent)."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Final

from raspy import http_reply, http_request, json_text
from raspy.devices.template import JsonValue
from raspy.names import HTTP_SERVICE
from raspy.rules import model
from raspy.rules.run_scope import RunScope
from raspy.rules.run_steps import Reply, Resume, RunFailed, SendRequest, Step
from raspy.rules.template import secret_names, value_strings

# an `http:` action waits for the service this much longer than its timeout: the
# service says "no answer within 10s" itself, and a request may wait its turn behind
# others ([http_client] max_concurrent)
HTTP_GRACE_S: Final = 5.0
WHY_OFF: Final = "raspyd's [http_client] enabled = false: nothing was sent"


def secrets_used(action: model.HttpAction) -> list[str]:
    """The names of the secrets the action's url, headers and body fill in, once
    each, in order."""
    texts = [action.url, *(value for _, value in action.headers)]
    texts += value_strings(action.body)
    return list(dict.fromkeys(name for text in texts for name in secret_names(text)))


def http_step(
    scope: RunScope, action: model.HttpAction
) -> Generator[Step, Resume, None]:
    """A request through `<host>.http`; anything but a 2xx answer fails the run,
    with a reason that names the action by its method and URL (never the URL's
    query or user, nor a header's value: tokens go there; nor a secret)."""
    used = secrets_used(action)
    secrets: dict[str, str] = {}
    if used:
        loaded = scope.env.secrets()
        for name in used:
            if name not in loaded.values:
                shown = http_request.shown_url(action.url)
                raise RunFailed(f"http {action.method} {shown}: {loaded.missing(name)}")
            secrets[name] = loaded.values[name]
    try:
        yield from _request(scope, action, secrets)
    except RunFailed as exc:
        raise RunFailed(http_request.hidden(str(exc), secrets)) from None


def _body(what: str, given: JsonValue) -> tuple[bytes, str]:
    """The body's bytes and type: a text as it is, any other value as its JSON
    (json_text's: a lone surrogate escaped as it was read); a number that is not
    finite (a tree value `1e400`) fails the run naming the action, as a `set`
    and a `device` do."""
    if isinstance(given, str):
        encoded = http_request.body_bytes(given)
        if encoded is None:
            raise RunFailed(f"{what}: a body that is not UTF-8 text (a lone surrogate)")
        return encoded, http_request.TEXT_TYPE
    try:
        return json_text.encode(given), http_request.JSON_TYPE
    except ValueError:
        raise RunFailed(
            f"{what}: the body is or holds a number that is not finite"
        ) from None


def _request(
    scope: RunScope,
    action: model.HttpAction,
    secrets: Mapping[str, str],
) -> Generator[Step, Resume, None]:
    # a secret in the URL is percent-encoded: its / ? # @ never end its part; what
    # names the action (and a URL's problem) is the URL with each as {secret.NAME};
    # one a field cannot fill is named as written, and never quoted (its path)
    def unfilled() -> str:
        return f"http {action.method} {http_request.shown_url(action.url)}: url"

    if secrets:
        filled = scope.text(
            action.url,
            unfilled,
            {name: http_request.url_secret(value) for name, value in secrets.items()},
            quoted=False,
        )
        named = scope.text(
            action.url,
            unfilled,
            {name: f"{{secret.{name}}}" for name in secrets},
            quoted=False,
        )
        in_url = bool(secret_names(action.url))
    else:  # the common case: one fill, no parse
        filled = named = scope.text(action.url, unfilled, quoted=False)
        in_url = False
    what = f"http {action.method} {http_request.shown_url(named)}"
    try:
        url = http_request.check_url(filled, shown_as=named if in_url else None)
    except http_request.UrlError as exc:
        raise RunFailed(f"{what}: {exc}") from None
    if not scope.env.http_service:  # not 15 s of waiting for a service that is off
        raise RunFailed(f"{what}: {WHY_OFF}")
    headers: list[tuple[str, str]] = []
    for name, template in action.headers:
        where = f"{what}: header {name}"
        value = scope.text(template, where, secrets, quoted=False)
        problem = http_request.header_value_problem(value)
        if problem is not None:
            raise RunFailed(f"{where}: {problem}")
        headers.append((name, value))
    body = b""
    if action.expr is not None or action.has_body:
        body, kind = _body(
            what,
            scope.value_of(action.body, action.expr, lambda: what, secrets, "body"),
        )
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
            action.method,
            url,
            tuple(headers),
            body,
            action.timeout_s,
            deadline,
            tuple(secrets.items()),  # the service hides them in what it logs
        )
    )
    service = f"{scope.env.host}.{HTTP_SERVICE}"
    scope.note(lambda: what)
    answer = yield SendRequest(scope.env.next_request_id(), service, frames, deadline)
    if not isinstance(answer, Reply):
        raise RunFailed(f"{what}: {service} did not answer within {patience_s:g}s")
    # a server may echo what it was sent: with a secret, the status line alone
    ok, said = http_reply.reply_reason(answer.body, bare=bool(secrets))
    said = http_request.hidden(said, secrets)
    scope.note(lambda: f"{what}: {said}")
    if not ok:
        raise RunFailed(f"{what}: {said}")
