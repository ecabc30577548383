"""The browser the web face's tests drive (tests/support/chromium.py): Debian's full
chromium, with its address bar's pop-ups off and playwright's own features-off kept."""

from __future__ import annotations

import os

import pytest
from support import chromium as launcher
from support.chromium import chromium


def _disabled_in_renderers() -> list[set[str]]:
    """The features off in each renderer: a renderer is given the browser's merged
    list, the last --disable-features of its command line."""
    lists = []
    for argv in launcher.command_lines(os.getpid()):
        if "--type=renderer" in argv:
            last = [a for a in argv if a.startswith("--disable-features=")][-1:]
            lists.append(set(last[0].split("=", 1)[1].split(",")) if last else set())
    return lists


def test_a_new_context_opens_no_address_bar_pop_up() -> None:
    """Each new context's window opened the address bar's two WebUI pop-ups, in a
    renderer of their own, before its page was handed over: nearly half of
    chromium's CPU in the browser tests. Playwright's own list stays in force."""
    with chromium() as browser:
        session = browser.new_browser_cdp_session()
        context = browser.new_context()
        context.new_page().set_content("<p>a page</p>")
        targets = session.send("Target.getTargets", {"filter": [{}]})["targetInfos"]
        playwrights = launcher.disabled_by_playwright()
        renderers = _disabled_in_renderers()
        context.close()
    assert [t["url"] for t in targets if not t["url"].startswith("about:")] == []
    assert playwrights
    assert renderers
    # every renderer runs with ours and playwright's off (no spare renderer either)
    wanted = {*launcher._UNUSED_FEATURES, *playwrights}
    assert [wanted - off for off in renderers] == [set()] * len(renderers)


def test_a_feature_playwright_turns_off_that_our_list_lacks_stays_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chromium keeps the last --disable-features only: one that playwright names
    and our copy of its list lacks would be on again; the browser is launched
    again with it."""
    monkeypatch.setattr(
        launcher,
        "_PLAYWRIGHT_DISABLED",
        tuple(f for f in launcher._PLAYWRIGHT_DISABLED if f != "OptimizationHints"),
    )
    with chromium() as browser:
        browser.new_context().new_page().set_content("<p>a page</p>")
        renderers = _disabled_in_renderers()
    assert renderers
    assert all("OptimizationHints" in off for off in renderers)
