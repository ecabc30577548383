"""The `http:` action of a scenario document -> rules.model.HttpAction (problems
recorded in Checks, never raised). What can be checked at import is: a URL written
out whole (http:// or https://, a host), the scheme of one that starts written out
(`https://ntfy.sh/{topic}`), the method, the header names and the header values
written out; what templates fill in is checked when the action runs. Only here may a
template fill in a secret (`{secret.NAME}`, rules.template): in the url, the headers
and a `body:` (not an `expr:`, whose values a secret never reaches), and only
when the URL writes out its scheme, host and port (a template there would choose
where the secret goes)."""

from __future__ import annotations

import math
import re
from typing import Final

import yaml

from raspy import http_request
from raspy.errors import shown
from raspy.rules import model
from raspy.rules.document_checks import Checks
from raspy.rules.document_shapes import join
from raspy.rules.document_values import Entries, seconds, value_or_expr
from raspy.rules.document_yaml import Invalid, kind_of, scalar
from raspy.rules.template import (
    SECRET_PREFIX,
    parse,
    render,
    secret_names,
    value_strings,
)
from raspy.rules.template_field import Field

KEYS: Final = ("method", "body", "expr", "headers", "timeout")


def read_http(
    checks: Checks, entries: Entries, path: str, node: yaml.Node, where: str
) -> model.Action | None:
    with checks.secrets_allowed():  # `{secret.NAME}`: sent, never shown nor stored
        url = _url(checks, node, where)
    method = _method(checks, entries, path)
    with checks.secrets_allowed():
        given = value_or_expr(checks, entries, path, "body")
        headers = (
            _headers(checks, entries["headers"][1], join(path, "headers"))
            if "headers" in entries
            else ()
        )
    timeout_s = seconds(
        checks, entries, path, "timeout", http_request.DEFAULT_TIMEOUT_S
    )
    if not isinstance(timeout_s, Invalid) and timeout_s > http_request.MAX_TIMEOUT_S:
        checks.problem(
            entries["timeout"][1],
            join(path, "timeout"),
            f"expected at most {http_request.MAX_TIMEOUT_S:g}s, got {timeout_s:g}s",
        )
        return None
    sends = [key for key in ("body", "expr") if key in entries]
    if method == "GET" and sends:
        checks.problem(
            entries[sends[0]][0],
            path,
            f"a GET sends no body: leave out {sends[0]}: or use method: POST or PUT",
        )
        return None
    sent = [] if isinstance(given, Invalid) else value_strings(given[0])
    texts = [*(value for _, value in headers or ()), *sent]
    if url is not None and not _secret_goes_to_a_written_host(
        checks, node, where, url, texts
    ):
        return None
    if (
        url is None
        or method is None
        or isinstance(given, Invalid)
        or headers is None
        or isinstance(timeout_s, Invalid)
    ):
        return None
    body, expr = given
    return model.HttpAction(
        url, method, body, "body" in entries, headers, timeout_s, expr
    )


def _url(checks: Checks, node: yaml.Node, where: str) -> str | None:
    """The URL's template; one written out whole is checked here, and the scheme
    of one that begins written out."""
    url = checks.template(node, where, limit=http_request.MAX_URL_CHARS)
    if url is None:
        return None
    parts = parse(url)
    if all(isinstance(part, str) for part in parts):
        literal = render(url, {})
    else:
        start = parts[0] if isinstance(parts[0], str) else ""
        scheme, written, _ = start.partition("://")
        if written and scheme.lower() not in ("http", "https"):
            checks.problem(
                node,
                where,
                "expected a URL starting with http:// or https://, got "
                f"{shown(http_request.shown_url(url))}",
            )
            return None
        return url  # the rest is known when the action runs (`{ntfy}/freezer`)
    try:
        http_request.check_url(literal)
    except http_request.UrlError as exc:
        checks.problem(node, where, str(exc))
        return None
    return url


def _secret_goes_to_a_written_host(
    checks: Checks, node: yaml.Node, where: str, url: str, texts: list[str]
) -> bool:
    """Whether a secret the action sends (in `url` or the headers' and body's
    `texts`) goes to a scheme, host and port written out in `url`; if not, a
    problem: a template there would let whoever writes its value (a device key,
    an MQTT message, the web face) choose where the secret is sent."""
    names = [name for text in (url, *texts) for name in secret_names(text)]
    if not names or written_host(url):
        return True
    checks.problem(
        node,
        where,
        f"{{{SECRET_PREFIX}{names[0]}}} may be sent only to a host written out: "
        "write the URL's scheme, host and port in it (https://api.example.com/…), "
        "not filled in by a template, which would let whoever writes its value "
        "choose where the secret goes",
    )
    return False


def written_host(url: str) -> bool:
    """Whether the template `url` writes out its scheme, host and port: before
    them only a secret (in the user and password) is filled in, which is
    percent-encoded and cannot end its part (rules.run_http)."""
    masked = "".join(
        part
        if isinstance(part, str)
        else ("\0s" if part.name.startswith(SECRET_PREFIX) else "\0f")
        for part in parse(url)
    )
    scheme, sep, rest = masked.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    user, _, host_port = authority.rpartition("@")
    return (
        bool(sep and host_port) and "\0" not in scheme + host_port and "\0f" not in user
    )


def _method(checks: Checks, entries: Entries, path: str) -> str | None:
    if "method" not in entries:
        return "POST"
    node = entries["method"][1]
    raw = scalar(node)
    if isinstance(raw, str) and raw.upper() in http_request.METHODS:
        return raw.upper()
    checks.problem(
        node,
        join(path, "method"),
        f"expected one of {', '.join(http_request.METHODS)}, got {kind_of(node)}",
    )
    return None


def _headers(
    checks: Checks, node: yaml.Node, path: str
) -> tuple[tuple[str, str], ...] | None:
    """Header name -> value: text (a template) or a number (`Priority: 4`)."""
    entries = checks.mapping(node, path)
    if entries is None:
        return None
    if len(entries) > http_request.MAX_HEADERS:
        checks.problem(
            node,
            path,
            f"at most {http_request.MAX_HEADERS} headers, got {len(entries)}",
        )
        return None
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    ok = True
    for name, (key_node, value_node) in entries.items():
        where = join(path, name)
        problem = http_request.header_name_problem(name)
        if problem is None and name.lower() in seen:
            problem = "the same header twice (names are not case-sensitive)"
        seen.add(name.lower())
        if problem is not None:
            checks.problem(key_node, where, problem)
            ok = False
            continue
        value = _header_value(checks, value_node, where)
        if value is None:
            ok = False
            continue
        headers.append((name, value))
    return tuple(headers) if ok else None


def _header_value(checks: Checks, node: yaml.Node, where: str) -> str | None:
    """A header's value as text; a bare number is sent as written (a header is
    text on the wire: `X-Wake: 6:45` is not YAML's base-60 405, `010` not 8)."""
    raw = scalar(node)
    if isinstance(raw, float) and not math.isfinite(raw):  # `.nan` was sent as nan
        checks.problem(node, where, f"expected a finite number, got {kind_of(node)}")
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(node.value)
    if not isinstance(raw, str) or not isinstance(node, yaml.ScalarNode):
        checks.problem(
            node,
            where,
            "expected text or a number (a header's value), got "
            f"{kind_of(node, text_wanted=True)}",
        )
        return None
    value = checks.template(node, where, limit=http_request.MAX_HEADER_VALUE_BYTES)
    if value is None:
        return None
    if not any(isinstance(part, Field) for part in parse(value)):
        problem = http_request.header_value_problem(render(value, {}))
        if problem is not None:
            checks.problem(node, where, problem)
            return None
    return value
