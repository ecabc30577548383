"""The web face's page handlers: ask the services, parse (raspy.web.models), render
(raspy.web.pages, raspy.web.service_pages). A service that does not answer is a line
on the page, never a 500: the rest of the page still shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from raspy.actors.web.backend import Backend
from raspy.devices.reading import DEVICE_TREE
from raspy.devices.registry import devices_service_of
from raspy.names import DEVICES_SUFFIX
from raspy.web import forms, html, models, pages, service_pages
from raspy.web.control_html import controls_section
from raspy.web.login import Session
from raspy.web.models import DeviceRow, ReplyError

_TITANIC_SHOWN = 100


def page(
    backend: Backend,
    session: Session,
    title: str,
    body: str,
    active: str,
    *,
    live: bool = False,
    status: int = 200,
) -> Response:
    document = html.page(
        title,
        body,
        csrf=session.csrf,
        active=active,
        host=backend.hostname,
        live=live,
        zone=str(backend.zone),
    )
    # a lone surrogate from a reply's JSON becomes "?" rather than a failed page
    return HTMLResponse(document.encode("utf-8", "replace"), status_code=status)


async def _device_rows(
    backend: Backend, services: Sequence[str]
) -> tuple[list[DeviceRow], list[str]]:
    async def one(service: str) -> list[DeviceRow]:
        frames = await backend.ask(service, forms.list_request())
        return models.devices(service.removesuffix(DEVICES_SUFFIX), frames)

    rows: list[DeviceRow] = []
    problems: list[str] = []
    for service, result in zip(
        services,
        await asyncio.gather(*(one(s) for s in services), return_exceptions=True),
        strict=True,
    ):
        if isinstance(result, ReplyError):
            problems.append(str(result))
        elif isinstance(result, BaseException):
            raise result
        else:
            rows += result
            _remember_labels(backend.labels, service, result)
    return rows, problems


def _remember_labels(
    labels: dict[str, str], service: str, rows: Sequence[DeviceRow]
) -> None:
    """The friendly names a service listed, for when it is gone (unserved_rows):
    its entries replaced by what it lists now, so a device it no longer has (or
    renamed) leaves them and they stay as many as the devices listed."""
    prefix = service.removesuffix(DEVICES_SUFFIX) + "."
    for fullname in [name for name in labels if name.startswith(prefix)]:
        del labels[fullname]
    labels.update(
        (row.fullname, row.friendly_name) for row in rows if row.friendly_name
    )


async def devices_page(
    request: Request,
    backend: Backend,
    session: Session,
    tree: Callable[[str], Mapping[str, object]],
    *,
    refused: Mapping[str, str] | None = None,
    sent: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The controls, then the devices of every served `*.devices` service, and, from
    `tree` (the live values), those of a service no worker serves now (a remote
    board gone). `refused`: a control's POST refused (key -> reason), said under it;
    `sent`: the text it sent (key -> text), in its field again."""
    try:
        services = models.service_names(await backend.ask("mmi.services", b"*.devices"))
    except ReplyError as exc:
        services, problems = [], [str(exc)]
    else:
        problems = []
    rows, more = await _device_rows(backend, services)
    if not problems:  # the broker said which are served
        rows += models.unserved_rows(tree(DEVICE_TREE), set(services), backend.labels)
    body = pages.devices_body(rows, problems + more, backend.clock.wall(), backend.zone)
    live = tree("/") if backend.controls else {}  # one pass, not one a control
    values = {c.key: live.get(c.key) for c in backend.controls}
    shown = controls_section(backend.controls, values, session.csrf, refused, sent)
    return page(
        backend, session, "Devices", shown + body, "/", live=True, status=status
    )


def _device_service(fullname: str) -> str:
    """`<host>.<svc>.devices` of a device full name `<host>.<svc>.<dev>[.<sub>]`."""
    parts = fullname.split(".")
    if len(parts) < 3 or not all(parts):
        raise forms.FormError(f"not a device full name: {fullname[:64]!r}")
    return devices_service_of(fullname)


async def device_page(
    request: Request,
    backend: Backend,
    session: Session,
    tree: Callable[[str], Mapping[str, object]],
) -> Response:
    """A device's card and graph; a device whose service has no worker (a remote
    board gone) is shown from `tree`, the live values, with its recorded history."""
    fullname = request.path_params["fullname"]
    span = request.query_params.get("range", "24h")
    if span not in pages.RANGES:
        span = "24h"
    try:
        service = _device_service(fullname)
        served = await backend.available(service)
    except (forms.FormError, ReplyError) as exc:
        rows, problems = [], [str(exc)]
    else:
        if not served:
            rows = models.unserved_rows(
                tree(f"{DEVICE_TREE}{fullname}/"), (), backend.labels
            )
            problems = [f"{service}: no worker serves it now"]
        else:
            rows, problems = await _device_rows(backend, [service])
    row = next((r for r in rows if r.fullname == fullname), None)
    if row is None:
        text = "; ".join(problems) or f"no device {fullname[:64]!r}"
        return page(
            backend,
            session,
            "Unknown device",
            html.notice(text, error=True),
            "/",
            status=404,
        )
    graph = await _graph(backend, row, span)
    body = pages.device_body(row, graph, backend.clock.wall(), backend.zone)
    if problems:  # shown from the tree: say why there is nothing to command
        body = "".join(html.notice(problem) for problem in problems) + body
    return page(backend, session, row.label, body, "/", live=True)


async def _history(backend: Backend, fullname: str, span: str) -> models.History:
    """The device's recorded values over the range; ReplyError says why not."""
    service = f"{backend.hostname}.logger.history"
    if not await backend.available(service):
        raise ReplyError(service, "history is off: enable [history] in the config")
    now = backend.clock.wall()
    body = forms.history_request(fullname, now - pages.RANGES[span], None)
    frames = await backend.ask(service, body)
    if frames[:1] == [b"404"]:  # logged, but no number recorded yet: no data so far
        return models.History(fullname, "", [], now - pages.RANGES[span], now)
    return models.history(frames)


async def _graph(backend: Backend, row: DeviceRow, span: str) -> pages.Graph:
    """The chart is its own request (the browser fetches only the size it shows,
    drawn once); the page only says when there is no history service."""
    service = f"{backend.hostname}.logger.history"
    if not row.logged:  # no chart to fetch: it would be a broken image
        return pages.Graph(span, problem=pages.NOT_RECORDED, unrecorded=True)
    try:
        if not await backend.available(service):
            return pages.Graph(span, problem="History is off: enable [history].")
    except ReplyError:
        return pages.Graph(span, problem=f"{service}: no reply")
    return pages.Graph(span, unit=row.unit)


_CHART_SIZES = {
    str(width): (width, height) for width, height in pages.CHART_SIZES.items()
}


async def chart(request: Request, backend: Backend, session: Session) -> Response:
    """`/device/<name>/chart.svg?range=&width=&unit=&kind=`: the history graph as
    SVG (a switch's values labelled off and on)."""
    from raspy.history.plot import svg_chart

    fullname = request.path_params["fullname"]
    span = request.query_params.get("range", "24h")
    size = _CHART_SIZES.get(request.query_params.get("width", "800"))
    unit = request.query_params.get("unit", "")[:32]
    if span not in pages.RANGES or size is None:
        return Response("bad range or width", 400, media_type="text/plain")
    try:
        history = await _history(backend, fullname, span)
    except ReplyError as exc:
        return Response(str(exc), 503, media_type="text/plain")
    svg = svg_chart(
        history.points,
        # the device as the page calls it, and the range in words (its tier,
        # "10s", is no word of the household's)
        title=f"{backend.labels.get(fullname, fullname)}, {pages.RANGE_WORDS[span]}",
        unit=unit,
        width=size[0],
        height=size[1],
        zone=backend.zone,
        since=history.since,
        until=history.until,
        switch=pages.is_switch(request.query_params.get("kind", "")),
        step_s=history.step_s,  # a wider spacing than it is a gap in the data
    )
    return Response(
        svg.encode("utf-8", "replace"),
        media_type="image/svg+xml",
        headers={"X-History-Points": str(len(history.points))},
    )


async def services_page(
    request: Request, backend: Backend, session: Session
) -> Response:
    problems: list[str] = []
    workers: list[models.WorkerCount] = []
    parts: list[str] = []
    try:
        workers = models.workers(await backend.ask("mmi.workers", b"*"))
        parts = [
            name.removesuffix(".mmi")
            for name in models.service_names(
                await backend.ask("mmi.services", b"*.mmi")
            )
        ]
    except ReplyError as exc:
        problems.append(str(exc))
    stats = await asyncio.gather(*(_part_stats(backend, part) for part in parts))
    body = service_pages.services_body(workers, stats, problems)
    return page(backend, session, "Services", body, "/services")


async def _part_stats(backend: Backend, part: str) -> service_pages.PartStats:
    try:
        frames = await backend.ask(f"{part}.statistics", b"all")
        return service_pages.PartStats(part, models.statistics(part, frames))
    except ReplyError as exc:
        return service_pages.PartStats(part, [], str(exc))


async def titanic_page(
    request: Request, backend: Backend, session: Session
) -> Response:
    try:
        total, entries = await backend.titanic(_TITANIC_SHOWN)
        problem = ""
    except TimeoutError:  # its str() is empty
        total, entries, problem = 0, [], "cannot read the queue: no answer in time"
    except (OSError, ValueError) as exc:
        total, entries, problem = 0, [], f"cannot read the queue: {exc}"
    part = f"{backend.hostname}.titanic"
    stats = None
    try:
        if await backend.available(f"{part}.statistics"):
            stats = await _part_stats(backend, part)
    except ReplyError as exc:
        stats = service_pages.PartStats(part, [], str(exc))
    body = service_pages.titanic_body(
        entries, total, stats, backend.clock.wall(), backend.zone
    )
    if problem:
        body = html.notice(problem, error=True) + body
    return page(backend, session, "Titanic queue", body, "/titanic")


async def not_found(request: Request, backend: Backend, session: Session) -> Response:
    """Any other path: the page's frame with its menu, so a mistyped or old link
    leads somewhere (Starlette's own answer was a bare "Not Found")."""
    path = str(request.scope["path"])[:64]  # `*` and `http://host/x` too
    return page(
        backend,
        session,
        "No such page",
        html.notice(f"no page {path!r} here", error=True),
        "",
        status=404,
    )
