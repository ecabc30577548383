"""The `<host>.http` service's replies: what it answers to a request
(`raspy.http_request`) and what is said of that answer (pure: no socket, no clock).

A reply is a status frame and a JSON frame: `200` for a 2xx answer (`status`,
`reason`, `body`, `truncated`); any other is `{"error": TOKEN, "detail": TEXT}` (with
the answer's fields when there was one): `502` for an answer that is not 2xx
(`status`) or no answer at all (`connect`, `tls`, `redirect`, `protocol`), `504` for
`timeout`, `400` for a request that is not valid (`bad_request`), `403` for a client
that is not one of raspyd's own parts (`forbidden`). README "The daemon"
(its built-in services), docs/scenarios.md "Telling a phone".

An answer to a request that carried a secret is told by its status line alone: a
server may echo the secret in its body.
"""

from __future__ import annotations

import json
from typing import Final

from raspy import json_text
from raspy.http_request import CONTROL_CHARS
from raspy.records import frozen

MAX_ANSWER_BYTES: Final = 64 * 1024  # what is read of an answer's body
SHOWN_BODY_CHARS: Final = 200  # of an answer's body, in a failure's reason
SHOWN_PHRASE_CHARS: Final = 64  # a longer reason phrase is left out, never cut
# a refused redirect of a request that carried a secret (its target is the server's)
BARE_REDIRECT: Final = "a redirect was not followed"


@frozen
class Answer:
    """What the server answered: its status line, the first MAX_ANSWER_BYTES of its
    body (`truncated` when there was more), and a redirect's Location, if any."""

    status: int
    reason: str
    body: bytes = b""
    truncated: bool = False
    location: str | None = None


@frozen
class Failure:
    """No answer: `error` is connect, tls, timeout, redirect, protocol or
    bad_request; `detail` says what happened, in a few words."""

    error: str
    detail: str


Outcome = Answer | Failure
_STATUS_OF_ERROR: Final = {
    "timeout": b"504",
    "bad_request": b"400",
    "forbidden": b"403",
}


def status_line(status: object, phrase: object) -> str:
    """`404 Not Found`: what is said of an answer to a request that carried a
    secret. Never its body's text: a server may echo the secret there, cut,
    squeezed or escaped where hidden() would not find it. A reason phrase that is
    long or not one line is left out whole (a part of a secret is never shown)."""
    code = str(status) if isinstance(status, int) else "?"
    if (
        isinstance(phrase, str)
        and len(phrase) <= SHOWN_PHRASE_CHARS
        and not CONTROL_CHARS.search(phrase)
    ):
        return f"{code} {phrase}".strip()
    return code


def shown_outcome(outcome: Outcome, bare: bool) -> str:
    """What the service logs of a request that failed: `bare` (it carried a
    secret), the status line alone, and a refused redirect not by its target."""
    if isinstance(outcome, Failure):
        return BARE_REDIRECT if bare and outcome.error == "redirect" else outcome.detail
    return status_line(outcome.status, outcome.reason) if bare else answer_line(outcome)


def answer_line(answer: Answer) -> str:
    """`404 Not Found: <the body's first characters, one line>`."""
    line = f"{answer.status} {answer.reason}".strip()
    text = " ".join(answer.body.decode("utf-8", "replace").split())
    if text:
        cut = "…" if len(text) > SHOWN_BODY_CHARS else ""
        line += f": {text[:SHOWN_BODY_CHARS].rstrip()}{cut}"
    return line


def encode_outcome(outcome: Outcome) -> list[bytes]:
    """The service's reply to one request."""
    if isinstance(outcome, Failure):
        status = _STATUS_OF_ERROR.get(outcome.error, b"502")
        detail: dict[str, object] = {"error": outcome.error, "detail": outcome.detail}
    else:
        ok = 200 <= outcome.status <= 299
        status = b"200" if ok else b"502"
        detail = {} if ok else {"error": "status", "detail": answer_line(outcome)}
        detail.update(
            status=outcome.status,
            reason=outcome.reason,
            body=outcome.body.decode("utf-8", "replace"),
            truncated=outcome.truncated,
        )
    return [status, json.dumps(detail, ensure_ascii=False).encode("utf-8")]


def reply_reason(reply: tuple[bytes, ...], bare: bool = False) -> tuple[bool, str]:
    """(whether the request succeeded, what to say of it) from the service's reply:
    `204 No Content`, or the failure's detail; `bare` (the request carried a
    secret): an answer's status line alone (status_line), never its body."""
    status = reply[0].decode("utf-8", "replace")[:16] if reply else ""
    try:
        detail = json_text.loads(reply[1]) if len(reply) > 1 else None
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return False, f"the service answered {status or 'nothing'}"
    if bare and (status == "200" or detail.get("error") == "status"):
        return status == "200", status_line(detail.get("status"), detail.get("reason"))
    if bare and detail.get("error") == "redirect":
        return False, BARE_REDIRECT
    if status == "200":
        return True, f"{detail.get('status')} {detail.get('reason', '')}".strip()
    return False, str(detail.get("detail", status))[:400]
