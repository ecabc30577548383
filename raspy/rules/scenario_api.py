"""`<host>.core.scenario` requests and replies (pure: JSON body in, typed request out).

Request: one frame, a JSON object `{"v": 1, "action": A, ...}`. Reply: `[status, json]`
with 200, 400 (malformed or refused: `{"error", "problems"?}`), 404 (unknown
scenario), 501 (unknown action) or 500 (internal failure).

    list                                   -> [entry, ...] sorted by name
    get       {"name"}                     -> entry + {"document"}
    import    {"document", "source"?, "replace"?}  -> {"name", "replaced", "warnings"?}
    validate  {"document", "source"?}      -> {"name", "warnings"?}
    delete | enable | disable | run | stop {"name"} -> {"name", "state"}

`run` answers 200 also when its mode starts no run (single with a run under way, a full
queue, parallel at max): the request was carried out as the mode says, and the reply
has "not_started": why. A run that waits its turn (mode queued) has "queued": how many
wait.

"warnings" (only when there are any): `source:line:col: warning: ...` lines of what
the document names that the hub lacks now (a device key, the http service, a secret);
`validate` gives the same as `import` would, and stores nothing.

An entry is {"name", "description", "enabled", "state", "mode", "last_run" (epoch
s or null), "last_trigger", "runs", "last_error", "last_error_at" (epoch s of that
failure, or null), "last_skip"}. `run` starts a manual run: the
mode applies, the conditions are not checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from raspy import json_text
from raspy.devices.template import JsonValue

MAX_REQUEST_BYTES: Final = 1024 * 1024
NAME_ACTIONS: Final = frozenset({"get", "delete", "enable", "disable", "run", "stop"})
DOCUMENT_ACTIONS: Final = frozenset({"import", "validate"})
ACTIONS: Final = NAME_ACTIONS | DOCUMENT_ACTIONS | {"list"}
_ALLOWED: Final = {
    "list": {"v", "action"},
    "import": {"v", "action", "document", "source", "replace"},
    "validate": {"v", "action", "document", "source"},
    **{action: {"v", "action", "name"} for action in NAME_ACTIONS},
}


@dataclass(frozen=True, slots=True)
class Request:
    action: str
    name: str = ""
    document: str = ""
    source: str = "<document>"
    replace: bool = False


class Refused(Exception):  # a reply, not a fault
    """A request answered without doing anything: `status` and the JSON body."""

    def __init__(self, status: bytes, body: dict[str, JsonValue]) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{status.decode()} {body}")

    def reply(self) -> tuple[bytes, bytes]:
        return self.status, encode(self.body)


def bad(error: str, **extra: JsonValue) -> Refused:
    return Refused(b"400", {"error": error, **extra})


def parse(frames: list[bytes]) -> Request:
    """The request in `frames`; raises Refused (400 or 501) for anything else."""
    if len(frames) != 1 or len(frames[0]) > MAX_REQUEST_BYTES:
        raise bad("expected one JSON frame of at most 1 MiB")
    try:
        body = json_text.loads(frames[0])
    except (ValueError, UnicodeError) as exc:
        raise bad(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad("expected a JSON object")
    version = body.get("v")
    if type(version) is not int or version != 1:  # true == 1 in Python, not in JSON
        raise bad('expected "v": 1')
    action = body.get("action")
    if not isinstance(action, str):
        raise bad('expected "action": a string')
    if action not in ACTIONS:
        raise Refused(b"501", {"error": f"unknown action {action[:64]!r}"})
    unknown = sorted(set(body) - _ALLOWED[action])
    if unknown:
        raise bad(f"{action}: unknown field {unknown[0][:64]!r}")
    if action in NAME_ACTIONS:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise bad(f'{action}: expected "name": a string')
        return Request(action, name=name)
    if action in DOCUMENT_ACTIONS:
        document, source = body.get("document"), body.get("source", "<document>")
        replace = body.get("replace", False)
        if not isinstance(document, str):
            raise bad(f'{action}: expected "document": the text')
        if not isinstance(source, str) or not isinstance(replace, bool):
            raise bad(f'{action}: expected "source" a string, "replace" a bool')
        return Request(action, document=document, source=source[:200], replace=replace)
    return Request(action)


def encode(value: JsonValue) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")


def ok(value: JsonValue) -> tuple[bytes, bytes]:
    return b"200", encode(value)
