"""The `<host>.http` service's requests, and the rules a URL and a header
of a scenario's `http:` action follow (pure: no socket, no clock).

A request is frame 0, JSON `{"v": 1, "method", "url", "headers": [[name, value],
...], "timeout_s"}`, and frame 1, the body's bytes (none: no body). An optional
`"give_up_at"` is when its sender stops waiting for the answer, in seconds of
raspyd's monotonic clock (the service answers raspyd's own parts only, which share
that clock): the service makes no request whose turn comes too late, and cuts one
short that would end after it. An optional `"secrets"`, `{name: value}`, are the secrets
its url, headers and body hold (`{secret.NAME}` filled in): the service hides them
in what it logs of an answer. Without it (an older sender), only `timeout_s` counts. The
reply is `raspy.http_reply`'s. README "The daemon" (its built-in services), docs/scenarios.md
"Telling a phone".

What is shown of a URL (logs, reasons, traces, a scenario's `last_error` in the tree)
is its scheme and host: never its path, query or user and password, which are where
secrets go (an ntfy topic, a Telegram bot's token, a webhook's id). A header's value
is never shown at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from raspy import json_text
from raspy.errors import MalformedMessage, shown
from raspy.records import frozen

METHODS: Final = ("GET", "POST", "PUT")
DEFAULT_TIMEOUT_S: Final = 10.0
MAX_TIMEOUT_S: Final = 60.0
MAX_URL_CHARS: Final = 8192
MAX_HEADERS: Final = 32
MAX_HEADER_VALUE_BYTES: Final = 8192
# a notification is a few hundred bytes; this fits one frame of the broker's default
# max_frame_bytes (1 MiB) with room to spare
MAX_BODY_BYTES: Final = 512 * 1024
MAX_REDIRECTS: Final = 3
SHOWN_URL_CHARS: Final = 120
JSON_TYPE: Final = "application/json"
TEXT_TYPE: Final = "text/plain; charset=utf-8"
# headers raspy writes itself: a wrong one would break the request on the wire
RESERVED_HEADERS: Final = frozenset(
    {"host", "content-length", "transfer-encoding", "connection"}
)
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")  # RFC 9110 §5.6.2
CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f\x7f]")  # refused in a URL or a header
_HOST: Final = re.compile(r"[A-Za-z0-9._-]{1,253}")
# what stays as it is in a path or query; the rest (a space, a letter beyond ASCII)
# is percent-encoded as UTF-8, as a browser sends it
URL_SAFE: Final = "!#$%&'()*+,/:;=?@[]~-._"
_USER_SAFE: Final = "!$&'()*+,;=:%-._~"
# what a secret filled into a URL keeps as it is besides letters, digits and -._~
# (a Telegram bot's token, an ntfy topic: the URL is what it was); the rest, / ? # @
# % among it, is percent-encoded, so that a secret never ends its part of the URL
_KEPT_AS_IS: Final = ":"
_VERSION: Final = 1
_FAR_S: Final = 1e15  # beyond any monotonic clock's seconds


class UrlError(ValueError):
    """A URL the service would not send a request to; the message says why."""


def url_secret(value: str) -> str:
    """A secret's value as it is filled into a URL (see _KEPT_AS_IS)."""
    return quote(value, safe=_KEPT_AS_IS, errors="surrogatepass")


def check_url(text: str, shown_as: str | None = None) -> str:
    """`text` as it goes on the wire (a space and letters beyond ASCII in its path
    and query percent-encoded, its #fragment left out), or UrlError: an http:// or
    https:// URL with a host, no control character, at most MAX_URL_CHARS.
    `shown_as`: the URL its messages name instead of `text` (secrets filled in:
    the URL with each as its `{secret.NAME}`); urlsplit's own words, which may
    quote any part of `text`, are then left out."""
    named = text if shown_as is None else shown_as
    if len(text) > MAX_URL_CHARS:
        raise UrlError(f"a URL of {len(text)} characters; at most {MAX_URL_CHARS}")
    if CONTROL_CHARS.search(text):
        raise UrlError(
            "a URL has no control characters (a line break?), got "
            f"{shown(shown_url(named))}"
        )
    if not _utf8(text):
        raise UrlError("a URL of text that is not UTF-8 (a lone surrogate)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        why = f" ({exc})" if shown_as is None else ""
        raise UrlError(f"not a URL{why}: {shown(shown_url(named))}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlError(
            "expected a URL starting with http:// or https://, got "
            f"{shown(shown_url(named))}"
        )
    host = parts.hostname or ""
    if not host:
        raise UrlError(
            f"a URL needs a host (https://HOST/...), got {shown(shown_url(named))}"
        )
    if ":" not in host and not _HOST.fullmatch(host):  # IPv6: urlsplit checked it
        raise UrlError(
            "expected a host name of letters, digits, '.', '-' (an international "
            f"one in its xn-- form), got {shown(host if shown_as is None else shown_url(named))}"
        )
    if port == 0:
        raise UrlError(f"expected a port 1..65535, got 0 in {shown(shown_url(named))}")
    user, at, host_port = parts.netloc.rpartition("@")
    netloc = quote(user, safe=_USER_SAFE) + at + host_port
    path = quote(parts.path, safe=URL_SAFE)
    query = quote(parts.query, safe=URL_SAFE)
    return urlunsplit((parts.scheme.lower(), netloc, path, query, ""))


def shown_url(url: str) -> str:
    """The URL as logs and reasons show it: scheme and host, its path as `/…`;
    never its user and password, path, query or fragment (an ntfy topic is read by
    whoever knows it, a Telegram bot's token and a webhook's id are in the path:
    a scenario's last error is in the tree, which every Clone client reads). Cut
    short; never raises, whatever the text."""
    text = url.split("#", 1)[0].split("?", 1)[0]
    scheme, sep, rest = text.partition("://")
    if not sep:  # no scheme to tell the host by (`https//host/token`): all up to
        scheme, rest = "", text  # the first `/` is taken for it, nothing after
    authority, slash, path = rest.partition("/")
    text = f"{scheme}{sep}{authority.rpartition('@')[2]}{slash}{'…' if path else ''}"
    text = CONTROL_CHARS.sub("?", text)
    if len(text) > SHOWN_URL_CHARS:
        text = text[: SHOWN_URL_CHARS - 1] + "…"
    return text


def header_name_problem(name: str) -> str | None:
    """Why `name` cannot name a header (None: it can)."""
    if not _TOKEN.fullmatch(name):
        return (
            "expected a header name of letters, digits and !#$%&'*+-.^_`|~ "
            f"(at most 64), got {shown(name)}"
        )
    if name.lower() in RESERVED_HEADERS:
        return f"the header {name} is written by raspy itself"
    return None


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be a header's value (None: it can); never shows it."""
    if CONTROL_CHARS.search(value.replace("\t", " ")):
        return "its value has a line break or another control character"
    if not _utf8(value):
        return "its value is not UTF-8 text (a lone surrogate)"
    if len(value.encode("utf-8")) > MAX_HEADER_VALUE_BYTES:
        return f"its value is over {MAX_HEADER_VALUE_BYTES} bytes"
    return None


def _utf8(text: str) -> bool:
    """Whether `text` encodes as UTF-8 (a JSON value may hold a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def body_bytes(text: str) -> bytes | None:
    """A body's text as UTF-8; None if it holds a lone surrogate."""
    return text.encode("utf-8") if _utf8(text) else None


@frozen
class HttpRequest:
    """One request for the service: `url` as check_url gives it, `headers` in order
    (Content-Type among them when there is a body)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    timeout_s: float = DEFAULT_TIMEOUT_S
    give_up_at: float | None = None  # monotonic s: when its sender stops waiting
    # (name, value) of each secret filled in (`{secret.NAME}`): what the service
    # hides in what it logs of the answer (a server may echo what it was sent)
    secrets: tuple[tuple[str, str], ...] = ()


def hidden(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with each secret's value, as written and as a URL carries it, put back
    as its `{secret.NAME}`; the longest first (one value may hold another). Also as
    a server may echo it back: escaped in a JSON string, and a value beyond ASCII
    sent in a header as UTF-8 and read back as Latin-1 (as Python's and many
    servers' header parsers read it)."""
    forms: dict[str, str] = {}
    for name, value in secrets.items():
        echoed = (
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            _as_latin1(value),
        )
        for form in (value, quote(value, safe=URL_SAFE), url_secret(value), *echoed):
            if form:
                forms.setdefault(form, f"{{secret.{name}}}")
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, forms[form])
    return text


def _as_latin1(value: str) -> str:
    """`value`'s UTF-8 read as Latin-1: how a header beyond ASCII comes back from
    a server that decodes headers so (the value itself when it is all ASCII)."""
    try:
        return value.encode("utf-8").decode("latin-1")
    except UnicodeEncodeError:  # a lone surrogate: never sent in a header
        return value


def shown_secret_url(url: str, secrets: Mapping[str, str]) -> str:
    """shown_url of a URL secrets were filled in: each one put back as its
    `{secret.NAME}` first, since shown_url cuts a URL (at a `/`, `?` or `#`, or
    at its length) and a piece of a value, which hidden() cannot know, would be
    left in the host it shows."""
    return shown_url(hidden(url, secrets))


def encode_request(request: HttpRequest) -> tuple[bytes, ...]:
    head: dict[str, object] = {
        "v": _VERSION,
        "method": request.method,
        "url": request.url,
        "headers": [list(pair) for pair in request.headers],
        "timeout_s": request.timeout_s,
    }
    if request.give_up_at is not None:
        head["give_up_at"] = request.give_up_at
    if request.secrets:
        head["secrets"] = dict(request.secrets)
    frame = json.dumps(head, ensure_ascii=False).encode("utf-8")
    return (frame, request.body) if request.body else (frame,)


def decode_request(frames: list[bytes] | tuple[bytes, ...]) -> HttpRequest:
    """A request's frames -> HttpRequest; MalformedMessage("http", token, detail)
    for anything the service would not send."""
    if not 1 <= len(frames) <= 2:
        raise _bad("frames", f"expected 1 or 2 frames, got {len(frames)}")
    try:
        head = json_text.loads(frames[0])
    except ValueError as exc:
        raise _bad("json", f"frame 0 is not JSON: {exc}") from None
    if not isinstance(head, dict) or head.get("v") != _VERSION:
        raise _bad("version", 'expected a JSON object with "v": 1')
    method, url, headers = head.get("method"), head.get("url"), head.get("headers", [])
    timeout_s = head.get("timeout_s", DEFAULT_TIMEOUT_S)
    give_up_at = head.get("give_up_at")
    if method not in METHODS:
        raise _bad(
            "method", f"expected one of {', '.join(METHODS)}, got {shown(method)}"
        )
    if not isinstance(url, str):
        raise _bad("url", f"expected the URL as text, got {shown(url)}")
    try:
        url = check_url(url)
    except UrlError as exc:
        raise _bad("url", str(exc)) from None
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not 0 < timeout_s <= MAX_TIMEOUT_S
    ):
        raise _bad(
            "timeout",
            f"expected timeout_s in (0, {MAX_TIMEOUT_S:g}], got {shown(timeout_s)}",
        )
    if give_up_at is not None and (
        isinstance(give_up_at, bool)
        or not isinstance(give_up_at, int | float)
        or not -_FAR_S < give_up_at < _FAR_S  # NaN and infinities too
    ):
        raise _bad(
            "give_up_at",
            f"expected give_up_at as a number of seconds, got {shown(give_up_at)}",
        )
    secrets = head.get("secrets", {})
    if not isinstance(secrets, dict) or not all(
        isinstance(value, str) for value in secrets.values()
    ):
        raise _bad("secrets", "expected secrets as an object of name: text")
    pairs = _headers(headers)
    body = frames[1] if len(frames) == 2 else b""
    if len(body) > MAX_BODY_BYTES:
        raise _bad("body", f"a body of {len(body)} bytes; at most {MAX_BODY_BYTES}")
    if body and method == "GET":
        raise _bad("body", "a GET sends no body")
    until = None if give_up_at is None else float(give_up_at)
    return HttpRequest(
        method, url, pairs, body, float(timeout_s), until, tuple(secrets.items())
    )


def _headers(headers: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(headers, list) or len(headers) > MAX_HEADERS:
        raise _bad("headers", f"expected a list of at most {MAX_HEADERS} [name, value]")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for pair in headers:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            raise _bad("headers", "expected each header as [name, value], both text")
        name, value = pair
        problem = header_name_problem(name)
        if problem is None and name.lower() in seen:
            problem = f"the header {name} is given twice"
        if problem is None:
            found = header_value_problem(value)
            problem = None if found is None else f"header {name}: {found}"
        if problem is not None:
            raise _bad("headers", problem)
        seen.add(name.lower())
        pairs.append((name, value))
    return tuple(pairs)


def _bad(reason: str, detail: str) -> MalformedMessage:
    return MalformedMessage("http", reason, detail)
