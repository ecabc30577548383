"""Values as the page's script writes them, and the server at the page's load, in
a real Chromium (Debian's `chromium` driven by Playwright): the same text for the
same value at both ends (odd values any Clone client may write, a value just below
zero), and the countdown under a held switch.

No raspyd here: the page is the server's own HTML (raspy.web.pages, scenario_pages), its
script the real static/app.js, and its stream the real LiveHub's bytes, each
answered by the test's routes, so that a value reaches both ends as it is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Route
from support.chromium import chromium

import raspy.web
from raspy.web import models
from raspy.web.html import page as html_page
from raspy.web.live import LiveHub, retry
from raspy.web.models import DeviceRow, ScenarioRow
from raspy.web.pages import devices_body
from raspy.web.scenario_pages import scenarios_body

STATIC = Path(raspy.web.__file__).parent / "static"
BASE = "http://127.0.0.1:9"  # never reached: the routes answer every request
SERVICE = "h.fake"
# every [data-key] element's text, and the classes that say a value (a device's
# card, a scenario's state and last error), as the page has them
TEXTS = """() => Object.fromEntries([
    ...Array.from(document.querySelectorAll("[data-key]"),
        (el) => [el.dataset.key, el.textContent]),
    ...Array.from(document.querySelectorAll("li.device"),
        (el) => ["card " + el.dataset.statusKey, el.className]),
    ...Array.from(document.querySelectorAll(".state[data-key], .last-error[data-key]"),
        (el) => ["class " + el.dataset.key, el.className]),
])"""
# tree bodies any Clone client may write (raspy-kv writes what it is given)
ODD_JSON = [
    b"null",
    b"true",
    b"false",
    b"0",
    b"-0.0",
    b"-0.001",
    b"0.004",
    b"1e-7",
    b"21.125",
    b"1e9",
    b"1e21",
    b"-2.5e300",
    b"123456789012345678901234567890",
    b"12345678901234567891",  # past 2**53: the page's script holds ...7000
    b"-9007199254740993",
    b"9" * 400,  # no float holds it: read as 1e400 is
    b"1e400",
    b"-1e400",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b'""',
    b'"ok login"',
    b'"1e400"',
    b"[1, 2]",
    b"[1e400]",
    b'{"a": NaN}',
]
ODD_BODIES = [*ODD_JSON, b"not json", b"\xff\xfe"]
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _static(route: Route) -> None:
    """A file of static/, its bytes given here: a path= would start Playwright's
    executor threads, which outlive the test."""
    file = STATIC / route.request.url.rsplit("/", 1)[-1]
    if file.is_file():
        route.fulfill(body=file.read_bytes(), content_type=_TYPES[file.suffix])
    else:
        route.abort()


def _open(
    browser: Browser, html: str, events: bytes | None = None, now_s: float = 0
) -> Page:
    """The page `html` with the real app.js; `events`: its `/events` stream's
    bytes (the page is live), sent once and then again after a minute; `now_s`:
    the page's Date.now() stays at it (none: the real clock)."""
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    if now_s:
        page.clock.set_fixed_time(now_s)  # seconds, in Playwright's Python
    page.route(f"{BASE}/static/**", _static)
    page.route(
        f"{BASE}/", lambda route: route.fulfill(content_type="text/html", body=html)
    )
    if events is not None:
        stream = retry(60_000) + events
        page.route(
            f"{BASE}/events",
            lambda route: route.fulfill(content_type="text/event-stream", body=stream),
        )
    page.goto(f"{BASE}/")
    return page


def _html(rows: Sequence[DeviceRow], *, live: bool) -> str:
    body = devices_body(rows, [], time.time())
    return html_page("Devices", body, csrf="t", active="/", host="h", live=live)


def _texts(page: Page) -> dict[str, str]:
    texts: dict[str, str] = page.evaluate(TEXTS)
    page.context.close()
    return texts


def _rows(oid: str, values: Sequence[object]) -> list[DeviceRow]:
    return [
        DeviceRow(
            SERVICE, f"d{n}", f"{SERVICE}.d{n}", oid, value, "", "ok", None, False
        )
        for n, value in enumerate(values)
    ]


def _live(
    browser: Browser, rows: Sequence[DeviceRow], field: str, bodies: Sequence[bytes]
) -> dict[str, str]:
    """The page of `rows` once the stream brought each its `field`'s body (at load
    they read "blank", as none of the bodies does)."""
    blank = [replace(row, value="blank", unit="blank", status="blank") for row in rows]
    hub = LiveHub()
    hub.publish(
        (f"{row.key}{field}", body) for row, body in zip(rows, bodies, strict=True)
    )
    page = _open(browser, _html(blank, live=True), hub.join(lambda: None).take())
    page.wait_for_function("() => document.body.dataset.updates === '1'")
    return _texts(page)


def test_a_value_just_below_zero_reads_0_at_load_and_live(browser: Browser) -> None:
    """A reading that rounds to 0 from below (-0.001) read "-0" on both ends, and
    a negative zero (-0.0) "-0" at the page's load and "0" live."""
    bodies = [b"-0.0", b"-0", b"-0.001", b"-0.004999", b"-1e-7", b"-0.005"]
    rows = _rows("sensor.temperature", [json.loads(body) for body in bodies])
    at_load = _texts(_open(browser, _html(rows, live=False)))
    live = _live(browser, rows, "value", bodies)
    want = ["0", "0", "0", "0", "0", "-0.01"]
    assert [at_load[f"{row.key}value"] for row in rows] == want
    assert [live[f"{row.key}value"] for row in rows] == want


@pytest.mark.parametrize("oid", ["sensor.temperature", "clock.rtc"])
def test_a_served_devices_odd_value_reads_the_same_at_load_and_live(
    browser: Browser, oid: str
) -> None:
    """A value as its service's `list` reply gives it at the page's load (its JSON
    holds the value as the tree does) and as the stream brings it: `1e400` read
    "inf" at load and "1e400" live (a clock's: "out of range" and "1e400")."""
    items = [
        b'{"name":"d%d","fullname":"%s.d%d","oid":"%s","reading":{"value":%s}}'
        % (n, SERVICE.encode(), n, oid.encode(), body)
        for n, body in enumerate(ODD_JSON)
    ]
    reply = b'{"devices":[' + b",".join(items) + b"]}"
    rows = sorted(
        models.devices(SERVICE, [b"200", reply]), key=lambda r: int(r.name[1:])
    )
    at_load = _texts(_open(browser, _html(rows, live=False)))
    live = _live(browser, rows, "value", ODD_JSON)
    keys = [f"{row.key}value" for row in rows]
    assert _differing(at_load, live, keys) == {}
    infinity = at_load[f"{rows[ODD_JSON.index(b'1e400')].key}value"]
    assert infinity == ("out of range" if oid == "clock.rtc" else "Infinity")


@pytest.mark.parametrize("field", ["value", "timestamp", "status", "unit"])
def test_a_gone_boards_odd_field_reads_the_same_at_load_and_live(
    browser: Browser, field: str
) -> None:
    """A device whose service is gone is shown from the tree (models.unserved_rows)
    at the page's load: its value, time, status and unit, whatever a Clone client
    wrote there, read as app.js writes them live, and its card has the same class
    (a status that was not text read "unknown" at load and `on`, `0`, a dash...
    live, and a unit that was not text nothing at load and the same live)."""
    hub = LiveHub()
    fullnames = [f"{SERVICE}.d{n}" for n in range(len(ODD_BODIES))]
    hub.publish(
        (f"/device/{name}/{field}", body)
        for name, body in zip(fullnames, ODD_BODIES, strict=True)
    )
    rows = models.unserved_rows(hub.values("/device/"), ())
    rows.sort(key=lambda row: fullnames.index(row.fullname))
    assert [row.fullname for row in rows] == fullnames
    at_load = _texts(_open(browser, _html(rows, live=False)))
    live = _live(browser, rows, field, ODD_BODIES)
    keys = [f"{row.key}{field}" for row in rows]
    keys += [f"card {row.key}status" for row in rows] if field == "status" else []
    assert _differing(at_load, live, keys) == {}


@pytest.mark.parametrize(
    "field",
    ["state", "runs", "last_run", "last_error", "last_error_at", "last_trigger"],
)
def test_a_scenarios_odd_field_reads_the_same_at_load_and_live(
    browser: Browser, field: str
) -> None:
    """A scenario's card at the page's load is the core's `list` reply (its JSON
    holds the value as the tree does) and live the tree's key: a state, a count
    of runs or a last error that was not what the core writes read "unknown", 0
    and a dash at load, and `on`, `1.5`, `[1, 2]`... live."""
    items = [
        b'{"name":"s%d","enabled":true,"%s":%s}' % (n, field.encode(), body)
        for n, body in enumerate(ODD_JSON)
    ]
    rows = models.scenarios([b"200", b"[" + b",".join(items) + b"]"])
    blank = [replace(row, state="blank", last_error="blank") for row in rows]
    at_load = _texts(_open(browser, _scenarios_html(rows, live=False)))
    hub = LiveHub()
    hub.publish(
        (f"/scenario/{row.name}/{field}", body)
        for row, body in zip(rows, ODD_JSON, strict=True)
    )
    page = _open(
        browser, _scenarios_html(blank, live=True), hub.join(lambda: None).take()
    )
    page.wait_for_function("() => document.body.dataset.updates === '1'")
    live = _texts(page)
    keys = [f"/scenario/{row.name}/{field}" for row in rows]
    if field in ("state", "last_error"):
        keys += [f"class /scenario/{row.name}/{field}" for row in rows]
    assert _differing(at_load, live, keys) == {}


def _scenarios_html(rows: Sequence[ScenarioRow], *, live: bool) -> str:
    body = scenarios_body(rows, "t", time.time())
    return html_page(
        "Scenarios", body, csrf="t", active="/scenarios", host="h", live=live
    )


def _differing(
    at_load: dict[str, str], live: dict[str, str], keys: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """key -> (at load, live) of each of `keys` where the two differ."""
    return {
        key: (at_load[key][:24], live[key][:24])
        for key in keys
        if at_load[key] != live[key]
    }


def test_the_wait_under_a_held_switch_reads_in_whole_units(browser: Browser) -> None:
    """From 59.5 s to 60 s left the note under a held switch said "on in 60 s",
    rounded up after choosing seconds, where 60 s says "on in 1 min"."""
    waits = {59.6: "1 min", 59.0: "59 s", 0.2: "1 s", 60.5: "2 min", 5400: "1.5 h"}
    rows = [
        DeviceRow(
            SERVICE, f"s{n}", f"{SERVICE}.s{n}", "switch", False, "", "ok", None, False
        )
        for n in range(len(waits))
    ]
    now_s = 1_800_000_000  # whole seconds: each wait is what the page works out
    hub = LiveHub()
    hub.publish(
        (
            f"/device/{row.fullname}/pending",
            json.dumps({"state": True, "due": now_s + wait}).encode(),
        )
        for row, wait in zip(rows, waits, strict=True)
    )
    page = _open(browser, _html(rows, live=True), hub.join(lambda: None).take(), now_s)
    page.wait_for_function("() => document.body.dataset.updates === '1'")
    notes = page.eval_on_selector_all(
        "button.switch",
        "els => els.map(el => el.closest('li').querySelector('.error').textContent)",
    )
    page.context.close()
    assert notes == [f"on in {text}" for text in waits.values()]


# the autumn night's repeated hour (half hour in Lord Howe), from its first pass
AUTUMN = {
    "America/New_York": (1_793_511_000.0, 3600.0),  # 2026-11-01 01:30 EDT
    "Australia/Lord_Howe": (1_775_313_900.0, 1800.0),  # 2026-04-05 01:45 +11:00
}
AUTUMN_TEXTS = {
    "America/New_York": [
        "01:30:00 UTC-4",
        "01:30:00 UTC-5",
        "00:30:00",
        "02:30:00",
        "2026-11-02 01:30",
    ],
    "Australia/Lord_Howe": [
        "01:45:00 UTC+11",
        "01:45:00 UTC+10:30",
        "00:45:00",
        "02:45:00",
        "2026-04-06 01:45",
    ],
}


@pytest.mark.parametrize("zone", list(AUTUMN))
def test_the_two_passes_of_an_autumn_hour_read_apart_at_load_and_live(
    browser: Browser, zone: str
) -> None:
    """A time in the hour the clocks go through twice says its UTC offset, at the
    page's load and live (the two 01:30s of New York's autumn night looked the
    same); the hours around it, and the day after, show as before."""
    first, repeat = AUTUMN[zone]
    later = first + repeat  # the second pass
    times = [first, later, first - 3600, later + 3600, later + 86400]
    items = [
        b'{"name":"s%d","enabled":true,"last_run":%r}' % (n, at)
        for n, at in enumerate(times)
    ]
    rows = models.scenarios([b"200", b"[" + b",".join(items) + b"]"])
    tz = ZoneInfo(zone)

    def html(shown: Sequence[ScenarioRow], *, live: bool) -> str:
        body = scenarios_body(shown, "t", first, tz)
        return html_page(
            "Scenarios",
            body,
            csrf="t",
            active="/scenarios",
            host="h",
            live=live,
            zone=zone,
        )

    at_load = _texts(_open(browser, html(rows, live=False), now_s=first))
    hub = LiveHub()
    hub.publish(
        (f"/scenario/{row.name}/last_run", json.dumps(at).encode())
        for row, at in zip(rows, times, strict=True)
    )
    blank = [replace(row, last_run=None) for row in rows]
    page = _open(
        browser, html(blank, live=True), hub.join(lambda: None).take(), now_s=first
    )
    page.wait_for_function("() => document.body.dataset.updates === '1'")
    live = _texts(page)
    keys = [f"/scenario/{row.name}/last_run" for row in rows]
    assert [at_load[key] for key in keys] == AUTUMN_TEXTS[zone]
    assert [live[key] for key in keys] == AUTUMN_TEXTS[zone]
