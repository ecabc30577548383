"""`<host>.core.scenario` requests and replies (pure: JSON body in, typed request out).

Request: one frame, a JSON object `{"v": 1, "action": A, ...}`. Reply: `[status, json]`
with 200, 400 (malformed or refused: `{"error", "problems"?}`), 404 (unknown
scenario), 409 (changed since: "if_fingerprint" below), 501 (unknown action) or 500
(internal failure).

    list                                   -> [entry, ...] sorted by name
    get       {"name"}                     -> entry + {"document"}
    import    {"document", "source"?, "replace"?, "if_fingerprint"?, "if_enabled"?,
               "others"?}
                                           -> {"name", "replaced", "unchanged"?,
                                               "same_scenario"?, "warnings"?}
    import    {"documents": [{"document", "source"?}, ...], "replace"?}
                                           -> {"documents": [as above, ...]}
    validate  {"document", "source"?, "others"?}
                                           -> {"name", "warnings"?}
    delete    {"name", "if_fingerprint"?}  -> {"name", "state"}
    enable | disable | run | stop {"name"} -> {"name", "state"}
    run       {"name", "trigger"?}         -> as if the trigger of that id fired

"if_fingerprint" (`fingerprint` of the text the writer saw, "absent" for none): the
write is done only when the scenario's stored text has that fingerprint, compared
in the same step as the write (the core serves one request at a time); else 409
`{"error", "name", "document", "enabled"}` with the text stored now and whether the
scenario is enabled (null, null: none). Without it, the write is done whatever is
stored.

"if_enabled" (import of one document; a bool: the enabled state the writer saw, as
the web editor's page showed it in the text's `enabled:`): the same, of the stored
flag, which `enable` and `disable` change and not the text; its fingerprint alone
let a Save of a page opened before an enable disable the scenario again. A mismatch
is the same 409; without the field, as before.

`run` answers 200 also when its mode starts no run (single with a run under way, a full
queue, parallel at max): the request was carried out as the mode says, and the reply
has "not_started": why. A run that waits its turn (mode queued) has "queued": how many
wait.

An `import` of the text stored already (line breaks aside) with the same enabled
state stores nothing and ends no run: "unchanged" true, and "replaced" true (the
scenario exists: a client that does not read "unchanged" says it replaced, not
that it imported a new one). One that differs from it only in an `enabled:` line
that leaves the scenario enabled or disabled as it is (`enabled: true` added to a
text without one) stores the text and ends no run: "same_scenario" true, and
"replaced" true.

"warnings" (only when there are any): `source:line:col: warning: ...` lines of what
the document names that the hub lacks now (a device key, the http service, a secret,
a scenario a `run:` or `stop:` names); `validate` gives the same as `import` would,
and stores nothing. "others": the names of the scenarios imported along with this
one (the other documents of its files), which a `run:` or `stop:` may name without
a warning though they are not stored yet.

An import of "documents" (the documents of a `raspy scenario import`'s files) is
all or nothing: every one is checked first, and one refused refuses them all, its
reply naming it by "index" (from 0) as well as by its source, and nothing is
stored; else their texts are stored in ONE commit, and only then are their actors
started or replaced (a running one its new text disables is stopped before, its
record of runs deleted in that commit). Each is "others" to the rest. A hub from before the field
refuses it (`import: unknown field 'documents'`) having done nothing.

An entry is {"name", "description", "enabled", "state", "mode", "last_run" (epoch
s or null), "last_trigger", "runs", "last_error", "last_error_at" (epoch s of that
failure, or null), "last_skip"}. `run` starts a manual run: the
mode applies, the conditions are not checked.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Final

from raspy import json_text
from raspy.errors import quote
from raspy.records import frozen

if TYPE_CHECKING:
    from raspy.devices.template import JsonValue  # a type: the module costs a start

MAX_REQUEST_BYTES: Final = 1024 * 1024
NAME_ACTIONS: Final = frozenset({"get", "delete", "enable", "disable", "run", "stop"})
DOCUMENT_ACTIONS: Final = frozenset({"import", "validate"})
ACTIONS: Final = NAME_ACTIONS | DOCUMENT_ACTIONS | {"list"}
_ALLOWED: Final = {
    "list": {"v", "action"},
    "import": {
        "v",
        "action",
        "document",
        "source",
        "replace",
        "if_fingerprint",
        "if_enabled",
        "others",
        "documents",
    },
    "validate": {"v", "action", "document", "source", "others"},
    **{action: {"v", "action", "name"} for action in NAME_ACTIONS},
    "delete": {"v", "action", "name", "if_fingerprint"},
    "run": {"v", "action", "name", "trigger"},
}
ABSENT: Final = "absent"  # the fingerprint of no stored text
# what the command line and the web face say of an import answered "same_scenario"
SAME_SCENARIO: Final = "an enabled: line that changes nothing: its runs go on"
_FINGERPRINT: Final = re.compile(rf"{ABSENT}|[0-9a-f]{{64}}")


def fingerprint(document: str | None) -> str:
    """What a writer saw of a scenario: the SHA-256 of its stored text, ABSENT when
    there is none. The core compares it before an import or delete that carries
    it; the web editor's pages carry it from the text they showed."""
    if document is None:
        return ABSENT
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


def same_document(typed: str, stored: str) -> bool:
    """Whether an imported text is the stored one, line breaks aside: a web form
    sends LF for the CRLF of a text imported from a file, and a stream of several
    (`raspy scenario export`) ends each document with a line break, which a text
    saved by the web face's editor has not; nor what comes before and with a `---`
    line that starts it (comments, a `%YAML` directive), which the command line's
    import takes as the line between two documents and leaves out (a text saved by
    the web face or MQTT may start so). The scenario is the same."""
    return _lf(typed) == _lf(stored)


# blank, comment and directive (`%YAML 1.1`) lines, then a `---` line: a document's
# start, as split_stream of raspy.rules.scenario_stream cuts a file into documents
_STARTED: Final = re.compile(
    r"(?:(?:[ \t]*(?:#[^\n]*)?|%[^\n]*)\n)*---[ \t]*(?:#[^\n]*)?(?:\n|\Z)"
)


def _lf(text: str) -> str:
    """`text` with LF line breaks, one at its end, without a `---` line that
    starts it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    started = _STARTED.match(text)
    if started is not None:
        text = text[started.end() :]
    return text if text.endswith("\n") else text + "\n"


@frozen
class Request:
    action: str
    name: str = ""
    document: str = ""
    source: str = "<document>"
    replace: bool = False
    if_fingerprint: str | None = None  # None: written whatever is stored
    if_enabled: bool | None = None  # None: written whatever the stored flag
    trigger: str | None = None  # run: the id of the trigger to run as (None: manual)
    others: frozenset[str] = frozenset()  # the names imported along with it
    # import: the documents of an all-or-nothing import, as (text, source) pairs
    documents: tuple[tuple[str, str], ...] = ()


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
    if_fingerprint = _if_fingerprint(action, body)
    if action in NAME_ACTIONS:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise bad(f'{action}: expected "name": a string')
        trigger = body.get("trigger")
        if trigger is not None and not isinstance(trigger, str):
            raise bad(f'{action}: expected "trigger": the id of a trigger')
        return Request(
            action, name=name, if_fingerprint=if_fingerprint, trigger=trigger
        )
    if action == "import" and "documents" in body:
        return _import_all(body)
    if action in DOCUMENT_ACTIONS:
        document, source = body.get("document"), body.get("source", "<document>")
        replace = body.get("replace", False)
        if not isinstance(document, str):
            raise bad(f'{action}: expected "document": the text')
        if not isinstance(source, str) or not isinstance(replace, bool):
            raise bad(f'{action}: expected "source" a string, "replace" a bool')
        others = body.get("others", [])
        if not isinstance(others, list) or not all(isinstance(o, str) for o in others):
            raise bad(f'{action}: expected "others": a list of names')
        if_enabled = body.get("if_enabled")
        if if_enabled is not None and not isinstance(if_enabled, bool):
            raise bad(f'{action}: expected "if_enabled": a bool')
        return Request(
            action,
            document=document,
            source=source[:200],
            replace=replace,
            if_fingerprint=if_fingerprint,
            if_enabled=if_enabled,
            others=frozenset(str(o) for o in others),
        )
    return Request(action)


MAX_DOCUMENTS: Final = 1000
_ONE_ONLY: Final = ("document", "source", "if_fingerprint", "if_enabled", "others")


def _import_all(body: dict[str, JsonValue]) -> Request:
    """An import of "documents": a list of {"document", "source"?} objects; the
    fields of a one-document import are refused beside it."""
    beside = [field for field in _ONE_ONLY if field in body]
    if beside:
        raise bad(f'import: "{beside[0]}" with "documents" (one or the other)')
    documents, replace = body["documents"], body.get("replace", False)
    if not isinstance(replace, bool):
        raise bad('import: expected "replace": a bool')
    if not isinstance(documents, list) or not 0 < len(documents) <= MAX_DOCUMENTS:
        raise bad(
            f'import: expected "documents": a list of 1 to {MAX_DOCUMENTS} objects'
        )
    pieces: list[tuple[str, str]] = []
    for index, each in enumerate(documents):
        if not isinstance(each, dict) or set(each) - {"document", "source"}:
            raise bad(f'import: documents[{index}]: expected {{"document", "source"?}}')
        text, source = each.get("document"), each.get("source", "<document>")
        if not isinstance(text, str) or not isinstance(source, str):
            raise bad(
                f'import: documents[{index}]: expected "document" and "source": strings'
            )
        pieces.append((text, source[:200]))
    return Request("import", replace=replace, documents=tuple(pieces))


def _if_fingerprint(action: str, body: dict[str, JsonValue]) -> str | None:
    """The request's "if_fingerprint" (None when it has none); a value no text can
    have is refused rather than answered 409 for ever."""
    if "if_fingerprint" not in body:
        return None
    value = body["if_fingerprint"]
    if not isinstance(value, str) or not _FINGERPRINT.fullmatch(value):
        raise bad(
            f'{action}: expected "if_fingerprint": "{ABSENT}" or a SHA-256 of the '
            "stored text as 64 lowercase hex digits"
        )
    return value


def changed_since(
    name: str,
    stored: str | None,
    expected: str | None,
    enabled: bool | None = None,
) -> Refused:
    """409: the stored text of `name` is not the one "if_fingerprint" (`expected`)
    names, or its flag (`enabled`) not the one "if_enabled" names: another writer
    came first. The reply carries the text stored now and its flag, or nulls when
    there is none."""
    if stored is None:
        said = "is not stored (deleted since it was read?)"
    elif expected == ABSENT:
        said = "is stored (imported since it was read), if_fingerprint says none"
    elif expected is not None and fingerprint(stored) != expected:
        said = "changed since it was read: its stored text is another"
    else:
        said = f"was {'enabled' if enabled else 'disabled'} since it was read"
    return Refused(
        b"409",
        {
            "error": f"scenario {quote(name)} {said}",
            "name": name,
            "document": stored,
            "enabled": None if stored is None else enabled,
        },
    )


def guard(
    name: str,
    expected: str | None,
    stored: str | None,
    *,
    enabled: bool | None = None,
    if_enabled: bool | None = None,
) -> None:
    """Refuse (409) a write of `name` whose "if_fingerprint" (`expected`; None: the
    request has none) is not that of the text stored now (`stored`; None: none),
    or whose "if_enabled" (None: none) is not the stored flag (`enabled`)."""
    if expected is not None and fingerprint(stored) != expected:
        raise changed_since(name, stored, expected, enabled)
    if if_enabled is not None and (stored is None or enabled is not if_enabled):
        raise changed_since(name, stored, expected, enabled)


def refusal_text(refused: Refused, *, problems_only: bool = False) -> str:
    """A refusal for a log line: its problems, one after another (not a dict)."""
    problems = refused.body.get("problems")
    if isinstance(problems, list) and problems:
        return "; ".join(str(p) for p in problems)
    return "" if problems_only else str(refused.body.get("error", "refused"))


def encode(value: JsonValue) -> bytes:
    return json_text.encode(value, sort_keys=True)


def ok(value: JsonValue) -> tuple[bytes, bytes]:
    return b"200", encode(value)
