"""The scenario editor's pages over real HTTP to a real runtime (core and web face
on): Check and Save through the core, the text kept on every refusal, the
fingerprint that catches a second editor, a rename refused, the CSRF token, the
size bounds, and a delete only once confirmed."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from support.net import free_port_base
from support.wait import wait_until
from support.web_browser import Answer, Browser, allow_login

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET
from raspy.client.mdp import Client
from raspy.rules.scenario_api import MAX_REQUEST_BYTES, SAME_SCENARIO
from raspy.web.editor import MAX_EDITOR_FORM_BYTES
from raspy.web.forms import MAX_FORM_BYTES

pytestmark = pytest.mark.timeout(60)
CONFIG = "[core]\nenabled = true\n[http]\nenabled = true\n"
GOOD = "name: lamp\ndescription: first\nactions:\n  - log: 'one'\n"


@pytest.fixture
def browser(hub: tuple[supervisor.Runtime, Browser]) -> Browser:
    """A logged-in browser of a runtime with the core on."""
    return hub[1]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[supervisor.Runtime, Browser]]:
    """A runtime with the core on, and a logged-in browser of it."""
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    cfg = config_mod.load(
        CONFIG,
        "test.toml",
        data_dir=str(data_dir),
        hostname="testhost",
        network__port_base=free_port_base(5),
    )
    rt = supervisor.start(cfg)
    try:
        browser = Browser(cfg.network.port_base + WEB_PORT_OFFSET)
        browser.log_in()
        yield rt, browser
    finally:
        rt.stop()


def _field(body: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', body)
    assert match is not None, body
    return html.unescape(match[1])


def _textarea(body: str) -> str:
    match = re.search(r"<textarea[^>]*>\n(.*?)</textarea>", body, re.DOTALL)
    assert match is not None, body
    return html.unescape(match[1])


def _post(browser: Browser, path: str, **fields: str) -> Answer:
    csrf = fields.pop("csrf", None)
    if csrf is None:
        csrf = _field(browser.exchange("GET", "/scenarios").body, "csrf")
    return browser.exchange("POST", path, urlencode({"csrf": csrf, **fields}))


def _stored(browser: Browser, name: str) -> str | None:
    page = browser.exchange("GET", f"/scenarios/{name}/edit")
    if page.status == 404:
        return None
    assert page.status == 200, page.body
    return _textarea(page.body)


def _create(browser: Browser, document: str) -> None:
    answer = _post(browser, "/new-scenario", document=document, do="save")
    assert answer.status == 303, answer.body


def _delete(browser: Browser, name: str) -> Answer:
    """The delete page's form sent, its box ticked."""
    page = browser.exchange("GET", f"/scenarios/{name}/delete")
    base = _field(page.body, "base") if page.status == 200 else ""
    return _post(browser, f"/scenarios/{name}/delete", confirm="yes", base=base)


@pytest.fixture
def lamp(browser: Browser) -> Iterator[Browser]:
    """`lamp` stored as GOOD; deleted at the end."""
    _create(browser, GOOD)
    try:
        yield browser
    finally:
        _delete(browser, "lamp")


def test_the_edit_page_holds_the_stored_text_and_its_fingerprint(
    lamp: Browser,
) -> None:
    scenario = lamp.exchange("GET", "/scenarios/lamp")
    page = lamp.exchange("GET", "/scenarios/lamp/edit")
    assert ('href="/scenarios/lamp/edit"' in scenario.body, page.status) == (True, 200)
    assert (_textarea(page.body), _field(page.body, "base")) == (
        GOOD,
        hashlib.sha256(GOOD.encode()).hexdigest(),
    )


def test_save_stores_the_text_and_goes_back_to_the_scenario_page(
    lamp: Browser,
) -> None:
    base = _field(lamp.exchange("GET", "/scenarios/lamp/edit").body, "base")
    changed = GOOD.replace("first", "second")
    # a browser sends a textarea's line breaks as CRLF
    answer = _post(
        lamp,
        "/scenarios/lamp/edit",
        document=changed.replace("\n", "\r\n"),
        base=base,
        do="save",
    )
    page = lamp.exchange("GET", "/scenarios/lamp")
    assert (answer.status, answer.body) == (303, "")
    assert ("saved: lamp" in page.body, _stored(lamp, "lamp")) == (True, changed)


def test_save_of_the_stored_text_unchanged_stores_nothing_and_ends_no_run(
    browser: Browser,
) -> None:
    """Save imported with replace every time: a Save with nothing changed ended
    the runs under way (and started `for:` holds again)."""
    waiting = "name: slow\nactions:\n  - wait: 10m\n  - log: 'done'\n"
    _create(browser, waiting)
    try:
        page = browser.exchange("GET", "/scenarios/slow/edit")
        assert "A Save of a changed text ends the scenario&#x27;s runs" in page.body
        ran = _post(browser, "/scenarios/slow/run")
        wait_until(
            lambda: "state state-running" in _page(browser, "/scenarios/slow"),
            what="the run of slow under way",
        )
        answer = _post(
            browser,
            "/scenarios/slow/edit",
            document=waiting.replace("\n", "\r\n"),
            base=_field(page.body, "base"),
            do="save",
        )
        after = _page(browser, "/scenarios/slow")
    finally:
        _delete(browser, "slow")
    assert (ran.status, answer.status, answer.body) == (303, 303, "")
    assert "No change: nothing saved" in after
    assert "state state-running" in after
    assert "cut short by an import" not in after


def test_a_save_adding_enabled_true_stores_the_text_and_ends_no_run(
    browser: Browser,
) -> None:
    """A Save that only added `enabled: true` to a text without one (so enabled
    already) replaced the scenario as a new version, ending the run under way."""
    waiting = "name: slow\nactions:\n  - wait: 10m\n  - log: 'done'\n"
    enabled = waiting.replace("actions:", "enabled: true\nactions:")
    _create(browser, waiting)
    try:
        page = browser.exchange("GET", "/scenarios/slow/edit")
        _post(browser, "/scenarios/slow/run")
        wait_until(
            lambda: "state state-running" in _page(browser, "/scenarios/slow"),
            what="the run of slow under way",
        )
        answer = _post(
            browser,
            "/scenarios/slow/edit",
            document=enabled.replace("\n", "\r\n"),
            base=_field(page.body, "base"),
            do="save",
        )
        after = _page(browser, "/scenarios/slow")
        stored = _stored(browser, "slow")
    finally:
        _delete(browser, "slow")
    assert (answer.status, answer.body, stored) == (303, "", enabled)
    assert f"saved: slow ({html.escape(SAME_SCENARIO)})" in after
    assert "state state-running" in after
    assert "cut short by an import" not in after


def test_a_save_unchanged_of_a_text_stored_with_crlf_stores_nothing(
    hub: tuple[supervisor.Runtime, Browser],
) -> None:
    """A text imported with CRLF line breaks (`raspy scenario import` of a file
    from Windows) came back from the textarea with LF: the Save imported it, and
    ended the run under way."""
    rt, browser = hub
    stored = "name: slow\r\nactions:\r\n  - wait: 10m\r\n  - log: 'done'\r\n"
    body = json.dumps({"v": 1, "action": "import", "document": stored})
    endpoint = f"tcp://127.0.0.1:{rt.config.network.port_base}"
    with Client(endpoint, timeout_s=5, retries=1) as client:
        assert client.request("testhost.core.scenario", body)[0] == b"200"
    try:
        page = browser.exchange("GET", "/scenarios/slow/edit")
        _post(browser, "/scenarios/slow/run")
        wait_until(
            lambda: "state state-running" in _page(browser, "/scenarios/slow"),
            what="the run of slow under way",
        )
        answer = _post(
            browser,
            "/scenarios/slow/edit",
            document=stored,  # as a browser sends the textarea: CRLF
            base=_field(page.body, "base"),
            do="save",
        )
        after = _page(browser, "/scenarios/slow")
    finally:
        _delete(browser, "slow")
    assert (answer.status, answer.body) == (303, "")
    assert "No change: nothing saved" in after
    assert "state state-running" in after


def _page(browser: Browser, path: str) -> str:
    answer = browser.exchange("GET", path)
    assert answer.status == 200, answer.body
    return answer.body


def test_check_lists_each_problem_at_its_line_and_keeps_the_text(
    lamp: Browser,
) -> None:
    broken = GOOD.replace("  - log: 'one'", "  - lg: 'one'") + "<b>&</b>: x\n"
    base = _field(lamp.exchange("GET", "/scenarios/lamp/edit").body, "base")
    checked = _post(lamp, "/scenarios/lamp/edit", document=broken, base=base)
    saved = _post(lamp, "/scenarios/lamp/edit", document=broken, base=base, do="save")
    lines = re.findall(r'data-line="(\d+)" data-col="(\d+)">line', checked.body)
    assert (checked.status, saved.status) == (200, 400)
    assert _textarea(checked.body) == _textarea(saved.body) == broken
    assert "<b>&" not in checked.body  # the user's text is escaped
    assert ("4", "5") in lines, checked.body
    assert 'textarea id="document"' in checked.body
    assert re.search(r'<textarea[^>]* data-line="\d+" data-col="\d+"', checked.body)
    assert _stored(lamp, "lamp") == GOOD


def test_check_of_a_good_text_says_so_and_stores_nothing(lamp: Browser) -> None:
    changed = GOOD.replace("first", "checked only")
    answer = _post(lamp, "/scenarios/lamp/edit", document=changed, do="check")
    assert (answer.status, "No problems: lamp is a valid scenario." in answer.body) == (
        200,
        True,
    )
    assert _stored(lamp, "lamp") == GOOD


def test_check_lists_the_warnings_a_save_would_give(lamp: Browser) -> None:
    """Check asked the core's validate, which said nothing of what the import then
    warned of (a device key the tree has nothing of)."""
    watched = GOOD.replace(
        "actions:", 'triggers:\n  - kv: "/device/*.fake.nowhere/value"\nactions:'
    )
    answer = _post(lamp, "/scenarios/lamp/edit", document=watched, do="check")
    assert answer.status == 200
    # a warning is no refusal: not "No problems" in the red box of one
    assert '<p class="notice" role="status">Valid, with 1 warning:</p>' in answer.body
    assert '<ol class="problems warnings">' in answer.body
    assert "No problems" not in answer.body
    assert 'data-line="4" data-col="9">line 4, column 9</a>: warning: kv:' in (
        answer.body
    )
    assert _stored(lamp, "lamp") == GOOD


def test_the_editor_lets_the_browser_keep_the_text(lamp: Browser) -> None:
    """No autocomplete="off" (it kept the browser from restoring the text typed);
    a Save with warnings marks its page saved (app.js's draft of it goes)."""
    page = lamp.exchange("GET", "/scenarios/lamp/edit")
    watched = GOOD.replace(
        "actions:", 'triggers:\n  - kv: "/device/*.fake.nowhere/value"\nactions:'
    )
    base = _field(page.body, "base")
    saved = _post(lamp, "/scenarios/lamp/edit", document=watched, base=base, do="save")
    assert (saved.status, saved.location) == (303, "/scenarios/lamp/edit")
    shown = lamp.exchange("GET", saved.location)
    assert 'autocomplete="off"' not in page.body + shown.body
    assert '<form method="post" action="/scenarios/lamp/edit" class="editor">' in (
        page.body
    )
    assert 'class="editor" data-saved>' in shown.body
    assert _stored(lamp, "lamp") == watched


WATCHED = 'name: porch\ntriggers:\n  - kv: "/device/*.fake.nowhere/value"\n' + (
    "actions:\n  - log: 'one'\n"
)


def test_a_new_scenario_saved_with_warnings_is_at_its_edit_pages_address(
    browser: Browser,
) -> None:
    """The warnings were answered at /new-scenario: the page said "Edit porch" at
    the old address, and a reload sent the form again, then refused as already
    stored. Now a redirect to the edit page, which shows them once."""
    saved = _post(browser, "/new-scenario", document=WATCHED, do="save")
    try:
        shown = browser.exchange("GET", saved.location)
        again = browser.exchange("GET", "/scenarios/porch/edit")
    finally:
        _delete(browser, "porch")
    assert (saved.status, saved.location) == (303, "/scenarios/porch/edit")
    assert (shown.status, _textarea(shown.body)) == (200, WATCHED)
    assert "Saved porch, with 1 warning:" in shown.body
    assert '<ol class="problems warnings">' in shown.body
    assert 'data-line="3" data-col="9">line 3, column 9</a>: warning: kv:' in (
        shown.body
    )
    assert 'class="editor" data-saved>' in shown.body
    # once: the page fetched again is the plain edit page
    assert ("with 1 warning" in again.body, "data-saved" in again.body) == (
        False,
        False,
    )


def test_the_warnings_of_a_text_changed_since_are_not_shown(lamp: Browser) -> None:
    """Another Save (another tab, another person) between the redirect and the
    edit page: the warnings were of a text no longer stored."""
    page = lamp.exchange("GET", "/scenarios/lamp/edit")
    watched = GOOD.replace(
        "actions:", 'triggers:\n  - kv: "/device/*.fake.nowhere/value"\nactions:'
    )
    base = _field(page.body, "base")
    saved = _post(lamp, "/scenarios/lamp/edit", document=watched, base=base, do="save")
    base = hashlib.sha256(watched.encode()).hexdigest()
    _post(lamp, "/scenarios/lamp/edit", document=GOOD, base=base, do="save")
    shown = lamp.exchange("GET", saved.location)
    assert (saved.status, _textarea(shown.body)) == (303, GOOD)
    assert ("with 1 warning" in shown.body, "data-saved" in shown.body) == (
        False,
        False,
    )


def test_save_refuses_when_the_stored_text_changed_since_the_page_was_opened(
    lamp: Browser,
) -> None:
    """Two people edit: the second Save would silently undo the first."""
    base = _field(lamp.exchange("GET", "/scenarios/lamp/edit").body, "base")
    theirs = GOOD.replace("first", "theirs")
    mine = GOOD.replace("first", "mine")
    assert (
        _post(
            lamp, "/scenarios/lamp/edit", document=theirs, base=base, do="save"
        ).status
        == 303
    )
    refused = _post(lamp, "/scenarios/lamp/edit", document=mine, base=base, do="save")
    stored_shown = re.search(
        r'<pre class="document stored">\n(.*?)</pre>', refused.body, re.DOTALL
    )
    assert (refused.status, _textarea(refused.body)) == (409, mine)
    assert stored_shown is not None
    assert html.unescape(stored_shown[1]) == theirs
    assert _stored(lamp, "lamp") == theirs
    # Save again from the refusal's page means it
    again = _post(
        lamp,
        "/scenarios/lamp/edit",
        document=mine,
        base=_field(refused.body, "base"),
        do="save",
    )
    assert (again.status, _stored(lamp, "lamp")) == (303, mine)


def test_a_changed_name_is_refused_with_how_to_rename(lamp: Browser) -> None:
    base = _field(lamp.exchange("GET", "/scenarios/lamp/edit").body, "base")
    renamed = GOOD.replace("name: lamp", "name: lantern")
    answer = _post(lamp, "/scenarios/lamp/edit", document=renamed, base=base, do="save")
    assert (answer.status, _textarea(answer.body)) == (400, renamed)
    assert "to rename, save this text as a new scenario" in answer.body
    assert 'data-line="1" data-col="7"' in answer.body
    assert (_stored(lamp, "lamp"), _stored(lamp, "lantern")) == (GOOD, None)


def test_check_gives_the_rename_problem_save_would(lamp: Browser) -> None:
    """Check said "No problems" of a renamed text, which Save then refused."""
    renamed = GOOD.replace("name: lamp", "name: lantern")
    answer = _post(lamp, "/scenarios/lamp/edit", document=renamed, do="check")
    assert (answer.status, _textarea(answer.body)) == (200, renamed)
    assert "No problems" not in answer.body
    assert "The name changed: Save refuses it." in answer.body
    assert "to rename, save this text as a new scenario" in answer.body
    assert 'data-line="1" data-col="7"' in answer.body


def test_a_new_scenario_whose_name_is_taken_is_refused_with_its_text(
    lamp: Browser,
) -> None:
    other = GOOD.replace("first", "another")
    answer = _post(lamp, "/new-scenario", document=other, do="save")
    assert (answer.status, _textarea(answer.body)) == (400, other)
    assert "already stored" in answer.body
    assert 'data-line="1"' in answer.body
    assert "A scenario named lamp exists: edit it from its own page" in answer.body
    assert _stored(lamp, "lamp") == GOOD


def test_check_on_the_new_page_gives_the_taken_name_problem_save_would(
    lamp: Browser,
) -> None:
    """Check said "No problems" of a name already stored, which Save refused."""
    other = "# another lamp\n" + GOOD.replace("first", "another")
    answer = _post(lamp, "/new-scenario", document=other, do="check")
    assert (answer.status, _textarea(answer.body)) == (200, other)
    assert "No problems" not in answer.body
    assert "A scenario named lamp exists: edit it from its own page" in answer.body
    assert "&#x27;lamp&#x27; is already stored" in answer.body
    assert 'data-line="2" data-col="7"' in answer.body
    assert _stored(lamp, "lamp") == GOOD


def test_new_scenario_page_starts_with_an_example_that_checks(browser: Browser) -> None:
    page = browser.exchange("GET", "/new-scenario")
    example = _textarea(page.body)
    checked = _post(browser, "/new-scenario", document=example, do="check")
    assert (page.status, checked.status) == (200, 200)
    assert "No problems: my-scenario is a valid scenario." in checked.body
    assert _stored(browser, "my-scenario") is None
    assert 'href="/new-scenario"' in browser.exchange("GET", "/scenarios").body


def test_a_save_without_the_csrf_token_changes_nothing(lamp: Browser) -> None:
    base = _field(lamp.exchange("GET", "/scenarios/lamp/edit").body, "base")
    changed = GOOD.replace("first", "forged")
    answers = [
        _post(
            lamp,
            "/scenarios/lamp/edit",
            csrf="wrong",
            document=changed,
            base=base,
            do="save",
        ).status,
        _post(
            lamp,
            "/new-scenario",
            csrf="",
            document=changed.replace("lamp", "forged"),
            do="save",
        ).status,
        _post(lamp, "/scenarios/lamp/delete", csrf="wrong", confirm="yes").status,
    ]
    assert answers == [403, 403, 403]
    assert (_stored(lamp, "lamp"), _stored(lamp, "forged")) == (GOOD, None)


def test_a_document_larger_than_the_core_takes_is_refused_with_its_text(
    lamp: Browser,
) -> None:
    large = GOOD + "# " + "x" * MAX_REQUEST_BYTES + "\n"
    answer = _post(lamp, "/new-scenario", document=large, do="save")
    assert (answer.status, _textarea(answer.body) == large) == (400, True)
    assert f"the hub takes at most {MAX_REQUEST_BYTES}" in answer.body


def test_a_form_over_the_editors_limit_is_refused_before_it_is_read(
    lamp: Browser,
) -> None:
    """The editor's forms take a document; every other form stays small."""
    import http.client

    def declared(path: str, length: int) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", lamp.port, timeout=10)
        try:
            connection.putrequest("POST", path)
            connection.putheader("Cookie", lamp.cookie)
            connection.putheader("Content-Length", str(length))
            connection.endheaders()  # and no body: refused on the declared length
            return connection.getresponse().status
        finally:
            connection.close()

    assert [
        declared("/scenarios/lamp/edit", MAX_EDITOR_FORM_BYTES + 1),
        declared("/new-scenario", MAX_EDITOR_FORM_BYTES + 1),
        declared("/scenarios/lamp/run", MAX_FORM_BYTES + 1),
    ] == [413, 413, 413]


def test_a_delete_of_a_text_changed_since_its_page_was_opened_is_refused(
    lamp: Browser,
) -> None:
    """The delete removed whatever was stored then, not the text the confirmation
    page showed (somebody saved a new one in between)."""
    shown = _field(lamp.exchange("GET", "/scenarios/lamp/delete").body, "base")
    theirs = GOOD.replace("first", "theirs")
    base = _field(lamp.exchange("GET", "/scenarios/lamp/edit").body, "base")
    saved = _post(lamp, "/scenarios/lamp/edit", document=theirs, base=base, do="save")
    refused = _post(lamp, "/scenarios/lamp/delete", confirm="yes", base=shown)
    document = re.search(
        r'<pre class="document">\n(.*?)</pre>', refused.body, re.DOTALL
    )
    assert (saved.status, refused.status) == (303, 409)
    assert "Not deleted: lamp was changed since this page was opened" in refused.body
    assert document is not None
    assert html.unescape(document[1]) == theirs
    assert _field(refused.body, "base") == hashlib.sha256(theirs.encode()).hexdigest()
    assert _stored(lamp, "lamp") == theirs
    # Delete again from the refusal's page means it
    again = _post(
        lamp, "/scenarios/lamp/delete", confirm="yes", base=_field(refused.body, "base")
    )
    assert (again.status, _stored(lamp, "lamp")) == (303, None)


def test_a_body_that_is_no_form_is_refused_with_400(lamp: Browser) -> None:
    """A script's POST with the token in X-CSRF-Token (the body is not read for it)
    and a body that is no form answered 500."""
    import http.client

    csrf = _field(lamp.exchange("GET", "/scenarios").body, "csrf")

    def sent(path: str, body: bytes) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", lamp.port, timeout=10)
        headers = {
            "Cookie": lamp.cookie,
            "X-CSRF-Token": csrf,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        try:
            connection.request("POST", path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read().decode("utf-8")
        finally:
            connection.close()

    answers = [
        sent("/scenarios/lamp/edit", b"do=save&no-equals-sign"),
        sent("/new-scenario", "document=\u00e9".encode()),
    ]
    assert [status for status, _ in answers] == [400, 400]
    assert all("Not read: not a form" in body for _, body in answers), answers
    assert _stored(lamp, "lamp") == GOOD


def test_a_name_no_scenario_can_have_is_unknown(browser: Browser) -> None:
    """A name the web face refuses to ask the core for (over 255 characters) is no
    scenario: 404, as for any unknown name, not 503 as if the hub failed."""
    long = "x" * 300
    answers = [
        browser.exchange("GET", f"/scenarios/{long}/edit").status,
        browser.exchange("GET", f"/scenarios/{long}/delete").status,
    ]
    assert answers == [404, 404]


def test_delete_asks_first_and_a_get_deletes_nothing(browser: Browser) -> None:
    _create(browser, GOOD.replace("lamp", "doomed"))
    confirm = browser.exchange("GET", "/scenarios/doomed/delete")
    unticked = _post(browser, "/scenarios/doomed/delete")
    still = _stored(browser, "doomed")
    deleted = _delete(browser, "doomed")
    listing = browser.exchange("GET", "/scenarios")
    assert (confirm.status, 'name="confirm"' in confirm.body) == (200, True)
    assert (unticked.status, "tick the box" in unticked.body) == (400, True)
    assert still is not None
    assert (deleted.status, "deleted: doomed" in listing.body) == (303, True)
    assert _stored(browser, "doomed") is None


def _core_request(rt: supervisor.Runtime, **fields: object) -> bytes:
    """One core.scenario request as another writer sends it (`raspy scenario`)."""
    body = json.dumps({"v": 1, **fields})
    endpoint = f"tcp://127.0.0.1:{rt.config.network.port_base}"
    with Client(endpoint, timeout_s=5, retries=1) as client:
        status: bytes = client.request("testhost.core.scenario", body)[0]
    return status


def test_a_save_over_a_text_another_writer_replaced_or_deleted_is_refused(
    hub: tuple[supervisor.Runtime, Browser],
) -> None:
    """`raspy scenario import --replace`, then `delete`, while the page is open:
    the core refuses the Save (its 409 carries the text stored now, or none); a
    Save from the refusal's page stores the user's text."""
    rt, browser = hub
    _create(browser, GOOD)
    theirs = GOOD.replace("first", "theirs")
    mine = GOOD.replace("first", "mine")
    try:
        base = _field(browser.exchange("GET", "/scenarios/lamp/edit").body, "base")
        replaced = _core_request(rt, action="import", document=theirs, replace=True)
        changed = _post(
            browser, "/scenarios/lamp/edit", document=mine, base=base, do="save"
        )
        deleted = _core_request(rt, action="delete", name="lamp")
        gone = _post(
            browser,
            "/scenarios/lamp/edit",
            document=mine,
            base=_field(changed.body, "base"),
            do="save",
        )
        again = _post(
            browser,
            "/scenarios/lamp/edit",
            document=mine,
            base=_field(gone.body, "base"),
            do="save",
        )
        stored = _stored(browser, "lamp")
    finally:
        _delete(browser, "lamp")
    assert (replaced, deleted) == (b"200", b"200")
    assert (changed.status, _textarea(changed.body)) == (409, mine)
    assert "Not saved: lamp was changed since this page was opened" in changed.body
    assert _field(changed.body, "base") == hashlib.sha256(theirs.encode()).hexdigest()
    assert (gone.status, _textarea(gone.body)) == (409, mine)
    assert "Not saved: lamp was deleted since this page was opened." in gone.body
    assert 'class="document stored"' not in gone.body
    assert (_field(gone.body, "base"), again.status, stored) == ("absent", 303, mine)


def test_a_delete_after_another_writer_deleted_it_says_so(
    hub: tuple[supervisor.Runtime, Browser],
) -> None:
    rt, browser = hub
    _create(browser, GOOD)
    base = _field(browser.exchange("GET", "/scenarios/lamp/delete").body, "base")
    assert _core_request(rt, action="delete", name="lamp") == b"200"
    answer = _post(browser, "/scenarios/lamp/delete", confirm="yes", base=base)
    listing = _page(browser, "/scenarios")
    assert (answer.status, answer.location) == (303, "/scenarios")
    assert "failed: delete lamp: No scenario named &#x27;lamp&#x27;" in listing


def test_the_page_after_a_save_is_marked_saved_for_the_draft(lamp: Browser) -> None:
    """app.js dropped its draft when the notice's words began with "saved: " or
    "No change: ": other words would have kept it. The server marks the notice."""
    base = _field(lamp.exchange("GET", "/scenarios/lamp/edit").body, "base")
    changed = GOOD.replace("first", "second")
    _post(lamp, "/scenarios/lamp/edit", document=changed, base=base, do="save")
    saved = _page(lamp, "/scenarios/lamp")
    base = _field(lamp.exchange("GET", "/scenarios/lamp/edit").body, "base")
    _post(lamp, "/scenarios/lamp/edit", document=changed, base=base, do="save")
    unchanged = _page(lamp, "/scenarios/lamp")
    _post(lamp, "/scenarios/lamp/disable?back=page")
    disabled = _page(lamp, "/scenarios/lamp")
    assert '<p class="notice" role="status" data-saved>saved: lamp</p>' in saved
    assert (
        '<p class="notice" role="status" data-saved>No change: nothing saved</p>'
        in unchanged
    )
    assert '<p class="notice" role="status">lamp disabled</p>' in disabled


def test_the_run_button_says_how_a_run_over_at_once_ended(browser: Browser) -> None:
    """The core's `run` reply says how a run that ended within the request ended;
    the button's notice said `done` for every run, one that failed at once too
    (its reason only on the scenario's page), and for one still going."""
    failing = "name: broken\nactions:\n  - set: /web/x\n    expr: \"1 + 'a'\"\n"
    going = "name: slow\nactions:\n  - wait: 10m\n"
    quick = "name: quick\nactions:\n  - log: 'hello'\n"
    for document in (failing, going, quick):
        _create(browser, document)
    try:
        notices = []
        for name in ("broken", "slow", "quick"):
            ran = _post(browser, f"/scenarios/{name}/run")
            assert ran.status == 303
            notices.append(_page(browser, "/scenarios"))
    finally:
        for name in ("broken", "slow", "quick"):
            _delete(browser, name)
    assert '<p class="notice error" role="alert">broken failed: ' in notices[0]
    assert "&#x27;+&#x27; needs a number" in notices[0]
    assert "slow started" in notices[1]
    assert "quick done" in notices[2]


def test_the_edit_page_of_a_disabled_scenario_says_enabled_false_and_a_save_keeps_it(
    browser: Browser,
) -> None:
    """Disable changes the state, not the text: the edit page showed a text saying
    `enabled: true`, and a Save of it, changed or not, enabled the scenario again
    (docs/web.md, "Writing scenarios"). The page shows the text saying the state,
    with the fingerprint of the text stored; the scenario's page shows it too."""
    winter = "name: heat\nenabled: true  # all winter\nactions:\n  - log: 'on'\n"
    said = winter.replace("enabled: true", "enabled: false")
    _create(browser, winter)
    try:
        assert _post(browser, "/scenarios/heat/disable").status == 303
        page = browser.exchange("GET", "/scenarios/heat/edit")
        shown, base = _textarea(page.body), _field(page.body, "base")
        scenario = _page(browser, "/scenarios/heat")
        answer = _post(
            browser,
            "/scenarios/heat/edit",
            document=shown.replace("'on'", "'warm'"),
            base=base,
            do="save",
        )
        after = _page(browser, "/scenarios/heat")
    finally:
        _delete(browser, "heat")
    assert (shown, base) == (said, hashlib.sha256(winter.encode()).hexdigest())
    assert html.escape("Enable and Disable change that") in page.body
    assert f'<pre class="document">\n{html.escape(said)}</pre>' in scenario
    assert (answer.status, answer.body) == (303, "")
    assert "state state-disabled" in after


def test_a_save_unchanged_of_a_disabled_text_without_the_line_keeps_it_disabled(
    browser: Browser,
) -> None:
    """A text without `enabled:` of a disabled scenario is shown with `enabled:
    false` added after its name; saved as shown, the text says what the scenario
    is already: stored, nothing switched."""
    _create(browser, GOOD)
    try:
        assert _post(browser, "/scenarios/lamp/disable").status == 303
        page = browser.exchange("GET", "/scenarios/lamp/edit")
        shown = _textarea(page.body)
        answer = _post(
            browser,
            "/scenarios/lamp/edit",
            document=shown,
            base=_field(page.body, "base"),
            do="save",
        )
        after = _page(browser, "/scenarios/lamp")
        edited = browser.exchange("GET", "/scenarios/lamp/edit").body
    finally:
        _delete(browser, "lamp")
    assert shown == GOOD.replace("name: lamp\n", "name: lamp\nenabled: false\n")
    assert (answer.status, answer.body) == (303, "")
    assert f"saved: lamp ({html.escape(SAME_SCENARIO)})" in after
    assert "state state-disabled" in after
    # stored as shown: the text says the state, and no note says otherwise
    assert (_textarea(edited), "Enable and Disable" in edited) == (shown, False)


def _hidden(body: str) -> dict[str, str]:
    """The hidden fields of the editor's form but the CSRF token, as a browser
    sends them back with a Save."""
    form = re.search(r'<form method="post"[^>]*class="editor".*?</form>', body, re.S)
    assert form is not None, body
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form[0])
    return {name: html.unescape(value) for name, value in found if name != "csrf"}


def _stored_shown(body: str) -> str | None:
    """The text a 409's page shows below the user's as stored now."""
    found = re.search(r'<pre class="document stored">\n(.*?)</pre>', body, re.DOTALL)
    return None if found is None else html.unescape(found[1])


def _state(browser: Browser, name: str) -> str:
    found = re.search(r"state state-(\w+)", _page(browser, f"/scenarios/{name}"))
    assert found is not None
    return found[1]


@pytest.mark.parametrize("edited", [False, True])
def test_a_save_over_a_page_that_showed_another_enabled_state_is_refused(
    hub: tuple[supervisor.Runtime, Browser], edited: bool
) -> None:
    """The page of a disabled scenario says `enabled: false`; `raspy scenario
    enable` (or another tab) enables it, which changes the flag, not the text:
    the Save, edited or not, passed the fingerprint and disabled it again, a lost
    update. It is refused (409) as a text changed since: the user's text kept,
    the text as the page would show it now below; a Save from that page means it."""
    rt, browser = hub
    _create(browser, GOOD)
    try:
        assert _post(browser, "/scenarios/lamp/disable").status == 303
        page = browser.exchange("GET", "/scenarios/lamp/edit").body
        mine = _textarea(page)
        if edited:
            mine = mine.replace("'one'", "'two'")
        enabled = _core_request(rt, action="enable", name="lamp")
        refused = _post(
            browser, "/scenarios/lamp/edit", document=mine, do="save", **_hidden(page)
        )
        state_after_refusal = _state(browser, "lamp")
        stored_after_refusal = _stored(browser, "lamp")
        again = _post(
            browser,
            "/scenarios/lamp/edit",
            document=mine,
            do="save",
            **_hidden(refused.body),
        )
        state_after_again = _state(browser, "lamp")
    finally:
        _delete(browser, "lamp")
    assert (enabled, refused.status, _textarea(refused.body)) == (b"200", 409, mine)
    assert "Not saved: lamp was enabled since this page was opened" in refused.body
    assert _stored_shown(refused.body) == GOOD
    assert (state_after_refusal, stored_after_refusal) == ("idle", GOOD)
    assert (again.status, state_after_again) == (303, "disabled")


def test_a_save_over_a_page_of_an_enabled_scenario_disabled_since_is_refused(
    hub: tuple[supervisor.Runtime, Browser],
) -> None:
    """The other way: the page showed it enabled, `raspy scenario disable` came,
    and the Save enabled it again. Refused, the text shown now saying
    `enabled: false`."""
    rt, browser = hub
    _create(browser, GOOD)
    try:
        page = browser.exchange("GET", "/scenarios/lamp/edit").body
        disabled = _core_request(rt, action="disable", name="lamp")
        refused = _post(
            browser, "/scenarios/lamp/edit", document=GOOD, do="save", **_hidden(page)
        )
        state = _state(browser, "lamp")
    finally:
        _delete(browser, "lamp")
    said = GOOD.replace("name: lamp\n", "name: lamp\nenabled: false\n")
    assert (disabled, refused.status, state) == (b"200", 409, "disabled")
    assert _stored_shown(refused.body) == said
    assert "Not saved: lamp was disabled since this page was opened" in refused.body


def test_a_save_over_a_page_that_showed_the_state_now_is_done(
    hub: tuple[supervisor.Runtime, Browser],
) -> None:
    """Disabled, enabled and disabled again while the page was open: the state it
    showed is the state now, and the text is the same: the Save is done, with
    every field the page sends; so is one of an older page, without the field."""
    rt, browser = hub
    _create(browser, GOOD)
    try:
        assert _post(browser, "/scenarios/lamp/disable").status == 303
        page = browser.exchange("GET", "/scenarios/lamp/edit").body
        fields = _hidden(page)
        assert _core_request(rt, action="enable", name="lamp") == b"200"
        assert _core_request(rt, action="disable", name="lamp") == b"200"
        mine = _textarea(page).replace("'one'", "'two'")
        saved = _post(
            browser, "/scenarios/lamp/edit", document=mine, do="save", **fields
        )
        state = _state(browser, "lamp")
        older = _post(
            browser,
            "/scenarios/lamp/edit",
            document=GOOD,
            do="save",
            base=_field(browser.exchange("GET", "/scenarios/lamp/edit").body, "base"),
        )
        older_state = _state(browser, "lamp")
    finally:
        _delete(browser, "lamp")
    assert (fields["enabled"], saved.status, state) == ("false", 303, "disabled")
    # an older page's form has no enabled field: its text says the state
    assert (older.status, older_state) == (303, "disabled")
