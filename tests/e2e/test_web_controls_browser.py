"""The controls of the Devices page in a real Chromium (Debian's `chromium` driven
by Playwright, as tests/e2e/test_web_browser.py) against a real raspyd: a setpoint
and a house mode set by hand, a refused value's reason under its control, and a
value written by `raspy-kv set` appearing live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page
from support.chromium import chromium, new_web_token
from support.daemon import Daemon
from support.kv_cli import kv_process
from support.net import free_port_base
from support.wait import wait_until

CONFIG = """
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
options = ["home", "away", "night"]
initial = "home"

[[controls]]
key = "/house/guests"
kind = "switch"
initial = false

[[controls]]
key = "/house/note"
kind = "text"
max_length = 10

[http]
enabled = true
"""
SETPOINT = 'li.control[data-control-key="/house/living/setpoint"]'
MODE = 'li.control[data-control-key="/house/mode"]'
GUESTS = 'li.control[data-control-key="/house/guests"]'
NOTE = 'li.control[data-control-key="/house/note"]'
pytestmark = pytest.mark.timeout(180)


class Hub:
    def __init__(self, daemon: Daemon, token: str) -> None:
        self.daemon = daemon
        self.token = token
        self.base = f"http://127.0.0.1:{daemon.port_base + 4}"

    def kv(self, *args: str) -> str:
        """raspy-kv against this hub: its output (it must succeed)."""
        return kv_process(self.daemon.port_base, *args)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data_dir = tmp_path_factory.mktemp("controls") / "data"
    token = new_web_token(data_dir)
    daemon = Daemon(data_dir, port_base=free_port_base(5), config_text=CONFIG)
    try:
        yield Hub(daemon.start(timeout_s=30), token)
    finally:
        daemon.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _logged_in(browser: Browser, hub: Hub, *, javascript: bool = True) -> Page:
    def ready() -> bool:
        try:
            page.goto(f"{hub.base}/login")
        except Exception:  # noqa: BLE001  # not listening yet: tried again
            return False
        return True

    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    wait_until(ready, what="the web face to listen", timeout_s=15)
    page.fill("#secret", hub.token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub.base}/")
    return page


def test_a_setpoint_and_a_mode_are_set_and_a_kv_write_shows_live(
    browser: Browser, hub: Hub
) -> None:
    page = _logged_in(browser, hub)
    page.evaluate("window.sameDocument = true")
    assert page.text_content(f"{SETPOINT} .control-value") == "20"
    page.fill(f"{SETPOINT} input[name=value]", "21.5")
    page.click(f"{SETPOINT} button[type=submit]")
    page.wait_for_function(
        "s => document.querySelector(s).textContent === '21.5'",
        arg=f"{SETPOINT} .control-value",
    )
    page.click(f"{MODE} button.choice[value=away]")
    page.wait_for_selector(f'{MODE} button.choice[value=away][aria-pressed="true"]')
    page.click(f"{GUESTS} button.switch")
    page.wait_for_selector(f'{GUESTS} button.switch[aria-checked="true"]')
    wait_until(
        lambda: hub.kv("get", "/house/mode") == '"away"\n', what="the mode in the tree"
    )
    assert hub.kv("get", "/house/living/setpoint") == "21.5\n"
    assert hub.kv("get", "/house/guests") == "true\n"

    # refused: the reason under the control, the value as it was
    page.fill(f"{SETPOINT} input[name=value]", "21.3")
    page.click(f"{SETPOINT} button[type=submit]")
    page.wait_for_function(
        "s => document.querySelector(s).textContent !== ''",
        arg=f"{SETPOINT} .error",
    )
    assert (
        page.text_content(f"{SETPOINT} .error") == "21.3 is not on the 0.5 step from 15"
    )
    assert hub.kv("get", "/house/living/setpoint") == "21.5\n"

    # written elsewhere: shown live, and one that breaks the spec is marked
    hub.kv("set", "/house/mode", '"night"')
    page.wait_for_selector(f'{MODE} button.choice[value=night][aria-pressed="true"]')
    hub.kv("set", "/house/living/setpoint", "40")
    page.wait_for_selector(f"{SETPOINT}.bad")
    assert page.text_content(f"{SETPOINT} .control-value") == "40"
    assert page.evaluate("window.sameDocument === true")
    page.context.close()


def test_without_javascript_a_refusal_is_said_under_the_control(
    browser: Browser, hub: Hub
) -> None:
    page = _logged_in(browser, hub, javascript=False)
    page.fill(f"{SETPOINT} input[name=value]", "15.25")
    page.click(f"{SETPOINT} button[type=submit]")
    refusal = page.text_content(f"{SETPOINT} .error")
    page.fill(f"{SETPOINT} input[name=value]", "16")
    page.click(f"{SETPOINT} button[type=submit]")
    page.wait_for_url(f"{hub.base}/")
    shown = page.text_content(f"{SETPOINT} .control-value")
    page.context.close()
    assert refusal == "15.25 is not on the 0.5 step from 15"
    assert shown == "16"


def test_a_switch_and_a_choice_send_their_value_without_submit_event_submitter(
    browser: Browser, hub: Hub
) -> None:
    """A browser without SubmitEvent.submitter (Safari before 15.4, older wall
    tablets) sent no value: the clicked button's was taken from it only."""
    hub.kv("set", "/house/mode", '"home"')
    hub.kv("set", "/house/guests", "false")
    page = _logged_in(browser, hub)
    page.wait_for_selector(f'{MODE} button.choice[value=home][aria-pressed="true"]')
    page.wait_for_selector(f'{GUESTS} button.switch[aria-checked="false"]')
    page.evaluate("delete SubmitEvent.prototype.submitter")
    assert page.evaluate("'submitter' in new SubmitEvent('submit')") is False
    page.click(f"{MODE} button.choice[value=away]")
    page.wait_for_selector(f'{MODE} button.choice[value=away][aria-pressed="true"]')
    page.click(f"{GUESTS} button.switch")
    page.wait_for_selector(f'{GUESTS} button.switch[aria-checked="true"]')
    errors = page.locator(f"{MODE} .error, {GUESTS} .error").all_text_contents()
    page.context.close()
    assert errors == ["", ""]
    assert hub.kv("get", "/house/mode") == '"away"\n'
    assert hub.kv("get", "/house/guests") == "true\n"


def test_a_live_value_is_marked_with_the_servers_reason_only(
    browser: Browser, hub: Hub
) -> None:
    """app.js judged a live value itself: six emoji under max_length 10 were
    marked (twelve UTF-16 units), a text with a line break was not, and the note
    said no reason. The server's breaks() now judges, its reason shown."""
    page = _logged_in(browser, hub)
    page.evaluate("window.sameDocument = true")
    hub.kv("set", "/house/note", '"a\\nb"')
    page.wait_for_selector(f"{NOTE}.bad")
    marked = page.text_content(f"{NOTE} .bad-value")
    emoji = "\U0001f600" * 6
    hub.kv("set", "/house/note", f'"{emoji}"')
    page.wait_for_function(
        """([item, emoji]) => {
            const li = document.querySelector(item);
            return li.querySelector(".control-value").textContent === emoji
                && !li.classList.contains("bad");
        }""",
        arg=[NOTE, emoji],
    )
    note = page.text_content(f"{NOTE} .bad-value")
    # the field takes the six emoji whole (maxlength counts UTF-16 units)
    page.fill(f"{NOTE} input[name=value]", emoji)
    typed = page.input_value(f"{NOTE} input[name=value]")
    same = page.evaluate("window.sameDocument === true")
    page.context.close()
    assert marked == "Set elsewhere to a text that holds '\\n', a control character"
    assert (note, typed, same) == ("", emoji, True)
