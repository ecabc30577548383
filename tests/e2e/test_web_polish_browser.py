"""The web face as a household sees it, in a real Chromium (Debian's `chromium`
driven by Playwright, as tests/e2e/test_web_browser.py) against one real raspyd:
names that wrap between words at phone width, a network failure said in words, a
disabled scenario's Run, the Record note, a control's value set elsewhere, and a
comma decimal typed in a German browser.

Screenshots go to the pytest tmp dir (`shots`), to be looked at.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route
from support.chromium import chromium, new_web_token
from support.daemon import Daemon, hostname
from support.kv_cli import kv_process
from support.net import free_port_base
from support.wait import wait_until

SCENARIO = """name: hall-sunset
description: The hall's light at dusk
triggers:
  - event: /event/hall/evening
actions:
  - event: /event/hall/dimmed
    value: 30
"""
CONFIG = """
[devices]
fake_enabled = true

[[devices.fake]]
name = "living"
oid = "sensor.temperature"
friendly_name = "Temperatur am Fenster"
poll_interval_s = 10.0

[[devices.fake]]
name = "tv"
oid = "media.tv"
poll_interval_s = 600.0

[[devices.fake]]
name = "lamp"
oid = "switch"
poll_interval_s = 10.0

[core]
enabled = true
timezone = "UTC"
preload_dir = "{scenarios}"

[[controls]]
key = "/house/living/setpoint"
label = "Living room"
kind = "number"
min = 15
max = 25
step = 0.5
unit = "°C"
initial = 20

[[controls]]
key = "/house/mode"
label = "House mode"
kind = "choice"
options = ["home", "away", "night", "holiday"]
initial = "home"

[http]
enabled = true
"""
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SETPOINT = 'li.control[data-control-key="/house/living/setpoint"]'
MODE = 'li.control[data-control-key="/house/mode"]'
NO_ANSWER = "No answer from the hub: check the connection and try again."
# each word of an element's text: on how many lines it is drawn (1: not broken)
WORD_LINES = """el => {
    const text = el.firstChild;
    const out = [];
    let at = 0;
    for (const word of text.data.split(" ")) {
        const range = document.createRange();
        range.setStart(text, at);
        range.setEnd(text, at + word.length);
        const tops = new Set(Array.from(range.getClientRects(), r => Math.round(r.top)));
        out.push([word, tops.size]);
        at += word.length + 1;
    }
    return out;
}"""
pytestmark = pytest.mark.timeout(180)


class Hub:
    def __init__(self, daemon: Daemon, token: str, shots: Path) -> None:
        self.daemon = daemon
        self.token = token
        self.shots = shots
        self.base = f"http://127.0.0.1:{daemon.port_base + 4}"

    def kv(self, *args: str, check: bool = True) -> str:
        """raspy-kv against this hub: its output (it must succeed, if `check`)."""
        return kv_process(self.daemon.port_base, *args, check=check)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data_dir = tmp_path_factory.mktemp("polish") / "data"
    token = new_web_token(data_dir)
    scenarios = tmp_path_factory.mktemp("scenarios")
    (scenarios / "hall-sunset.yaml").write_text(SCENARIO)
    config = CONFIG.replace("{scenarios}", str(scenarios))
    daemon = Daemon(data_dir, port_base=free_port_base(5), config_text=config)
    try:
        yield Hub(daemon.start(timeout_s=30), token, tmp_path_factory.mktemp("shots"))
    finally:
        daemon.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _logged_in(browser: Browser, hub: Hub, **context: Any) -> Page:
    def ready() -> bool:
        try:
            page.goto(f"{hub.base}/login")
        except Exception:  # noqa: BLE001  # not listening yet: tried again
            return False
        return True

    page = browser.new_context(**context).new_page()
    page.set_default_timeout(15_000)
    wait_until(ready, what="the web face to listen", timeout_s=15)
    page.fill("#secret", hub.token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub.base}/")
    return page


def _shot(page: Page, hub: Hub, name: str) -> None:
    """A screenshot, its bytes written here: a path= would start Playwright's
    executor threads, which outlive the test."""
    (hub.shots / name).write_bytes(page.screenshot(full_page=True))


def _device(fullname: str) -> str:
    return f'li.device:has(> a.name[href="/device/{fullname}"])'


def test_at_phone_width_names_wrap_between_words_beside_a_long_value(
    browser: Browser, hub: Hub
) -> None:
    """`word-break: break-all` drew "Temperatur a / m Fenster", and a long text
    value squeezed its device's name to "tv.cha / nnel"."""
    host = hostname()
    long_text = "Tagesschau in 100 Sekunden - Nachrichten aus aller Welt"
    channel_key = f"/device/{host}.fake.tv.channel/value"
    # written over the device's own first value, which it keeps (polled rarely)
    wait_until(
        lambda: hub.kv("get", channel_key, check=False) == "1\n",
        what="the channel's value",
    )
    hub.kv("set", channel_key, f'"{long_text}"')
    page = _logged_in(browser, hub, viewport=PHONE)
    living, channel = _device(f"{host}.fake.living"), _device(f"{host}.fake.tv.channel")
    page.wait_for_function(
        "([s, t]) => document.querySelector(s).textContent === t",
        arg=[f"{channel} .value", long_text],
    )
    _shot(page, hub, "phone-devices.png")
    living_words = page.eval_on_selector(f"{living} a.name", WORD_LINES)
    channel_words = page.eval_on_selector(f"{channel} a.name", WORD_LINES)
    share = page.eval_on_selector(
        channel,
        "li => li.querySelector('a.name').getBoundingClientRect().width"
        " / li.clientWidth",
    )
    page.context.close()
    assert living_words == [["Temperatur", 1], ["am", 1], ["Fenster", 1]]
    assert channel_words == [["tv.channel", 1]]
    assert share >= 0.35


def test_a_network_failure_is_said_in_words(browser: Browser, hub: Hub) -> None:
    """A switch or a control whose request never reached the hub said the
    browser's "Failed to fetch"."""
    page = _logged_in(browser, hub, viewport=DESKTOP)

    def cut(route: Route) -> None:
        route.abort("internetdisconnected")

    page.route("**/api/device", cut)
    page.route("**/api/control", cut)
    lamp = _device(f"{hostname()}.fake.lamp")
    page.click(f"{lamp} button.switch")
    page.wait_for_function(
        "s => document.querySelector(s).textContent !== ''", arg=f"{lamp} .error"
    )
    page.click(f"{MODE} button.choice[value=away]")
    page.wait_for_function(
        "s => document.querySelector(s).textContent !== ''", arg=f"{MODE} .error"
    )
    said = [page.text_content(f"{lamp} .error"), page.text_content(f"{MODE} .error")]
    page.context.close()
    assert said == [NO_ANSWER, NO_ANSWER]


def test_a_disabled_scenario_offers_no_run_and_the_outcomes_are_sentences(
    browser: Browser, hub: Hub
) -> None:
    page = _logged_in(browser, hub, viewport=PHONE)
    page.goto(f"{hub.base}/scenarios/hall-sunset")
    page.click("li.scenario button:text-is('Disable')")
    page.wait_for_selector("p.notice")
    flashed = page.text_content("p.notice")
    _shot(page, hub, "phone-scenario-disabled.png")
    run = page.locator("li.scenario .actions button:text-is('Run')")
    run_disabled = run.is_disabled()
    why = page.locator("li.scenario .actions .why").all_text_contents()
    page.click("li.scenario button:text-is('Enable')")
    page.wait_for_selector("li.scenario .actions button:text-is('Disable')")
    enabled = page.text_content("p.notice")
    page.context.close()
    assert (flashed, run_disabled, why) == (
        "hall-sunset disabled",
        True,
        ["Enable it to run it."],
    )
    assert enabled == "hall-sunset enabled"


def test_the_record_note_goes_when_recording_is_turned_on(
    browser: Browser, hub: Hub
) -> None:
    page = _logged_in(browser, hub, viewport=DESKTOP)
    page.goto(f"{hub.base}/device/{hostname()}.fake.lamp")
    before = page.text_content("figure.chart")
    page.click("p.record button.switch")
    page.wait_for_selector('p.record button.switch[aria-checked="true"]')
    page.wait_for_selector("figure.chart .notice", state="detached")
    page.click("p.record button.switch")  # as it was, for the other tests
    page.wait_for_selector('p.record button.switch[aria-checked="false"]')
    page.context.close()
    assert before == "Not recorded yet: turn on Record below."


def test_a_value_set_elsewhere_is_said_plainly_and_leaves_the_field(
    browser: Browser, hub: Hub
) -> None:
    """A setpoint written as "warm" read "warm °C", went into the number field (a
    console warning) and was said as "value in the tree: …"."""
    page = _logged_in(browser, hub, viewport=PHONE)
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text))
    hub.kv("set", "/house/living/setpoint", '"warm"')
    hub.kv("set", "/house/mode", '"party"')
    page.wait_for_selector(f"{SETPOINT}.bad")
    page.wait_for_selector(f"{MODE}.bad")
    notes = [
        page.text_content(f"{SETPOINT} .bad-value"),
        page.text_content(f"{MODE} .bad-value"),
    ]
    field = page.input_value(f"{SETPOINT} input[name=value]")
    unit_shown = page.is_visible(f"{SETPOINT} .unit")
    boxes = page.eval_on_selector_all(
        f"{MODE} button.choice",
        "bs => bs.map(b => [b.getBoundingClientRect().left,"
        " b.getBoundingClientRect().right, b.getBoundingClientRect().top])",
    )
    _shot(page, hub, "phone-controls-elsewhere.png")
    # the page loaded now says the same
    page.reload()
    reloaded = page.text_content(f"{SETPOINT} .bad-value")
    reloaded_unit = page.is_visible(f"{SETPOINT} .unit")
    hub.kv("set", "/house/living/setpoint", "20")
    hub.kv("set", "/house/mode", '"home"')
    page.context.close()
    assert notes == [
        'Set elsewhere to "warm", which is not a number',
        'Set elsewhere to "party", which is not one of the choices',
    ]
    assert (field, unit_shown, warnings) == ("20", False, [])
    assert (reloaded, reloaded_unit) == (notes[0], False)
    # the mode's buttons on one line do not touch
    gaps = [
        right[0] - left[1]
        for left, right in itertools.pairwise(boxes)
        if left[2] == right[2]
    ]
    assert gaps
    assert min(gaps) >= 4


def test_a_comma_decimal_in_a_german_browser_is_read_as_the_decimal(
    browser: Browser, hub: Hub
) -> None:
    """With the browser in de-DE, Chromium sent "21,5" typed in the setpoint's
    type="number" field as "215" (refused only as above the maximum; "1,5"
    would have been 15, and taken). The field is text now, the comma sent as
    typed and read as the decimal mark."""
    hub.kv("set", "/house/living/setpoint", "20")
    page = _logged_in(browser, hub, viewport=PHONE, locale="de-DE")
    assert page.evaluate("navigator.language") == "de-DE"
    field = page.locator(f"{SETPOINT} input[name=value]")
    field.fill("")
    field.press_sequentially("21,5")
    with page.expect_request("**/api/control") as sent:
        page.click(f"{SETPOINT} button:text-is('Set')")
    body = sent.value.post_data or ""
    page.wait_for_function(
        "s => document.querySelector(s).textContent === '21.5'",
        arg=f"{SETPOINT} .control-value",
    )
    error = page.text_content(f"{SETPOINT} .error")
    page.context.close()
    assert "value=21%2C5" in body
    assert error == ""
    assert hub.kv("get", "/house/living/setpoint") == "21.5\n"
