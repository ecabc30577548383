"""The scenario editor in a real Chromium (Debian's `chromium` through Playwright)
against the real raspyd: New scenario, Edit with Check showing a problem at its line
(the cursor put there), a fixed text saved and shown on the scenario's page, and a
Delete with its confirmation. Screenshots of the edit page with a problem shown, at
desktop and phone width, go to the pytest tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from support.chromium import chromium, new_web_token
from support.daemon import Daemon
from support.net import free_port_base
from support.wait import wait_until

CONFIG = '[core]\nenabled = true\ntimezone = "UTC"\n[http]\nenabled = true\n'
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
DOCUMENT = (
    "name: web-edit\ndescription: written in the browser\nactions:\n  - log: 'first'\n"
)
# line 4 names an action there is none of
BROKEN = (
    "# edited in the browser\nname: web-edit\ndescription: now with a typo\n"
    "actions:\n  - lg: 'second'\n"
)
FIXED = BROKEN.replace("lg:", "log:")
pytestmark = pytest.mark.timeout(180)


class Hub:
    def __init__(self, daemon: Daemon, token: str) -> None:
        self.daemon = daemon
        self.token = token
        self.base = f"http://127.0.0.1:{daemon.port_base + 4}"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data_dir = tmp_path_factory.mktemp("editor") / "data"
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


def logged_in(browser: Browser, hub: Hub, width: str = "desktop") -> Page:
    w, h = WIDTHS[width]
    page = browser.new_context(viewport={"width": w, "height": h}).new_page()
    page.set_default_timeout(15_000)

    def login_form() -> bool:
        try:
            page.goto(f"{hub.base}/login")
        except Exception:  # noqa: BLE001  # not listening yet
            return False
        return True

    wait_until(login_form, what="the web face's login form", timeout_s=15)
    page.fill("#secret", hub.token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub.base}/")
    return page


def _cursor_line(page: Page) -> int:
    """The textarea's line (1-based) where its cursor is, when it has the focus."""
    line: int = page.evaluate(
        """() => {
            const area = document.querySelector('form.editor textarea');
            if (document.activeElement !== area) return 0;
            return area.value.slice(0, area.selectionStart).split('\\n').length;
        }"""
    )
    return line


def _checked_with_a_problem(page: Page, hub: Hub) -> tuple[list[str], int]:
    page.goto(f"{hub.base}/scenarios/web-edit/edit")
    page.fill("#document", BROKEN)
    with page.expect_navigation():
        page.get_by_role("button", name="Check").click()
    return page.locator("ol.problems li").all_text_contents(), _cursor_line(page)


def _deleted_through_its_page(page: Page, hub: Hub, name: str = "web-edit") -> None:
    """The scenario a test made, deleted as a user does (its confirmation ticked);
    the page's browser context closed."""
    page.goto(f"{hub.base}/scenarios/{name}/delete")
    page.get_by_label(f"Yes, delete {name}").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Delete").click()
    page.context.close()


def test_a_scenario_is_written_edited_checked_saved_and_deleted(
    browser: Browser, hub: Hub, tmp_path: Path
) -> None:
    page = logged_in(browser, hub)
    page.goto(f"{hub.base}/scenarios")
    with page.expect_navigation():
        page.get_by_role("link", name="New scenario").click()
    page.fill("#document", DOCUMENT)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    created = (page.url, page.text_content("pre.document"))

    with page.expect_navigation():
        page.get_by_role("link", name="Edit").click()
    opened = page.input_value("#document")
    problems, cursor = _checked_with_a_problem(page, hub)
    kept = page.input_value("#document")
    (tmp_path / "editor-desktop.png").write_bytes(page.screenshot(full_page=True))

    page.fill("#document", FIXED)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    saved = (page.url, page.text_content("p.notice"), page.text_content("pre.document"))

    with page.expect_navigation():
        page.get_by_role("link", name="Delete").click()
    confirm_url = page.url
    page.get_by_label("Yes, delete web-edit").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Delete").click()
    deleted = (page.url, page.text_content("p.notice"))
    cards = page.locator("li.scenario", has_text="web-edit").count()
    page.context.close()

    own = f"{hub.base}/scenarios/web-edit"
    assert created == (own, DOCUMENT)
    assert (opened, kept) == (DOCUMENT, BROKEN)
    assert [p.split(": ", 1)[0] for p in problems] == ["line 5, column 5"]
    assert cursor == 5
    assert saved == (own, "saved: web-edit", FIXED)
    assert confirm_url == f"{own}/delete"
    assert (deleted, cards) == ((f"{hub.base}/scenarios", "deleted: web-edit"), 0)


def test_the_edit_page_fits_a_phone_and_is_saved_as_a_screenshot(
    browser: Browser, hub: Hub, tmp_path: Path
) -> None:
    page = logged_in(browser, hub, "phone")
    page.goto(f"{hub.base}/new-scenario")
    page.fill("#document", DOCUMENT)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    try:
        problems, cursor = _checked_with_a_problem(page, hub)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth"
            " - document.documentElement.clientWidth"
        )
        (tmp_path / "editor-phone.png").write_bytes(page.screenshot(full_page=True))
    finally:
        _deleted_through_its_page(page, hub)
    assert (len(problems), cursor, overflow) == (1, 5, 0)


def _log_in_again(page: Page, hub: Hub) -> None:
    page.fill("#secret", hub.token)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_a_save_after_the_session_ended_loses_no_text(
    browser: Browser, hub: Hub
) -> None:
    """The session ends while the text is typed (its expiry, a new web-token, a
    log-out in another tab): Save lands on the login form, and the edit page opened
    again holds the stored text. The draft kept in the tab brings the typed text
    back; once saved, it is gone."""
    typed = DOCUMENT.replace("first", "typed while logged out")
    page = logged_in(browser, hub)
    page.goto(f"{hub.base}/new-scenario")
    page.fill("#document", DOCUMENT)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    restore = page.get_by_role("button", name="Restore your unsaved text")
    try:
        page.goto(f"{hub.base}/scenarios/web-edit/edit")
        offered_at_first = restore.count()
        page.fill("#document", typed)
        other = page.context.new_page()
        other.goto(f"{hub.base}/services")
        with other.expect_navigation():
            other.get_by_role("button", name="Log out").click()
        other.close()
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        landed = page.url
        _log_in_again(page, hub)
        page.goto(f"{hub.base}/scenarios/web-edit/edit")
        reopened = page.input_value("#document")
        restore.click()
        restored = (page.input_value("#document"), restore.count())
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        saved = (page.url, page.text_content("p.notice"))
        page.goto(f"{hub.base}/scenarios/web-edit/edit")
        offered_after = restore.count()
    finally:
        _deleted_through_its_page(page, hub)
    # the login form leads back to the editor (it led to the devices page)
    assert (offered_at_first, landed, reopened) == (
        0,
        f"{hub.base}/login?next=/scenarios/web-edit/edit",
        DOCUMENT,
    )
    assert restored == (typed, 0)
    assert saved == (f"{hub.base}/scenarios/web-edit", "saved: web-edit")
    assert offered_after == 0


def test_a_login_goes_back_to_the_edit_page_it_was_asked_for(
    browser: Browser, hub: Hub
) -> None:
    """The session ends while the edit page is open: the edit page fetched again
    leads to the login form, and the login went to the devices page, away from the
    text the draft keeps. Now it goes back to the edit page, which offers it."""
    typed = DOCUMENT.replace("first", "typed before the session ended")
    page = logged_in(browser, hub)
    page.goto(f"{hub.base}/new-scenario")
    page.fill("#document", DOCUMENT)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    try:
        page.goto(f"{hub.base}/scenarios/web-edit/edit")
        page.fill("#document", typed)
        with page.expect_navigation():
            page.get_by_role("button", name="Check").click()
        other = page.context.new_page()
        other.goto(f"{hub.base}/services")
        with other.expect_navigation():
            other.get_by_role("button", name="Log out").click()
        other.close()
        page.goto(f"{hub.base}/scenarios/web-edit/edit")
        landed = page.url
        _log_in_again(page, hub)
        back = page.url
        offered = page.get_by_role("button", name="Restore your unsaved text").count()
    finally:
        _deleted_through_its_page(page, hub)
    assert landed == f"{hub.base}/login?next=/scenarios/web-edit/edit"
    assert (back, offered) == (f"{hub.base}/scenarios/web-edit/edit", 1)


def _title(page: Page) -> str:
    """The page's title without the hub's name."""
    return page.title().split(" · ")[0]


def test_a_new_scenario_saved_with_warnings_lands_on_its_edit_page(
    browser: Browser, hub: Hub
) -> None:
    """The warnings were answered at /new-scenario: the address bar kept it, and a
    reload sent the form again (refused: already stored). Now the browser is on the
    edit page, which shows them; a reload shows the stored text, and the draft of
    the new page is gone."""
    watched = DOCUMENT.replace(
        "actions:", 'triggers:\n  - kv: "/device/*.fake.nowhere/value"\nactions:'
    )
    page = logged_in(browser, hub)
    page.goto(f"{hub.base}/new-scenario")
    page.fill("#document", watched)
    try:
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        landed = (page.url, _title(page), page.text_content("p.notice"))
        warned = page.locator("ol.problems li").all_text_contents()
        draft = page.evaluate("sessionStorage.getItem('raspy-draft:/new-scenario')")
        page.reload()
        reloaded = (page.url, page.locator("p.notice").count(), _title(page))
        text = page.input_value("#document")
    finally:
        _deleted_through_its_page(page, hub)
    edit = f"{hub.base}/scenarios/web-edit/edit"
    assert landed == (edit, "Edit web-edit", "Saved web-edit, with 1 warning:")
    assert [item.split(":", 1)[0] for item in warned] == ["line 4, column 9"]
    assert (draft, reloaded, text) == (None, (edit, 0, "Edit web-edit"), watched)


def test_a_new_scenarios_draft_goes_when_its_text_starts_with_a_blank_line(
    browser: Browser, hub: Hub
) -> None:
    """The scenario's page wrote its text right after `<pre>`, whose first newline
    the HTML parser drops: the text shown was not the draft, which stayed."""
    typed = "\n" + DOCUMENT
    page = logged_in(browser, hub)
    page.goto(f"{hub.base}/new-scenario")
    page.fill("#document", typed)
    try:
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        saved = (page.text_content("p.notice"), page.text_content("pre.document"))
        draft = page.evaluate("sessionStorage.getItem('raspy-draft:/new-scenario')")
        page.goto(f"{hub.base}/new-scenario")
        offered = page.get_by_role("button", name="Restore your unsaved text").count()
    finally:
        _deleted_through_its_page(page, hub)
    assert saved == ("saved: web-edit", typed)
    assert (draft, offered) == (None, 0)


REWORD = """document.addEventListener("readystatechange", () => {
  if (document.readyState !== "interactive") return;
  for (const said of document.querySelectorAll("p.notice")) {
    said.textContent = said.textContent.replace("saved: ", "Stored ");
  }
});"""


def _draft(page: Page, key: str = "raspy-draft:/scenarios/web-edit/edit") -> object:
    return page.evaluate(f"sessionStorage.getItem('{key}')")


def test_the_draft_goes_after_a_save_whatever_the_notice_says(
    browser: Browser, hub: Hub
) -> None:
    """app.js dropped the draft when the scenario's page said "saved: NAME": a
    notice in other words kept it, offered again over the text it had saved. Now
    the server marks the notice of a Save that stored its text."""
    typed = DOCUMENT.replace("first", "saved under other words")
    page = logged_in(browser, hub)
    page.goto(f"{hub.base}/new-scenario")
    page.fill("#document", DOCUMENT)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    try:
        page.goto(f"{hub.base}/scenarios/web-edit/edit")
        page.fill("#document", typed)
        # as a later wording may say it: the notice's words changed before app.js
        # runs (a deferred script runs once the document is "interactive")
        page.add_init_script(REWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        said = page.text_content("p.notice")
        draft = _draft(page)
        page.goto(f"{hub.base}/scenarios/web-edit/edit")
        offered = page.get_by_role("button", name="Restore your unsaved text").count()
    finally:
        _deleted_through_its_page(page, hub)
    assert (said, draft, offered) == ("Stored web-edit", None, 0)


def test_a_checked_text_left_by_a_link_is_not_offered_again(
    browser: Browser, hub: Hub
) -> None:
    """Check, then Cancel (a change of mind): the edit page opened again in the same
    tab offered the checked text as unsaved, as after a session that ended. A
    link to a problem's line stays on the page and keeps it."""
    page = logged_in(browser, hub)
    page.goto(f"{hub.base}/new-scenario")
    page.fill("#document", DOCUMENT)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    try:
        problems, _ = _checked_with_a_problem(page, hub)
        page.locator("ol.problems a").first.click()
        kept = _draft(page)
        with page.expect_navigation():
            page.get_by_role("link", name="Cancel").click()
        dropped = (page.url, _draft(page))
        with page.expect_navigation():
            page.get_by_role("link", name="Edit").click()
        offered = page.get_by_role("button", name="Restore your unsaved text").count()
        text = page.input_value("#document")
    finally:
        _deleted_through_its_page(page, hub)
    assert (len(problems), kept) == (1, BROKEN)
    assert dropped == (f"{hub.base}/scenarios/web-edit", None)
    assert (offered, text) == (0, DOCUMENT)
