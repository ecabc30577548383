"""HTML building blocks: escaping, value formatting and the page frame (pure).

Every piece of outside text goes through esc() (or attr() inside attributes); the
page functions never put a value into markup any other way.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from raspy.records import frozen

# JavaScript writes a number from 1e21 on with an exponent (String, toFixed)
_EXPONENT_FROM: Final = 1e21
_HUNDREDTH: Final = Decimal("0.01")
_EXACT_INTEGERS: Final = 2**53  # past it the page's script holds the nearest float
# a page that names no icon makes the browser ask /favicon.ico, a 404 in its console
ICON_LINK: Final = '<link rel="icon" href="/static/icon.svg" type="image/svg+xml">'
NAV: Final = (
    ("/", "Devices"),
    ("/scenarios", "Scenarios"),
    ("/services", "Services"),
    ("/titanic", "Titanic"),
)


def esc(value: object) -> str:
    """Text for element content or a quoted attribute: & < > " ' escaped."""
    return html.escape(str(value), quote=True)


def show_value(value: object) -> str:
    """A reading as a person reads it: on/off, at most two decimals, a dash for none
    (NaN too: no number, sent to the page's script as null)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"  # an en dash: no value yet
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float) and abs(value) >= _EXPONENT_FROM:
        return _exponent(value)
    if isinstance(value, float):
        # a tie (21.125, a DS18B20's eighths) away from zero, as the page's script
        # (toFixed) shows the live value: f"{:.2f}" said 21.12, then the stream 21.13
        two = Decimal(value).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)
        text = f"{two:f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text  # -0.001 and -0.0 are 0 to a person
    if isinstance(value, int) and abs(value) > _EXACT_INTEGERS:
        # as the script writes the float it parsed: 12345678901234567891 is
        # 12345678901234567000 there, and read so live
        return f"{Decimal(repr(float(value))).normalize():f}"
    if isinstance(value, int | str):
        return str(value)
    return "…"  # a structured value: the device page lists its commands


def _exponent(value: int | float) -> str:
    """A number from 1e21 on as the page's script writes it (`1.5e+21`), an
    infinity (`1e400`, an integer past a float's range) as `Infinity`."""
    number = as_float(value)
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


def epoch_seconds(value: object) -> float | None:
    """A tree value as epoch seconds: a number that is not NaN (an infinity is a
    time out of range, as the page's script has it live), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = as_float(value)
    return None if math.isnan(seconds) else seconds


def as_float(value: int | float) -> float:
    """A number as a float: an integer past a float's range is an infinity, as
    JSON's `1e400` is in Python and any such number in the page's script."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def show_time(wall_ts: float | None, now: float, zone: tzinfo = UTC) -> str:
    """Epoch seconds as time of day in the hub's `zone` (the scenarios' zone, said
    once on every page), with the date when not today."""
    if wall_ts is None:
        return "never"
    try:
        stamp = datetime.fromtimestamp(wall_ts, zone)
    except (OverflowError, ValueError, OSError):  # any Clone client may write it
        return "out of range"
    if datetime.fromtimestamp(now, zone).date() == stamp.date():
        return stamp.strftime("%H:%M:%S") + _repeated_hour_offset(stamp)
    return stamp.strftime("%Y-%m-%d %H:%M") + _repeated_hour_offset(stamp)


def _repeated_hour_offset(stamp: datetime) -> str:
    """` UTC-4` for a time in the hour an autumn night goes through twice, which
    tells its two passes apart (01:30 UTC-4, then 01:30 UTC-5 in New York); empty
    for every other time, which needs no more than the zone the page names. As
    app.js writes it."""
    offset = stamp.utcoffset()
    if offset is None or stamp.replace(fold=1 - stamp.fold).utcoffset() == offset:
        return ""
    minutes = round(offset.total_seconds() / 60)
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f" UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def hidden_csrf(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(csrf)}">'


def post_button(action: str, label: str, csrf: str, *, css: str = "") -> str:
    """A one-button form: every change is a POST with the session's CSRF token."""
    klass = f' class="{esc(css)}"' if css else ""
    return (
        f'<form method="post" action="{esc(action)}" class="inline">'
        f'{hidden_csrf(csrf)}<button type="submit"{klass}>{esc(label)}</button></form>'
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, css: str = ""
) -> str:
    """A table whose cells are already HTML (the caller escaped them)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows
    )
    klass = f' class="{esc(css)}"' if css else ""
    return f'<div class="scroll"><table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def notice(text: str, *, error: bool = False, mark: str = "") -> str:
    """A line above a page; `mark`, an attribute app.js goes by whatever the
    words: `data-saved` (a Save's success: it drops its draft), `data-unrecorded`
    (a device's log is off: gone once Record is on)."""
    css = "notice error" if error else "notice"
    role = "alert" if error else "status"
    marked = f" {mark}" if mark else ""
    return f'<p class="{css}" role="{role}"{marked}>{esc(text)}</p>'


@frozen
class Flash:
    """The outcome of a button, shown once above the next page; `saved`: a Save
    of the editor stored its text (or found it stored unchanged); `error`: it
    failed (shown in red)."""

    message: str
    saved: bool = False
    error: bool = False


def flashed(flash: Flash | None, body: str) -> str:
    """The outcome of the last button pressed, above the page."""
    if flash is None or not flash.message:
        return body
    mark = "data-saved" if flash.saved else ""
    return notice(flash.message, error=flash.error, mark=mark) + body


def page(
    title: str,
    body: str,
    *,
    csrf: str,
    active: str,
    host: str,
    live: bool = False,
    zone: str = "UTC",
) -> str:
    """The whole document: head, navigation (with log-out), the body HTML."""
    current = ' aria-current="page"'
    links = "".join(
        f'<a href="{href}"{current if href == active else ""}>{label}</a>'
        for href, label in NAV
    )
    live_attr = ' data-live="1"' if live else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="csrf-token" content="{esc(csrf)}">'
        f"<title>{esc(title)} · raspy {esc(host)}</title>"
        f"{ICON_LINK}"
        '<link rel="stylesheet" href="/static/app.css">'
        '<script src="/static/app.js" defer></script>'
        f'</head><body{live_attr} data-tz="{esc(zone)}">'
        f'<header><span class="brand">raspy <small>{esc(host)}</small></span>'
        f"<nav>{links}</nav>"
        f"{post_button('/logout', 'Log out', csrf, css='quiet')}</header>"
        f"<main><h1>{esc(title)}</h1>{body}</main>"
        f'<footer class="zone">Times in {esc(zone)}</footer></body></html>'
    )


def login_page(
    login_csrf: str, message: str = "", next_path: str = "/", note: str = ""
) -> str:
    """The login form (the only page served without a session); `next_path`: the
    page to go to once logged in (login.safe_next has checked it); `message`: why
    a login failed, `note`: why one is asked for (a session that ended)."""
    shown = notice(message, error=True) if message else notice(note) if note else ""
    going = (
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        if next_path != "/"
        else ""
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Log in · raspy</title>"
        f"{ICON_LINK}"
        '<link rel="stylesheet" href="/static/app.css"></head><body class="login">'
        "<main><h1>raspy</h1>"
        f"{shown}"
        '<form method="post" action="/login" class="login-form">'
        f"{hidden_csrf(login_csrf)}{going}"
        '<label for="secret">Token or password</label>'
        '<input id="secret" name="secret" type="password" autocomplete="current-password" required autofocus>'
        '<button type="submit">Log in</button></form>'
        '<p class="hint">Make a token on the hub with <code>raspy web-token'
        " --data-dir DIR</code>, DIR raspyd's data dir (<code>var/raspy</code> under"
        " <code>make run</code>).</p>"
        "</main></body></html>"
    )
