"""Values as the page's script writes them, and the server at the page's load, in
a real Chromium (Debian's `chromium` driven by Playwright): a value just below
zero, and the countdown under a held switch.

No raspyd here: the page is the server's own HTML (raspy.web.pages and html), its
script the real static/app.js, and its stream the real LiveHub's bytes, each
answered by the test's routes, so that a value reaches both ends as it is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route
from support.chromium import chromium

import raspy.web
from raspy.web.html import page as html_page
from raspy.web.live import LiveHub, retry
from raspy.web.models import DeviceRow
from raspy.web.pages import devices_body

STATIC = Path(raspy.web.__file__).parent / "static"
BASE = "http://127.0.0.1:9"  # never reached: the routes answer every request
SERVICE = "h.fake"
# every [data-key] element's text, as the page has it
TEXTS = """() => Object.fromEntries(Array.from(document.querySelectorAll("[data-key]"),
    (el) => [el.dataset.key, el.textContent]))"""
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


def _live(browser: Browser, oid: str, bodies: Sequence[bytes]) -> dict[str, str]:
    """The page's values once the stream brought `bodies` (the page's own, at
    load: something none of them reads as)."""
    hub = LiveHub()
    rows = _rows(oid, ["blank"] * len(bodies))
    hub.publish(
        (f"{row.key}value", body) for row, body in zip(rows, bodies, strict=True)
    )
    page = _open(browser, _html(rows, live=True), hub.join(lambda: None).take())
    page.wait_for_function("() => document.body.dataset.updates === '1'")
    return _texts(page)


def test_a_value_just_below_zero_reads_0_at_load_and_live(browser: Browser) -> None:
    """A reading that rounds to 0 from below (-0.001) read "-0" on both ends, and
    a negative zero (-0.0) "-0" at the page's load and "0" live."""
    bodies = [b"-0.0", b"-0", b"-0.001", b"-0.004999", b"-1e-7", b"-0.005"]
    rows = _rows("sensor.temperature", [json.loads(body) for body in bodies])
    at_load = _texts(_open(browser, _html(rows, live=False)))
    live = _live(browser, "sensor.temperature", bodies)
    want = ["0", "0", "0", "0", "0", "-0.01"]
    assert [at_load[f"{row.key}value"] for row in rows] == want
    assert [live[f"{row.key}value"] for row in rows] == want


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
