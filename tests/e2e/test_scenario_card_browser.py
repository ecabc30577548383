"""A scenario card in a real Chromium against the real raspyd, as time goes on: its
`Next fire` follows each firing (it stayed at the page's load: a `* * * * *` card
read "Next fire 18:00:00" at 18:01:13), and its `Last trigger` shows a run tried
as a trigger, live (the web face never showed the last trigger)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from support.chromium import chromium, new_web_token
from support.daemon import Daemon, hostname
from support.net import free_port_base
from support.wait import wait_until

from raspy.client.mdp import Client

CONFIG = '[core]\nenabled = true\ntimezone = "UTC"\n[http]\nenabled = true\n'
BEAT = "name: beat\ntriggers:\n  - every: 2s\n    id: pulse\nactions:\n  - log: 'x'\n"
HOURLY = (
    "name: hourly\ntriggers:\n  - every: 1h\n    id: hour\nactions:\n  - log: 'y'\n"
)
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    data_dir = tmp_path_factory.mktemp("card") / "data"
    token = new_web_token(data_dir)
    daemon = Daemon(data_dir, port_base=free_port_base(5), config_text=CONFIG)
    try:
        yield daemon.start(timeout_s=30), token
    finally:
        daemon.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _ask(daemon: Daemon, action: str, **fields: Any) -> tuple[bytes, Any]:
    with Client(daemon.endpoint, timeout_s=10, retries=1) as client:
        status, body = client.request(
            f"{hostname()}.core.scenario",
            json.dumps({"v": 1, "action": action, **fields}),
        )
    return status, json.loads(body)


def _scenarios_page(browser: Browser, daemon: Daemon, token: str) -> Page:
    base = f"http://127.0.0.1:{daemon.port_base + 4}"
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)

    def login_form() -> bool:
        try:
            page.goto(f"{base}/login")
        except Exception:  # noqa: BLE001  # not listening yet
            return False
        return True

    wait_until(login_form, what="the web face's login form", timeout_s=15)
    page.fill("#secret", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/scenarios")
    return page


def _text(page: Page, selector: str) -> str:
    return str(page.locator(selector).text_content())


def test_the_card_s_next_fire_and_last_trigger_are_live(
    daemon: tuple[Daemon, str], browser: Browser
) -> None:
    hub, token = daemon
    for document in (BEAT, HOURLY):
        assert _ask(hub, "import", document=document)[0] == b"200"
    page = _scenarios_page(browser, hub, token)
    fire = 'time[data-key="/scenario/beat/next_fire"]'
    first = _text(page, fire)
    # the page as served says which trigger fires next (read from the served HTML:
    # on a loaded machine a firing can come, and the live card drop it, before the
    # DOM is read)
    served = page.context.request.get(page.url).text()
    assert '<span class="fire-what">every (pulse)' in served
    # two firings on (every 2s): another time, and which trigger is no longer said
    wait_until(
        lambda: _text(page, fire) not in ("", first), what="the next fire moved on"
    )
    assert _text(page, "li.scenario:has(" + fire + ") .fire-what") == ""
    tried = '[data-key="/scenario/hourly/last_trigger"]'
    assert _text(page, tried) == "\u2013"  # not run yet
    assert _ask(hub, "run", name="hourly", trigger="hour")[0] == b"200"
    wait_until(
        lambda: _text(page, tried) == "every (hour), tried by hand",
        what="the tried run's last trigger on the card",
    )
