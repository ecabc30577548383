"""The scenario editor's pages: edit a stored scenario, write a new one, delete one.

Check asks the core's `validate`, Save its `import`; every problem and warning comes
back above the user's text, which a refusal never loses. The edit page carries the
fingerprint of the text it started from (raspy.rules.scenario_api.fingerprint), and
Save and Delete send it with their write: the core refuses (409) when the stored
text changed since, in the same step as the write. GETs write nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from raspy import json_text
from raspy.actors.web import pages, scenarios
from raspy.actors.web.backend import Backend
from raspy.errors import quote
from raspy.rules.scenario_api import SAME_SCENARIO, fingerprint
from raspy.web import editor, forms, html
from raspy.web.editor import EditorForm, EditorView, Problem, SavedWarnings
from raspy.web.login import Session
from raspy.web.models import ReplyError
from raspy.web.scenario_pages import as_enabled, scenario_href

_NAME_LINE: Final = re.compile(r"^name[ \t]*:[ \t]*", re.MULTILINE)
_FAILED: Final = (forms.FormError, ReplyError)  # said on the page, the text kept
# the import replaces the scenario: its runs are cut, its `for:` holds start again
EDIT_NOTE: Final = "A Save of a changed text ends the scenario's runs under way."
NO_CHANGE: Final = "No change: nothing saved"


def routes(route: Callable[..., Route]) -> list[Route]:
    """The editor's routes, made by build_app's `route` (session, CSRF)."""
    big = {"form_limit": editor.MAX_EDITOR_FORM_BYTES}
    return [
        route(editor.NEW_PATH, new_form),
        route(editor.NEW_PATH, new_submit, methods=("POST",), **big),
        route("/scenarios/{name}/edit", edit_form),
        route("/scenarios/{name}/edit", edit_submit, methods=("POST",), **big),
        route("/scenarios/{name}/delete", delete_form),
        route("/scenarios/{name}/delete", delete_submit, methods=("POST",)),
    ]


def _show(
    backend: Backend, session: Session, title: str, body: str, status: int = 200
) -> Response:
    """An editor page, under the Scenarios menu entry."""
    return pages.page(backend, session, title, body, "/scenarios", status=status)


async def _core(backend: Backend, body: bytes) -> tuple[bytes, dict[str, Any]]:
    """The core's status and reply object; ReplyError when it cannot answer."""
    service = await scenarios.scenario_service(backend)
    frames = await backend.ask(service, body)
    try:
        reply = json_text.loads(frames[1]) if len(frames) > 1 else {}
    except ValueError:
        reply = {}
    return (frames[0] if frames else b"?"), (reply if isinstance(reply, dict) else {})


def _refusal(status: bytes, reply: dict[str, Any]) -> tuple[str, list[Problem]]:
    """The core's refusal: its reason, and its problems at their lines."""
    reason = str(reply.get("error") or f"refused ({status.decode('ascii', 'replace')})")
    reason = reason.removeprefix(f"{editor.SOURCE}: ")  # the source is this page
    if reason.startswith("a scenario named ") and " exists" in reason:
        # the core's words name the API's `replace: true`: here, the edit page
        reason = reason.split(" exists", 1)[0] + (
            " exists: edit it from its own page, or give this one another name"
        )
    reason = reason[:1].upper() + reason[1:]
    problems = reply.get("problems")
    return reason, editor.problems_of(problems if isinstance(problems, list) else [])


async def _stored(backend: Backend, name: str) -> str | None:
    """The stored text of `name`; None when there is no such scenario."""
    reply = await _got(backend, name)
    return None if reply is None else str(reply.get("document", ""))


async def _got(backend: Backend, name: str) -> dict[str, Any] | None:
    """The core's `get` reply of `name`; None when there is no such scenario (nor
    can be: a name the web face refuses to ask for, 300 characters, is unknown,
    not a failure to answer)."""
    try:
        request = forms.scenario_get_request(name)
    except forms.FormError:
        return None
    status, reply = await _core(backend, request)
    if status == b"404":
        return None
    if status != b"200":
        raise forms.FormError(_refusal(status, reply)[0])
    return reply


async def _check(
    view: EditorView, document: str, backend: Backend, editing: str = ""
) -> EditorView:
    """The core's validate; on the edit page (`editing`) a changed name too, and on
    the new page a name already stored: Save refuses both."""
    status, reply = await _core(backend, editor.document_request("validate", document))
    named = str(reply.get("name", ""))
    if status == b"200" and editing and named != editing:
        rename = _rename(document, editing, named)
        return _with(
            view, headline="The name changed: Save refuses it.", problems=[rename]
        )
    if status == b"200" and not editing and await _stored(backend, named) is not None:
        return _with(
            view,
            headline=f"A scenario named {named} exists: edit it from its own page, "
            "or give this one another name",
            problems=[_at_name(document, f"{quote(named)} is already stored")],
        )
    if status == b"200":
        warnings = reply.get("warnings")
        if isinstance(warnings, list) and warnings:  # what a Save would warn of
            return _with(
                view,
                headline=editor.warned(len(warnings)),
                error=False,
                problems=editor.problems_of(warnings),
                warnings=True,
            )
        said = f"No problems: {named} is a valid scenario."
        return _with(view, headline=said, error=False)
    reason, problems = _refusal(status, reply)
    return _with(view, headline=reason, problems=problems)


def _unread(
    backend: Backend, session: Session, title: str, exc: forms.FormError
) -> Response:
    """A body that is no form (sent by a script with the token in its header): 400,
    saying why; there is no text to give back."""
    said = html.notice(f"Not read: {exc}", error=True)
    return _show(backend, session, title, said, 400)


def _with(view: EditorView, **changes: Any) -> EditorView:
    return replace(view, **changes)


def _saved(
    backend: Backend, session: Session, name: str, reply: dict[str, Any], text: str
) -> Response:
    """After an import: the scenario's page, or with warnings its edit page, which
    shows them at their lines (the text is stored). A redirect either way: the
    address is the page's, and a reload sends no form again (from New scenario
    it was refused as already stored)."""
    if reply.get("unchanged") is True:  # the text stored already: nothing saved
        scenarios.flash(backend, session, NO_CHANGE, saved=True)
        return RedirectResponse(scenario_href(name), status_code=303)
    warnings = reply.get("warnings")
    if isinstance(warnings, list) and warnings:
        found = SavedWarnings(
            name, fingerprint(text), tuple(editor.problems_of(warnings))
        )
        scenarios.remember(backend.warned, backend, session, found)
        return RedirectResponse(editor.edit_href(name), status_code=303)
    said = f" ({SAME_SCENARIO})" if reply.get("same_scenario") is True else ""
    scenarios.flash(backend, session, f"saved: {name}{said}", saved=True)
    return RedirectResponse(scenario_href(name), status_code=303)


async def edit_form(request: Request, backend: Backend, session: Session) -> Response:
    """The stored text to edit, its `enabled:` saying the scenario's state (the
    Enable and Disable buttons change the state, not the text: a Save of a text
    saying otherwise switched it back), and the fingerprint of the text stored."""
    name = request.path_params["name"]
    try:
        reply = await _got(backend, name)
    except _FAILED as exc:
        return _show(
            backend, session, f"Edit {name}", html.notice(str(exc), error=True), 503
        )
    if reply is None:
        text = html.notice(f"no scenario named {name[:64]!r}", error=True)
        return _show(backend, session, "Unknown scenario", text, 404)
    stored = str(reply.get("document", ""))
    enabled = reply.get("enabled")
    shown = as_enabled(stored, enabled)
    view = EditorView(
        editor.edit_href(name),
        shown,
        fingerprint(stored),
        enabled=enabled if isinstance(enabled, bool) else None,
        back=scenario_href(name),
        note=EDIT_NOTE if shown == stored else f"{EDIT_NOTE} {editor.STATE_NOTE}",
    )
    warned = backend.warned.pop(session.sid, None)
    # the warnings of the text stored now: not once another Save changed it
    if warned is not None and (warned.name, warned.base) == (name, view.base):
        view = _with(
            view,
            problems=warned.warnings,
            headline=editor.warned(len(warned.warnings), saved=name),
            error=False,
            saved=True,
            warnings=True,
        )
    return _show(
        backend, session, f"Edit {name}", editor.editor_body(view, session.csrf)
    )


async def edit_submit(request: Request, backend: Backend, session: Session) -> Response:
    """Check, or Save over the stored text: refused when the text names another
    scenario (a rename) or the stored text changed since the page was made."""
    name = request.path_params["name"]
    title = f"Edit {name}"
    try:
        form = editor.parse_editor_form(await request.body())
    except forms.FormError as exc:
        return _unread(backend, session, title, exc)
    view = EditorView(
        editor.edit_href(name),
        form.document,
        form.base,
        enabled=form.enabled,
        back=scenario_href(name),
        note=EDIT_NOTE,
    )
    try:
        if not form.save:
            view = await _check(view, form.document, backend, editing=name)
            return _show(
                backend, session, title, editor.editor_body(view, session.csrf)
            )
        return await _save_over(backend, session, name, form, view)
    except _FAILED as exc:
        view = _with(view, headline=str(exc))
        return _show(
            backend, session, title, editor.editor_body(view, session.csrf), 400
        )


async def _save_over(
    backend: Backend, session: Session, name: str, form: EditorForm, view: EditorView
) -> Response:
    title = f"Edit {name}"
    body = editor.document_request("validate", form.document)
    status, reply = await _core(backend, body)
    if status != b"200":
        reason, problems = _refusal(status, reply)
        view = _with(view, headline=reason, problems=problems)
        return _show(
            backend, session, title, editor.editor_body(view, session.csrf), 400
        )
    named = str(reply.get("name", ""))
    if named != name:
        view = _with(
            view,
            headline="Not saved: the name changed.",
            problems=[_rename(form.document, name, named)],
        )
        return _show(
            backend, session, title, editor.editor_body(view, session.csrf), 400
        )
    # over the text the page started from and the state it showed, which the
    # core compares as it writes (another writer in between, an enable or a
    # disable too: 409); the same text again it stores not, and its runs go on
    # (the core's rule, for every writer)
    request = editor.document_request(
        "import",
        form.document,
        replace=True,
        if_fingerprint=form.base,
        if_enabled=form.enabled,
    )
    status, reply = await _core(backend, request)
    if status == b"409":
        view = editor.changed_since(view, name, reply)
        return _show(
            backend, session, title, editor.editor_body(view, session.csrf), 409
        )
    if status != b"200":
        reason, problems = _refusal(status, reply)
        view = _with(view, headline=reason, problems=problems)
        return _show(
            backend, session, title, editor.editor_body(view, session.csrf), 400
        )
    return _saved(backend, session, name, reply, form.document)


def _rename(document: str, old: str, new: str) -> Problem:
    """Why a changed `name:` is refused, at that line when it can be found."""
    message = (
        f"the name is {new}, the page edits {old}: to rename, save this text as a "
        f"new scenario (New scenario), then delete {old}"
    )
    return _at_name(document, message)


def _at_name(document: str, message: str) -> Problem:
    """A problem of the `name:` line, at its value when the line can be found."""
    found = _NAME_LINE.search(document)
    if found is None:
        return Problem(0, 0, message)
    line = document.count("\n", 0, found.start()) + 1
    return Problem(line, found.end() - found.start() + 1, message)


async def new_form(request: Request, backend: Backend, session: Session) -> Response:
    view = EditorView(editor.NEW_PATH, editor.EXAMPLE)
    return _show(
        backend, session, "New scenario", editor.editor_body(view, session.csrf)
    )


async def new_submit(request: Request, backend: Backend, session: Session) -> Response:
    """Check, or Save as a new scenario: a name already stored is refused."""
    title = "New scenario"
    try:
        form = editor.parse_editor_form(await request.body())
    except forms.FormError as exc:
        return _unread(backend, session, title, exc)
    view = EditorView(editor.NEW_PATH, form.document)
    try:
        if not form.save:
            view = await _check(view, form.document, backend)
            return _show(
                backend, session, title, editor.editor_body(view, session.csrf)
            )
        body = editor.document_request("import", form.document, replace=False)
        status, reply = await _core(backend, body)
    except _FAILED as exc:
        view = _with(view, headline=str(exc))
        return _show(
            backend, session, title, editor.editor_body(view, session.csrf), 400
        )
    if status != b"200":
        reason, problems = _refusal(status, reply)
        view = _with(view, headline=reason, problems=problems)
        return _show(
            backend, session, title, editor.editor_body(view, session.csrf), 400
        )
    return _saved(backend, session, str(reply.get("name")), reply, form.document)


async def delete_form(request: Request, backend: Backend, session: Session) -> Response:
    name = request.path_params["name"]
    try:
        stored = await _stored(backend, name)
    except _FAILED as exc:
        return _show(
            backend, session, f"Delete {name}", html.notice(str(exc), error=True), 503
        )
    if stored is None:
        text = html.notice(f"no scenario named {name[:64]!r}", error=True)
        return _show(backend, session, "Unknown scenario", text, 404)
    body = editor.delete_body(name, stored, session.csrf)
    return _show(backend, session, f"Delete {name}", body)


async def delete_submit(
    request: Request, backend: Backend, session: Session
) -> Response:
    """The delete, once its box is ticked, of the text the page showed (refused,
    409, when it changed since); then the scenarios page says so."""
    name = request.path_params["name"]
    title = f"Delete {name}"
    try:
        form = editor.parse_delete_form(await request.body())
    except forms.FormError as exc:
        return _unread(backend, session, title, exc)
    if not form.confirmed:  # the page again, with the text stored now to copy
        try:
            stored = await _stored(backend, name)
        except _FAILED as exc:
            scenarios.flash(backend, session, f"failed: delete {name}: {exc}")
            return RedirectResponse("/scenarios", status_code=303)
        said = "Not deleted: tick the box to confirm."
        body = editor.delete_body(name, stored or "", session.csrf, said)
        return _show(backend, session, title, body, 400)
    try:
        # of the text the page showed: the core compares it as it deletes
        status, reply = await _core(backend, editor.delete_request(name, form.base))
    except _FAILED as exc:
        scenarios.flash(backend, session, f"failed: delete {name}: {exc}")
        return RedirectResponse("/scenarios", status_code=303)
    stored = editor.stored_now(reply)
    if status == b"409" and stored is not None:
        said = (
            f"Not deleted: {name} was changed since this page was opened; its text "
            "now is below. Delete again to delete it."
        )
        body = editor.delete_body(name, stored, session.csrf, said)
        return _show(backend, session, title, body, 409)
    message = (
        f"deleted: {name}"
        if status == b"200"
        else f"failed: delete {name}: {_refusal(status, reply)[0]}"
    )
    scenarios.flash(backend, session, message)
    return RedirectResponse("/scenarios", status_code=303)
