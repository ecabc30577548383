"""The scenario editor's pure part: its forms, the core's problems as lines and
columns, the requests to the core, and the pages' HTML (text in, HTML out).

The handlers that ask the core are in raspy.actors.web.editor.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Final

from raspy.records import frozen
from raspy.rules.scenario_api import MAX_REQUEST_BYTES, fingerprint
from raspy.rules.scenario_stream import problem_place
from raspy.web.forms import MAX_FORM_BYTES, FormError, parse_form
from raspy.web.html import esc, hidden_csrf, notice
from raspy.web.scenario_pages import as_enabled, scenario_href

# the name the core's problems carry (`document:3:5: ...`), stripped off again here
SOURCE: Final = "document"
NEW_PATH: Final = "/new-scenario"
# a form holding a document the core takes whole: each byte of it is at most three
# in the form (`%C3`), and the other fields fit in a small form's size
MAX_EDITOR_FORM_BYTES: Final = 3 * MAX_REQUEST_BYTES + MAX_FORM_BYTES
_EDIT_PATH: Final = re.compile(r"/scenarios/[^/]+/edit")
EXAMPLE: Final = """\
# A scenario: its name, what starts it and what it does (docs/scenarios.md).
name: my-scenario
description: what it is for
triggers:
  - cron: "30 6 * * 1-5"   # 06:30 Monday to Friday
actions:
  - log: "good morning"
"""


# under the text, when its `enabled:` was made to say the state (as_enabled)
STATE_NOTE: Final = (
    "Its enabled: line says whether it is enabled now (Enable and Disable change "
    "that, not the stored text)."
)


def body_limit(path: str) -> int | None:
    """The larger request body the editor's forms may have (None: the usual)."""
    return MAX_EDITOR_FORM_BYTES if is_editor(path) else None


def is_editor(path: str) -> bool:
    """A path of the editor's page (New scenario, Edit; its form posts there)."""
    return path == NEW_PATH or _EDIT_PATH.fullmatch(path) is not None


@frozen
class EditorForm:
    """What the edit and new pages post: the text, the button, the fingerprint,
    and the enabled state the edit page showed (None: a new page's, or an edit
    page's from before the field)."""

    document: str
    save: bool
    base: str
    enabled: bool | None = None


def parse_editor_form(body: bytes) -> EditorForm:
    """The posted form; a browser sends a textarea's line breaks as CRLF, stored as
    the LF they were typed as."""
    fields = parse_form(body, limit=MAX_EDITOR_FORM_BYTES)
    document = fields.get("document", "").replace("\r\n", "\n")
    shown = {"true": True, "false": False}.get(fields.get("enabled", ""))
    return EditorForm(
        document, fields.get("do") == "save", fields.get("base", ""), shown
    )


def document_request(
    action: str,
    document: str,
    *,
    replace: bool = False,
    if_fingerprint: str | None = None,
    if_enabled: bool | None = None,
) -> bytes:
    """`validate` or `import` for the core (an import only over the stored text
    `if_fingerprint` names and the enabled state `if_enabled` says, when given);
    FormError when the core would refuse it for its size (said with the text
    kept, not as the core's terse refusal)."""
    request: dict[str, object] = {
        "v": 1,
        "action": action,
        "document": document,
        "source": SOURCE,
    }
    if action == "import":
        request["replace"] = replace
    if if_fingerprint is not None:
        request["if_fingerprint"] = if_fingerprint
    if if_enabled is not None:
        request["if_enabled"] = if_enabled
    body = json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if len(body) > MAX_REQUEST_BYTES:
        raise FormError(
            f"the document is {len(document.encode('utf-8', 'surrogatepass'))} bytes:"
            f" the hub takes at most {MAX_REQUEST_BYTES} (with its request)"
        )
    return body


@frozen
class Problem:
    """One line of the core's problems or warnings; line 0 when it names none."""

    line: int
    col: int
    message: str


def problems_of(lines: Sequence[object]) -> list[Problem]:
    """`document:3:5: message` lines as Problems (anything else kept as its text)."""
    found = []
    for line in lines:
        text = str(line)
        match = problem_place(text, SOURCE)
        if match is not None:
            found.append(
                Problem(int(match["line"]), int(match["col"]), match["message"])
            )
        else:
            found.append(Problem(0, 0, text))
    return found


@frozen
class EditorView:
    """One showing of the edit (or new) page."""

    action: str  # where the form posts
    document: str
    base: str = ""  # the fingerprint of the stored text it started from
    enabled: bool | None = None  # the state its text's `enabled:` said (edit page)
    problems: Sequence[Problem] = ()
    headline: str = ""  # above the problems: what the core said
    error: bool = True  # the headline is a refusal (else a plain notice)
    stored: str | None = None  # a conflict: the stored text now
    back: str = "/scenarios"
    note: str = ""  # one line under the text: what a Save does besides storing
    saved: bool = False  # the text is stored (a Save's warnings): app.js's draft goes
    warnings: bool = False  # the problems are warnings: amber, not a refusal's red


def warned(count: int, saved: str = "") -> str:
    """The headline above a valid text's warnings (`saved`: the name a Save stored
    it under): "Valid, with 2 warnings:", "Saved porch, with 1 warning:"."""
    said = f"Saved {saved}" if saved else "Valid"
    return f"{said}, with {count} warning{'' if count == 1 else 's'}:"


def changed_since(view: EditorView, name: str, reply: dict[str, object]) -> EditorView:
    """The page after the core's 409 to a Save: the user's text kept, the text
    stored now below as the edit page shows it (its `enabled:` saying the state
    now), and its fingerprint and state the page's, so that a second Save means
    it."""
    stored = stored_now(reply)
    enabled = reply.get("enabled")
    now = enabled if isinstance(enabled, bool) else None
    if stored is None:
        said = f"Not saved: {name} was deleted since this page was opened."
    elif fingerprint(stored) == view.base and now is not None:
        # the text is the one the page started from: an enable or a disable
        said = (
            f"Not saved: {name} was {'enabled' if now else 'disabled'} since this "
            "page was opened; its text as the page shows it now is below."
        )
    else:
        said = (
            f"Not saved: {name} was changed since this page was opened; "
            "its text now is below."
        )
    return dataclasses.replace(
        view,
        headline=f"{said} Save again to store your text over it.",
        base=fingerprint(stored),
        enabled=now,
        stored=None if stored is None else as_enabled(stored, now),
    )


def stored_now(reply: dict[str, object]) -> str | None:
    """The stored text a 409 carries (None: no scenario is stored by that name)."""
    document = reply.get("document")
    return document if isinstance(document, str) else None


@frozen
class SavedWarnings:
    """What a Save with warnings leaves for the edit page it redirects to (once):
    the scenario, the fingerprint of the text saved, and the warnings."""

    name: str
    base: str
    warnings: tuple[Problem, ...]


def _problem_item(problem: Problem) -> str:
    if not problem.line:
        return f"<li>{esc(problem.message)}</li>"
    where = f"line {problem.line}, column {problem.col}"
    return (
        f'<li><a href="#document" data-line="{problem.line}" '
        f'data-col="{problem.col}">{esc(where)}</a>: {esc(problem.message)}</li>'
    )


def editor_body(view: EditorView, csrf: str) -> str:
    """The problems (each at its line and column), the textarea with the user's
    text, Check and Save; on a conflict the stored text below."""
    parts = [notice(view.headline, error=view.error)] if view.headline else []
    if view.problems:
        items = "".join(_problem_item(p) for p in view.problems)
        css = "problems warnings" if view.warnings else "problems"
        parts.append(f'<ol class="{css}">{items}</ol>')
    first = next((p for p in view.problems if p.line), None)
    at = f' data-line="{first.line}" data-col="{first.col}"' if first else ""
    note = f'<p class="hint">{esc(view.note)}</p>' if view.note else ""
    # the newline after <textarea> is eaten by the parser: one that starts the
    # text stays
    parts.append(
        f'<form method="post" action="{esc(view.action)}" class="editor"'
        f"{' data-saved' if view.saved else ''}>"
        f"{hidden_csrf(csrf)}"
        f'<input type="hidden" name="base" value="{esc(view.base)}">'
        f"{_enabled_field(view.enabled)}"
        '<label for="document">Document (YAML)</label>'
        '<textarea id="document" name="document" rows="24" spellcheck="false" '
        f'autocapitalize="off" wrap="off"{at}>\n'
        f"{esc(view.document)}</textarea>{note}"
        '<div class="actions">'
        '<button type="submit" name="do" value="check">Check</button> '
        '<button type="submit" name="do" value="save" class="primary">Save</button> '
        f'<a href="{esc(view.back)}">Cancel</a></div></form>'
    )
    if view.stored is not None:
        parts.append(
            f'<h2>Stored now</h2><pre class="document stored">\n{esc(view.stored)}'
            "</pre>"
        )
    return "".join(parts)


def _enabled_field(enabled: bool | None) -> str:
    """The state the page showed, sent back with a Save (`if_enabled`): an
    enable or a disable since changes no text, and the Save undid it."""
    if enabled is None:
        return ""
    said = "true" if enabled else "false"
    return f'<input type="hidden" name="enabled" value="{said}">'


def edit_href(name: str) -> str:
    return f"{scenario_href(name)}/edit"


def delete_href(name: str) -> str:
    return f"{scenario_href(name)}/delete"


def delete_body(name: str, document: str, csrf: str, problem: str = "") -> str:
    """The confirmation of a delete: a box to tick, then the button; the form
    carries the fingerprint of the text shown, so that the delete is of it."""
    shown = notice(problem, error=True) if problem else ""
    return (
        f"{shown}<p>Deleting <strong>{esc(name)}</strong> removes its document and "
        "ends its runs under way. It cannot be undone; the document is below to "
        "copy first.</p>"
        f'<form method="post" action="{esc(delete_href(name))}" class="confirm">'
        f"{hidden_csrf(csrf)}"
        f'<input type="hidden" name="base" value="{esc(fingerprint(document))}">'
        '<label><input type="checkbox" name="confirm" value="yes" required> '
        f"Yes, delete {esc(name)}</label>"
        '<div class="actions"><button type="submit" class="danger">Delete</button> '
        f'<a href="{esc(scenario_href(name))}">Cancel</a></div></form>'
        f'<h2>Document</h2><pre class="document">\n{esc(document)}</pre>'
    )


def delete_request(name: str, if_fingerprint: str) -> bytes:
    """The core's `delete` of the text the delete page showed (its fingerprint)."""
    request = {
        "v": 1,
        "action": "delete",
        "name": name,
        "if_fingerprint": if_fingerprint,
    }
    return json.dumps(request).encode("utf-8")


@frozen
class DeleteForm:
    """What the delete page posts: its box ticked, the shown text's fingerprint."""

    confirmed: bool
    base: str


def parse_delete_form(body: bytes) -> DeleteForm:
    """The posted delete form; FormError when the body is no form."""
    fields = parse_form(body)
    return DeleteForm(fields.get("confirm") == "yes", fields.get("base", ""))
