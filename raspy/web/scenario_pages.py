"""The scenarios' pages from typed rows (pure: rows and `now` in, HTML out): the
list of cards, a scenario's own page, and the buttons of each card.

A card's live elements carry `data-key` (the scenario's `/scenario/<name>/…` entry);
app.js updates them from the `/events` stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from urllib.parse import quote as url_quote

from raspy.web.html import esc, notice, post_button, show_time, show_value
from raspy.web.models import ScenarioDetail, ScenarioRow
from raspy.web.pages import status_class


def as_enabled(stored: str, enabled: object) -> str:
    """A stored text as the pages show it: its `enabled:` saying the scenario's
    state (`enabled`, the `get` reply's; anything but a bool leaves the text as
    it is), as `raspy scenario export` writes it: Enable and Disable change the
    state, not the text, and a Save of a text saying otherwise switched it back."""
    if not isinstance(enabled, bool):
        return stored
    from raspy.rules.enabled_text import stating_enabled  # YAML: on first use only

    return stating_enabled(stored, enabled)


def scenario_href(name: str) -> str:
    return "/scenarios/" + url_quote(name, safe="")


def scenarios_body(
    rows: Sequence[ScenarioRow], csrf: str, now: float, zone: tzinfo = UTC
) -> str:
    """One card per scenario: state, last run, runs, last error and its buttons."""
    new = '<p class="edit-links"><a class="button" href="/new-scenario">New scenario</a></p>'
    if not rows:
        return new + notice("No scenarios stored: write one with New scenario.")
    cards = "".join(_scenario_card(row, csrf, now, zone) for row in rows)
    return f'{new}<ul class="scenarios">{cards}</ul>'


def scenario_body(
    detail: ScenarioDetail, csrf: str, now: float, zone: tzinfo = UTC
) -> str:
    """A scenario's own page: its card (its buttons bring the user back here), how
    far a run under way has come (a fade, a wait of 20 minutes: what it waits
    for now), what its last run that ended did, and its document as stored, its
    `enabled:` saying the state (as_enabled)."""
    card = _scenario_card(detail.row, csrf, now, zone, back="?back=page", link=False)
    trace = (
        f'<pre class="trace">{esc(chr(10).join(detail.trace))}</pre>'
        if detail.trace
        else notice("No run has ended since raspyd started.")
    )
    under_way = (
        "<h2>Run under way</h2>"
        f'<pre class="trace">{esc(chr(10).join(detail.run_trace))}</pre>'
        if detail.run_trace
        else ""
    )
    base = esc(scenario_href(detail.row.name))
    shown = as_enabled(detail.document, detail.row.enabled)
    edit = (  # the editor's pages (raspy.web.editor)
        f'<p class="edit-links"><a class="button" href="{base}/edit">Edit</a> '
        f'<a class="button" href="{base}/delete">Delete</a></p>'
    )
    return (
        f'<ul class="scenarios single">{card}</ul>{edit}'
        f'<dl class="facts"><dt>Mode</dt><dd>{esc(detail.mode)}</dd>'
        f"{_each_fire(detail.row, now, zone)}</dl>"
        f"{under_way}<h2>Last run did</h2>{trace}"
        # the parser drops a newline right after <pre>: one that starts the text
        # stays (app.js compares the text shown with the editor's draft)
        f'<h2>Document</h2><pre class="document">\n{esc(shown)}</pre>'
    )


def _scenario_card(
    row: ScenarioRow,
    csrf: str,
    now: float,
    zone: tzinfo,
    *,
    back: str = "",
    link: bool = True,
) -> str:
    base = scenario_href(row.name)
    key = f"/scenario/{esc(row.name)}/"
    toggle = (
        post_button(f"{base}/disable{back}", "Disable", csrf)
        if row.enabled
        else post_button(f"{base}/enable{back}", "Enable", csrf)
    )
    name = f'<a href="{esc(base)}">{esc(row.name)}</a>' if link else esc(row.name)
    # red only with an error to tell: its dash for none is plain text (app.js alike)
    error_class = "last-error error-text" if row.last_error else "last-error"
    return (
        f'<li class="scenario"><div class="head"><span class="name">{name}</span>'
        f'<span class="state {status_class(row.state, "state-")}" '
        f'data-key="{key}state">'
        f"{esc(row.state)}</span></div>"
        f'<p class="sub">{esc(row.description)}</p>'
        f'<dl class="facts"><dt>Last run</dt><dd><time data-key="{key}last_run">'
        f"{esc(show_time(row.last_run, now, zone))}</time></dd>"
        f'<dt>Runs</dt><dd class="runs" data-key="{key}runs">'
        f"{esc(show_value(row.runs))}</dd>"
        f'<dt>Last trigger</dt><dd class="trigger" data-key="{key}last_trigger">'
        f"{esc(row.last_trigger or chr(0x2013))}</dd>"
        f'<dt>Last error</dt><dd class="{error_class}" data-key="{key}last_error">'
        f"{esc(show_value(row.last_error or None))}</dd>"
        f'<dt>Failed at</dt><dd><time data-key="{key}last_error_at">'
        f"{esc(show_time(row.last_error_at, now, zone))}</time></dd>"
        f"{_last_skip(row, now, zone)}{_next_fire(row, now, zone)}"
        "</dl>"
        f'<div class="actions">{toggle}{_run_button(row, f"{base}/run{back}", csrf)}'
        "</div></li>"
    )


def _run_button(row: ScenarioRow, action: str, csrf: str) -> str:
    """Run; for a disabled scenario, which the core would refuse to run, a Run
    that cannot be pressed and what to do instead."""
    if row.enabled:
        return post_button(action, "Run", csrf)
    return (
        '<button type="button" disabled>Run</button> '
        '<span class="why">Enable it to run it.</span>'
    )


def _next_fire(row: ScenarioRow, now: float, zone: tzinfo) -> str:
    """When its soonest time trigger fires ("when will it run?"), live from
    `/scenario/<name>/next_fire`, which the core writes at each firing: which
    trigger that is, known at the page's load, is dropped by app.js once the time
    moves on (the key holds the time only); the scenario's own page lists each."""
    if not row.next_fires:
        return ""
    what, at = row.next_fires[0]
    key = f"/scenario/{row.name}/next_fire"
    return (
        f'<dt>Next fire</dt><dd><time data-key="{esc(key)}" data-at="{at!r}">'
        f'{esc(show_time(at, now, zone))}</time> <span class="fire-what">{esc(what)}'
        "</span></dd>"
    )


def _each_fire(row: ScenarioRow, now: float, zone: tzinfo) -> str:
    """When each of its time triggers fires next, one line each (at the page's
    load), for the scenario's own page."""
    return "".join(
        f"<dt>Fires next</dt><dd><time>{esc(show_time(at, now, zone))}</time> "
        f"{esc(what)}</dd>"
        for what, at in row.next_fires
    )


def _last_skip(row: ScenarioRow, now: float, zone: tzinfo) -> str:
    """Why the last trigger started no run ("why did it not run?"), if one did not."""
    if row.last_skip_at is None:
        return ""
    return (
        f"<dt>Last skipped</dt><dd><time>{esc(show_time(row.last_skip_at, now, zone))}"
        f"</time> {esc(row.last_skip_reason)}</dd>"
    )
