"""The web face's scenario pages: the list, a scenario's own page, and its buttons
(run, enable, disable), through `<host>.core.scenario`; a button's outcome is
flashed once above the next page of the session (the editor's too).
"""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from raspy import json_text
from raspy.actors.web.backend import Backend
from raspy.actors.web.pages import page
from raspy.web import forms, html, models, scenario_pages
from raspy.web.login import Session
from raspy.web.models import ReplyError

T = TypeVar("T")


async def scenarios_page(
    request: Request, backend: Backend, session: Session
) -> Response:
    flashed = backend.flashes.pop(session.sid, None)
    try:
        service = await scenario_service(backend)
        rows = models.scenarios(
            await backend.ask(service, b'{"v": 1, "action": "list"}')
        )
    except ReplyError as exc:
        body = html.notice(str(exc), error=True)
    else:
        body = scenario_pages.scenarios_body(
            rows, session.csrf, backend.clock.wall(), backend.zone
        )
    body = html.flashed(flashed, body)
    return page(backend, session, "Scenarios", body, "/scenarios", live=True)


def remember(store: dict[str, T], backend: Backend, session: Session, value: T) -> None:
    """`value` kept for `session`'s next page (a one-shot notice); the store is
    emptied once it outgrows the live sessions (those of sessions that ended)."""
    if len(store) > len(backend.sessions):
        store.clear()
    store[session.sid] = value


def flash(
    backend: Backend,
    session: Session,
    message: str,
    *,
    saved: bool = False,
    error: bool | None = None,
) -> None:
    """The outcome of a button, shown once above the next page of `session`;
    `saved`: the editor's Save stored its text (the notice marked for app.js);
    `error`: shown as one (by default, a message that starts with "failed")."""
    bad = message.startswith("failed") if error is None else error
    remember(backend.flashes, backend, session, html.Flash(message[:300], saved, bad))


async def scenario_service(backend: Backend) -> str:
    """The core's scenario service; ReplyError if no worker serves it."""
    service = f"{backend.hostname}.core.scenario"
    if not await backend.available(service):
        raise ReplyError(service, "no worker: is [core] enabled?")
    return service


async def scenario_page(
    request: Request, backend: Backend, session: Session
) -> Response:
    """A scenario's card, what its last run did, and its document."""
    name = request.path_params["name"]
    flashed = backend.flashes.pop(session.sid, None)
    try:
        service = await scenario_service(backend)
        frames = await backend.ask(service, forms.scenario_get_request(name))
        if frames[:1] == [b"404"]:
            return page(
                backend,
                session,
                "Unknown scenario",
                html.notice(f"no scenario named {name[:64]!r}", error=True),
                "/scenarios",
                status=404,
            )
        detail = models.scenario_detail(frames)
    except (forms.FormError, ReplyError) as exc:
        body = html.notice(str(exc), error=True)
    else:
        body = scenario_pages.scenario_body(
            detail, session.csrf, backend.clock.wall(), backend.zone
        )
    return page(
        backend, session, name, html.flashed(flashed, body), "/scenarios", live=True
    )


async def scenario_action(
    request: Request, backend: Backend, session: Session
) -> Response:
    name, action = request.path_params["name"], request.path_params["action"]
    service = f"{backend.hostname}.core.scenario"
    try:
        frames = await backend.ask(service, forms.scenario_request(action, name))
        reply = json_text.loads(frames[1]) if len(frames) > 1 else {}
        reply = reply if isinstance(reply, dict) else {}
        if frames[:1] != [b"200"]:
            raise ReplyError(service, str(reply.get("error", "refused")))
        message, error = outcome(action, name, reply)
    except ReplyError as exc:
        message, error = refusal(action, name, exc.detail), True
    except (forms.FormError, ValueError) as exc:
        message, error = refusal(action, name, str(exc)), True
    flash(backend, session, message, error=error)
    # the buttons of a scenario's own page bring the user back to it
    back = request.query_params.get("back") == "page"
    target = scenario_pages.scenario_href(name) if back else "/scenarios"
    return RedirectResponse(target, status_code=303)


def outcome(action: str, name: str, reply: dict[str, object]) -> tuple[str, bool]:
    """What a button did, as a sentence (and whether it is bad news), from the
    core's 200 reply; the service's name is no word of the household's."""
    if reply.get("not_started"):
        return f"{name} did not start: {reply['not_started']}", False
    if isinstance(reply.get("queued"), int):
        return f"{name} queued ({reply['queued']} waiting)", False
    if isinstance(reply.get("failed"), str):  # this run, over at once
        return f"{name} failed: {reply['failed']}", True
    if action == "run":  # it goes on (or: an older hub), or it is over already
        return (
            (f"{name} done", False) if reply.get("done") else (f"{name} started", False)
        )
    if action == "enable" and reply.get("not_running"):
        return f"{name} enabled, but it does not run: {reply['not_running']}", True
    done = {"enable": "enabled", "disable": "disabled"}
    return f"{name} {done.get(action, action + ' done')}", False


def refusal(action: str, name: str, reason: str) -> str:
    """A button the core refused: a disabled scenario's Run says what to do."""
    for state, advice in (
        ("disabled", "enable it to run it"),
        ("error", "its text does not load: edit it"),
    ):
        if reason == f"scenario {name} is {state}":
            return f"{name} is {state}: {advice}"
    return f"{name}: {action} refused: {reason}"
