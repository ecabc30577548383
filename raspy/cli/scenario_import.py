"""`raspy scenario import`: every document of the files checked here, then stored on
the hub all or nothing. Several documents go in ONE request (the import's
"documents"), which the hub checks whole and stores in one commit: a refusal only
the hub can make (a sun trigger on a hub with no place), an interrupt, a kill,
leave none of them stored. A hub from before "documents" is asked to validate each
document first, then to import each, one request (one commit) a document.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final

from raspy.cli import EXIT_INTERRUPTED, EXIT_OK
from raspy.cli import scenario_files as files
from raspy.cli import scenario_text as text
from raspy.cli.scenario_hub import Hub
from raspy.rules import scenario_stream as stream
from raspy.rules.scenario_api import MAX_DOCUMENTS, MAX_REQUEST_BYTES, SAME_SCENARIO

if TYPE_CHECKING:
    from raspy.devices.template import JsonValue  # a type: the module costs a start

_PROG: Final = "raspy scenario"
NOTHING: Final = "nothing imported"
ALL_OR_NONE: Final = "all of them or none are stored: `raspy scenario list` says which"
# what a hub from before a field answers to it (its parse refuses unknown fields)
_OTHERS_REFUSED: Final = "import: unknown field 'others'"
_DOCUMENTS_REFUSED: Final = "import: unknown field 'documents'"
_WAIT_A_DOCUMENT_S: Final = 0.1  # on top of --timeout, for an import of several


def run_import(args: argparse.Namespace) -> int:
    problems, named = files.read_all(args.files)
    if problems:
        raise files.Failure(1, *problems, NOTHING)
    with Hub(args, _PROG) as hub:
        if not args.replace:
            _refuse_stored_names(hub, named)
        at_once = len(named) > 1 and _import_at_once(hub, named, bool(args.replace))
        if not at_once:  # one document, or a hub from before "documents"
            _import_each(hub, named, bool(args.replace))
    return EXIT_OK


def _import_at_once(hub: Hub, named: dict[str, files.Document], replace: bool) -> bool:
    """Every document in one request, all or nothing; each printed as imported.
    False: the hub is from before "documents" (it did nothing)."""
    documents: list[JsonValue] = [
        {"document": d.text, "source": d.source} for d in named.values()
    ]
    fields: dict[str, JsonValue] = {"documents": documents, "replace": replace}
    if len(named) > MAX_DOCUMENTS:
        raise files.Failure(
            1,
            f"{len(named)} documents: the hub takes at most {MAX_DOCUMENTS} in one"
            " import (import the files in parts)",
            NOTHING,
        )
    size = len(text.request("import", **fields).encode("utf-8"))
    if size > MAX_REQUEST_BYTES:
        raise files.Failure(
            1,
            f"the {len(named)} documents come to {size} bytes: the hub takes at "
            f"most {MAX_REQUEST_BYTES >> 20} MiB in one import (import the files "
            "in parts)",
            NOTHING,
        )
    try:
        # the hub starts each one's scenario before it answers: more to wait for
        longer_s = _WAIT_A_DOCUMENT_S * len(named)
        reply = hub.ask_fields("import", fields, write=True, longer_s=longer_s)
    except files.Failure as failure:  # no answer: the commit made or not
        raise files.Failure(failure.status, *failure.lines, ALL_OR_NONE) from None
    except KeyboardInterrupt:  # the hub may have the request: it commits it whole
        raise files.Failure(EXIT_INTERRUPTED, "interrupted", ALL_OR_NONE) from None
    if reply.status == 400 and reply.field("error") == _DOCUMENTS_REFUSED:
        return False
    if not reply.ok:
        raise files.Failure(1, *_refusal(reply, named))
    answers = reply.field("documents")
    if not isinstance(answers, list) or len(answers) != len(named):
        raise text.ReplyError(f"{hub.service}: import: expected one answer a document")
    for (name, document), answer in zip(named.items(), answers, strict=True):
        _say_imported(name, document, text.Reply(200, answer))
    return True


def _refusal(reply: text.Reply, named: dict[str, files.Document]) -> list[str]:
    """The hub's refusal of an import of several, naming the document refused
    ("index") as a line of its file; the request is refused whole."""
    index = reply.field("index")
    if type(index) is int and 0 <= index < len(named):
        name, document = list(named.items())[index]
        return [*_refused(reply, name, document), NOTHING]
    lines = text.refusal_lines(reply)
    if reply.status == 400 or reply.field("nothing_stored") is True:
        return [*lines, NOTHING]
    return [*lines, ALL_OR_NONE]


def _import_each(hub: Hub, named: dict[str, files.Document], replace: bool) -> None:
    """One request a document (one document, or a hub from before "documents"):
    several asked to `validate` first, so that a refusal only the hub makes
    imports none; a stop between two imports leaves the first ones stored."""
    ask = _Asker(hub)
    if len(named) > 1:
        for name, document in named.items():
            reply = ask("validate", named, document)
            if not reply.ok:
                raise files.Failure(1, *_refused(reply, name, document), NOTHING)
    done: list[str] = []
    for name, document in named.items():
        try:
            reply = ask("import", named, document, replace=replace)
        except files.Failure as failure:  # no answer: stored or not, not known
            raise files.Failure(
                failure.status, *failure.lines, _unanswered(name, done)
            ) from None
        except KeyboardInterrupt:  # the hub may have the request
            raise files.Failure(
                EXIT_INTERRUPTED, "interrupted", _unanswered(name, done)
            ) from None
        if not reply.ok:
            lines = _refused(reply, name, document)
            raise files.Failure(1, *lines, _imported_before(done))
        _say_imported(name, document, reply)
        done.append(name)


def _unanswered(name: str, done: list[str]) -> str:
    """The last line of an import the hub did not answer: it may have stored it."""
    before = f" (imported before it: {', '.join(done)})" if done else ""
    return f"{name} may or may not be stored: `raspy scenario list` says which{before}"


def _refused(reply: text.Reply, name: str, document: files.Document) -> list[str]:
    """The hub's refusal of `document`, its problems as lines of its file."""
    return text.import_refusal(reply, name, document.source, document.first_line)


def _imported_before(done: list[str]) -> str:
    """The last line of a refusal: `nothing imported` for the first document (the
    only one, most often), else the names a hub from before "documents" kept."""
    if not done:
        return NOTHING
    return f"imported before this: {', '.join(done)}"


class _Asker:
    """A document's validate or import, with "others" until a hub from before the
    field refuses it (having done nothing): then asked again without, from then
    on (that hub warns of no `run:` anyway)."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._send_others = True

    def __call__(
        self,
        action: str,
        named: dict[str, files.Document],
        document: files.Document,
        **more: JsonValue,
    ) -> text.Reply:
        fields: dict[str, JsonValue] = {
            "document": document.text,
            "source": document.source,
            **more,
        }
        others: list[JsonValue] = [*files.others_named(named, document)]
        if others and self._send_others:
            fields["others"] = others
        write = action == "import"
        reply = self._hub.ask(action, write=write, **fields)
        if "others" in fields and _refuses_others(reply, action):
            self._send_others = False
            del fields["others"]
            reply = self._hub.ask(action, write=write, **fields)
        return reply


def _refuses_others(reply: text.Reply, action: str) -> bool:
    """Whether `reply` is an older hub's refusal of the field "others"."""
    refused = _OTHERS_REFUSED.replace("import", action, 1)
    return reply.status == 400 and reply.field("error") == refused


def _say_imported(name: str, document: files.Document, reply: text.Reply) -> None:
    """`imported NAME from FILE` (replaced, unchanged, stored), and its warnings."""
    verb = "replaced" if reply.field("replaced") is True else "imported"
    said = ""
    if reply.field("unchanged") is True:  # stored already: its runs go on
        verb = "unchanged"
    elif reply.field("same_scenario") is True:  # stored: its runs go on
        verb, said = "stored", f" ({SAME_SCENARIO})"
    print(f"{verb} {name} from {document.source}{said}")
    _warn_of_devices(reply, document)


def _warn_of_devices(reply: text.Reply, document: files.Document) -> None:
    """The hub's warnings (device keys its tree has nothing of, a typo?; a `run:`
    or `stop:` naming no scenario it has; an `http:` action on a hub whose
    `<host>.http` is off), as lines of the file; the import is done all the same."""
    warnings = reply.field("warnings")
    if not isinstance(warnings, list):
        return
    for warning in warnings:
        line = stream.shift_problem(
            text.cell(warning), document.source, document.first_line
        )
        print(f"{_PROG} import: {line}", file=sys.stderr)


def _refuse_stored_names(hub: Hub, named: dict[str, files.Document]) -> None:
    """Without --replace, a name the hub has already stops the import before it
    starts (the hub refuses it too, whole when it takes "documents")."""
    stored = set(text.list_names(hub.need("list").body))
    clashes = [
        f"{files.name_place(document)}: {name} is already stored on the hub "
        "(--replace replaces it)"
        for name, document in named.items()
        if name in stored
    ]
    if clashes:
        raise files.Failure(1, *clashes, NOTHING)
