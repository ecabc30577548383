"""The web face as a household uses it, in a real Chromium (Debian's, driven by
Playwright) against the real raspyd: two people at once, a phone, the hub
restarted under an open page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route
from support.chromium import chromium, new_web_token
from support.daemon import Daemon, hostname
from support.kv_cli import kv_process
from support.net import free_port_base
from support.wait import wait_until

CONFIG = """
[devices]
fake_enabled = true
gpio_enabled = true
pin_factory = "mock"

[[devices.fake]]
name = "outdoor"
oid = "sensor.temperature"
poll_interval_s = 0.5

[[devices.fake]]
name = "hall"
oid = "dimmer"
poll_interval_s = 10.0

[[devices.gpio]]
name = "relay"
oid = "switch"
pin = 17

[[devices.gpio]]
name = "compressor"
oid = "switch"
pin = 18
min_off_s = 600.0

[http]
enabled = true

[[controls]]
key = "/house/guests"
kind = "switch"
"""
PHONE = {"viewport": {"width": 360, "height": 740}, "has_touch": True}
pytestmark = pytest.mark.timeout(180)


class Hub:
    def __init__(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        self.token = new_web_token(data_dir)
        self.daemon = Daemon(data_dir, port_base=free_port_base(5), config_text=CONFIG)
        self.base = f"http://127.0.0.1:{self.daemon.port_base + 4}"

    def key(self, device: str, entry: str = "value") -> str:
        return f"/device/{hostname()}.{device}/{entry}"

    def get(self, key: str) -> str:
        """raspy-kv get: the value's JSON, or "" for no such key."""
        return self.kv("get", key)

    def kv(self, *args: str) -> str:
        """raspy-kv against this hub: its output."""
        # a failure (no such key) is its empty output
        return kv_process(self.daemon.port_base, *args, check=False).strip()

    def log_in(self, browser: Browser, **context: object) -> Page:
        page = browser.new_context(**context).new_page()  # type: ignore[arg-type]
        page.set_default_timeout(15_000)
        page.goto(f"{self.base}/login")
        page.fill("#secret", self.token)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.base}/")
        return page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    started = Hub(tmp_path)
    try:
        started.daemon.start(timeout_s=30)
        yield started
    finally:
        started.daemon.kill()


def _updates(page: Page) -> int:
    return int(page.evaluate("Number(document.body.dataset.updates || 0)"))


def _switch(hub: Hub, device: str) -> str:
    return f'button.switch[data-key="{hub.key(device)}"]'


def _note(hub: Hub, device: str) -> str:
    return f"li:has({_switch(hub, device)}) .error"


def test_a_page_open_across_a_restart_of_the_hub_comes_back_fresh(
    browser: Browser, hub: Hub
) -> None:
    """raspyd stopped and started again under an open page: a switch pressed
    meanwhile says the hub did not answer, and the page comes back by itself,
    without a reload, with the tree as it is now. A held switch's note went with
    its `pending` key (a start with `initial = "off"` drops what was held); the
    page kept saying "on in 10 min" for ten minutes, which a reload did not."""
    page = hub.log_in(browser)
    page.evaluate("window.notReloaded = true")
    page.click(_switch(hub, "gpio.relay"))
    page.click(_switch(hub, "gpio.compressor"))
    page.wait_for_function(
        "s => document.querySelector(s).textContent.startsWith('on in')",
        arg=_note(hub, "gpio.compressor"),
    )
    wait_until(lambda: hub.get(hub.key("gpio.relay")) == "true", what="relay on")
    assert hub.daemon.terminate(timeout_s=20) == 0
    page.click(_switch(hub, "gpio.relay"))
    away = page.locator(_note(hub, "gpio.relay"))
    away.filter(has_text="No answer from the hub").wait_for()
    seen = _updates(page)
    hub.daemon.start(timeout_s=30)
    wait_until(lambda: _updates(page) > seen, what="live values again", timeout_s=30)
    relay = page.get_attribute(_switch(hub, "gpio.relay"), "aria-checked")
    held = page.text_content(_note(hub, "gpio.compressor"))
    pending = hub.get(hub.key("gpio.compressor", "pending"))
    alive = page.evaluate("window.notReloaded === true")
    page.click(_switch(hub, "gpio.relay"))  # the session and its token kept
    wait_until(lambda: hub.get(hub.key("gpio.relay")) == "true", what="relay on")
    page.context.close()
    assert (pending, relay, held, alive) == ("", "false", "", True)


def test_two_people_at_once_one_on_a_phone(browser: Browser, hub: Hub) -> None:
    """One touches the dimmer on a 360 px phone and presses a switch, the other
    sees both live; one logs out, and the other's page stays live and usable."""
    phone = hub.log_in(browser, **PHONE)
    desk = hub.log_in(browser)
    slider = phone.locator(f'input.dimmer[data-key="{hub.key("fake.hall")}"]')
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    assert box is not None
    phone.touchscreen.tap(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    level = wait_until(
        lambda: (
            hub.get(hub.key("fake.hall")) not in ("", "0")
            and hub.get(hub.key("fake.hall"))
        ),
        what="the hall's level",
    )
    desk.wait_for_function(
        "([s, v]) => document.querySelector(s).value === v",
        arg=[f'input.dimmer[data-key="{hub.key("fake.hall")}"]', level],
    )
    phone.locator(_switch(hub, "gpio.relay")).tap()
    desk.wait_for_function(
        "s => document.querySelector(s).getAttribute('aria-checked') === 'true'",
        arg=_switch(hub, "gpio.relay"),
    )
    phone.click("text=Log out")
    phone.wait_for_url(f"{hub.base}/login")
    seen = _updates(desk)
    wait_until(lambda: _updates(desk) > seen + 2, what="the desk's live values")
    desk.click(_switch(hub, "gpio.relay"))
    wait_until(lambda: hub.get(hub.key("gpio.relay")) == "false", what="relay off")
    phone_url, desk_url = phone.url, desk.url
    phone.context.close()
    desk.context.close()
    assert (phone_url, desk_url) == (f"{hub.base}/login", f"{hub.base}/")


def test_a_control_deleted_while_the_page_was_away_is_gone_when_it_is_back(
    browser: Browser, hub: Hub
) -> None:
    """A page away from the hub (a phone asleep, off the Wi-Fi; here raspyd
    restarted) misses the stream's deletions: a control deleted meanwhile
    (`raspy-kv del`) kept its value, and its mark, once the stream was back."""
    page = hub.log_in(browser)
    guests = 'li.control[data-control-key="/house/guests"]'
    page.click(f"{guests} button.switch")
    page.locator(f"{guests} .control-value").filter(has_text="on").wait_for()
    assert hub.daemon.terminate(timeout_s=20) == 0
    page.route("**/events", lambda route: route.abort())  # away until deleted
    hub.daemon.start(timeout_s=30)
    assert hub.kv("del", "/house/guests").startswith("/house/guests")
    seen = _updates(page)
    page.unroute("**/events")
    wait_until(lambda: _updates(page) > seen, what="live values again", timeout_s=30)
    shown = page.text_content(f"{guests} .control-value")
    pressed = page.get_attribute(f"{guests} button.switch", "aria-checked")
    page.reload()  # as the page's load says it
    loaded = page.text_content(f"{guests} .control-value")
    loaded_pressed = page.get_attribute(f"{guests} button.switch", "aria-checked")
    page.context.close()
    assert (shown, pressed) == ("\u2013", "false") == (loaded, loaded_pressed)


def test_a_page_behind_a_proxy_comes_back_after_a_restart_of_the_hub(
    browser: Browser, hub: Hub
) -> None:
    """Behind a TLS proxy (docs/web.md advises one beyond the LAN), a restart of
    raspyd gets the proxy's 502 for the live stream, which closes it for good: the
    page reloaded 2 s later onto the proxy's error page, and a wall tablet stayed
    there after the hub was back. It reloads once the hub answers again."""
    page = hub.log_in(browser)
    page.evaluate("window.notReloaded = true")

    def bad_gateway(route: Route) -> None:
        route.fulfill(status=502, content_type="text/html", body="502 Bad Gateway")

    page.route("**/*", bad_gateway)  # the proxy, raspyd away behind it
    assert hub.daemon.terminate(timeout_s=20) == 0
    page.wait_for_timeout(4000)  # a few of the page's tries
    away = page.evaluate("window.notReloaded === true")
    hub.daemon.start(timeout_s=30)
    with page.expect_navigation(timeout=30_000):  # a reload, once it answers
        page.unroute("**/*")
    page.locator("h1").filter(has_text="Devices").wait_for()
    seen = _updates(page)
    wait_until(lambda: _updates(page) > seen, what="live values again", timeout_s=30)
    page.context.close()
    assert away


def test_a_device_value_deleted_while_the_page_was_away_is_gone_when_it_is_back(
    browser: Browser, hub: Hub
) -> None:
    """As a control's: a device's value deleted while the page was away (here
    raspyd restarted) kept its old reading once the stream was back, where the
    page's load shows none. A board's device (no worker: listed from the tree)
    keeps its row by its status."""
    device = "/device/board.probe.attic/"
    for entry, body in (("status", '"ok"'), ("value", "21.5")):
        assert hub.kv("set", f"{device}{entry}", body).startswith(device)
    page = hub.log_in(browser)
    value = f'.value[data-key="{device}value"]'
    page.locator(value).filter(has_text="21.5").wait_for()
    assert hub.daemon.terminate(timeout_s=20) == 0
    page.route("**/events", lambda route: route.abort())  # away until deleted
    hub.daemon.start(timeout_s=30)
    assert hub.kv("del", f"{device}value").startswith(device)
    seen = _updates(page)
    page.unroute("**/events")
    wait_until(lambda: _updates(page) > seen, what="live values again", timeout_s=30)
    shown = page.text_content(value)
    page.reload()  # as the page's load says it
    loaded = page.text_content(value)
    page.context.close()
    assert shown == "\u2013" == loaded
