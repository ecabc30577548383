"""The controls of the Devices page ([[controls]]) on a real runtime with a real
Clone server: a form POST writes the key (read back by a Clone client), a refused
value keeps the old one and says why under the control, a bad CSRF token writes
nothing, and a control's `initial` is written at the start only where the key is
absent."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
import zmq
from support.wait import wait_until
from support.web_browser import Browser
from support.web_hub import web_hub

from raspy.actors.web.server import WebServer
from raspy.client.clone import CloneClient

CONTROLS = """
[[controls]]
key = "/house/living/setpoint"
label = "Living room setpoint"
kind = "number"
min = 15
max = 25
step = 0.5
unit = "°C"
initial = 20

[[controls]]
key = "/house/mode"
kind = "choice"
options = ["home", "away", "night"]
initial = "home"

[[controls]]
key = "/house/guests"
kind = "switch"
"""
SETPOINT = b"/house/living/setpoint"


@contextmanager
def tree_at(port_base: int) -> Iterator[CloneClient]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    tree = CloneClient(f"tcp://127.0.0.1:{port_base}", b"/house/", context=context)
    try:
        yield tree
    finally:
        tree.close()
        context.term()


def _value(tree: CloneClient, key: bytes) -> object:
    body = tree.get(key)
    return None if body is None else json.loads(body)


def _csrf(browser: Browser) -> str:
    page = browser.exchange("GET", "/").body
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def _post(browser: Browser, path: str, **fields: str) -> tuple[int, str]:
    answer = browser.exchange("POST", path, urlencode(fields))
    return answer.status, answer.body


@pytest.mark.timeout(60)
def test_a_form_post_writes_the_key_and_a_refused_value_keeps_the_old(
    tmp_path: Path,
) -> None:
    with (
        web_hub(tmp_path, CONTROLS) as (port_base, browser),
        tree_at(port_base) as tree,
    ):
        wait_until(
            lambda: _value(tree, SETPOINT) == 20, what="the initial setpoint, 20"
        )
        csrf = _csrf(browser)
        status, _ = _post(
            browser, "/controls", csrf=csrf, key=SETPOINT.decode(), value="22.5"
        )
        assert status == 303
        # answered once published: the page it leads back to shows the value
        assert '<span class="control-value">22.5</span>' in (
            browser.exchange("GET", "/").body
        )
        wait_until(lambda: _value(tree, SETPOINT) == 22.5, what="the setpoint 22.5")

        status, body = _post(
            browser, "/controls", csrf=csrf, key=SETPOINT.decode(), value="22.3"
        )
        assert status == 400
        item = body[body.index('data-control-key="/house/living/setpoint"') :]
        item = item.split("</li>")[0]
        assert "22.3 is not on the 0.5 step from 15</span>" in item
        # the field cleared before Set: asked for a number, not `'' is not a number`
        status, body = _post(
            browser, "/controls", csrf=csrf, key=SETPOINT.decode(), value=""
        )
        assert status == 400
        item = body[body.index('data-control-key="/house/living/setpoint"') :]
        item = item.split("</li>")[0]
        assert '<span class="error" role="alert">enter a number</span>' in item
        status, _ = _post(browser, "/controls", csrf=csrf, key="/house/mode", value="x")
        assert status == 400

        # a bad CSRF token: refused, nothing written
        status, _ = _post(
            browser, "/controls", csrf="forged", key=SETPOINT.decode(), value="16"
        )
        assert status == 403

        # app.js's way: JSON back; a switch and a choice
        status, body = _post(
            browser, "/api/control", csrf=csrf, key="/house/guests", value="true"
        )
        assert status == 200, body
        assert json.loads(body) == {"ok": True, "key": "/house/guests", "value": True}
        status, body = _post(
            browser, "/api/control", csrf=csrf, key="/house/mode", value="holiday"
        )
        assert status == 400
        assert json.loads(body)["error"] == "'holiday' is not one of home, away, night"
        status, body = _post(
            browser, "/api/control", csrf=csrf, key="/house/mode", value=""
        )
        assert (status, json.loads(body)) == (
            400,
            {"error": "choose one of home, away, night"},
        )
        status, body = _post(
            browser, "/api/control", csrf=csrf, key="/house/else", value="1"
        )
        assert status == 404
        wait_until(
            lambda: _value(tree, b"/house/guests") is True, what="guests switched on"
        )
        # the refused ones changed nothing (the guests' write came after them)
        assert _value(tree, SETPOINT) == 22.5
        assert _value(tree, b"/house/mode") == "home"


@pytest.mark.timeout(60)
def test_a_value_that_breaks_its_control_is_shown_marked(tmp_path: Path) -> None:
    with (
        web_hub(tmp_path, CONTROLS) as (port_base, browser),
        tree_at(port_base) as tree,
    ):
        tree.set(b"/house/mode", b'"holiday"')  # as raspy-kv set would: not checked

        def item() -> str:
            body = browser.exchange("GET", "/").body
            found = body[body.rindex("<li", 0, body.index('"/house/mode"')) :]
            found = found.split("</li>")[0]
            return found if "holiday" in found else ""

        shown = wait_until(item, what="the mode holiday on the page")
    assert '<span class="control-value">holiday</span>' in shown
    assert (
        "Set elsewhere to &quot;holiday&quot;, which is not one of the choices" in shown
    )
    assert shown.startswith('<li class="device control bad"')


@pytest.mark.timeout(90)
def test_initial_values_are_written_at_the_start_only_where_the_key_is_absent(
    tmp_path: Path,
) -> None:
    with web_hub(tmp_path, CONTROLS) as (port_base, _), tree_at(port_base) as tree:
        wait_until(lambda: _value(tree, SETPOINT) == 20, what="the initial setpoint")
        wait_until(lambda: _value(tree, b"/house/mode") == "home", what="the mode")
        assert _value(tree, b"/house/guests") is None  # no initial: none written
        tree.set(SETPOINT, b"23", confirm_timeout_s=5)
        tree.delete(b"/house/mode", confirm_timeout_s=5)
    with web_hub(tmp_path, CONTROLS) as (port_base, _), tree_at(port_base) as tree:
        # the absent key is written again, the household's value is kept
        wait_until(lambda: _value(tree, b"/house/mode") == "home", what="the mode")
        tree.wait_synced()
        assert _value(tree, SETPOINT) == 23


@pytest.mark.timeout(60)
def test_a_text_as_long_as_a_control_may_take_fits_in_the_form(
    tmp_path: Path,
) -> None:
    """A form body was limited to 8 KiB: 1,400 Cyrillic characters (each `%D0%B6`
    in the form) gave a bare 413, and without JavaScript the typed text was lost."""
    note = '[[controls]]\nkey = "/house/note"\nkind = "text"\nmax_length = 4096\n'
    with web_hub(tmp_path, note) as (port_base, browser), tree_at(port_base) as tree:
        csrf = _csrf(browser)
        status, _ = _post(
            browser, "/controls", csrf=csrf, key="/house/note", value="ж" * 1400
        )
        assert status == 303
        longest = "😀" * 4096  # four bytes of UTF-8, twelve in the form
        status, body = _post(
            browser, "/api/control", csrf=csrf, key="/house/note", value=longest
        )
        assert status == 200, body
        wait_until(
            lambda: _value(tree, b"/house/note") == longest, what="the longest note"
        )
        # one more character: refused with the reason, not at the body's size
        status, body = _post(
            browser, "/api/control", csrf=csrf, key="/house/note", value=longest + "a"
        )
        assert (status, json.loads(body)) == (
            400,
            {"error": "longer than 4096 characters"},
        )


@pytest.mark.timeout(60)
def test_a_refused_value_is_shown_again_in_its_field_the_others_from_the_tree(
    tmp_path: Path,
) -> None:
    """Without JavaScript the 400 page showed the tree's value in the field: what
    the person typed was lost. It shows what they sent (escaped), the reason under
    it, and the other controls as the tree has them."""
    note = '\n[[controls]]\nkey = "/house/note"\nkind = "text"\nmax_length = 5\n'
    with web_hub(tmp_path, CONTROLS + note) as (port_base, browser):
        with tree_at(port_base) as tree:
            wait_until(lambda: _value(tree, SETPOINT) == 20, what="the setpoint")
            wait_until(lambda: _value(tree, b"/house/mode") == "home", what="mode")
        csrf = _csrf(browser)
        status, body = _post(
            browser, "/controls", csrf=csrf, key="/house/note", value='<b>"x"&'
        )
        assert status == 400
        item = body[body.index('data-control-key="/house/note"') :].split("</li>")[0]
        assert 'name="value" value="&lt;b&gt;&quot;x&quot;&amp;" ' in item
        assert '"alert">a text of 7 characters, more than 5</span>' in item
        assert "<b>" not in item
        setpoint = body[body.index(f'data-control-key="{SETPOINT.decode()}"') :]
        assert 'name="value" value="20" ' in setpoint.split("</li>")[0]

        status, body = _post(
            browser, "/controls", csrf=csrf, key=SETPOINT.decode(), value="22.3"
        )
        assert status == 400
        item = body[body.index(f'data-control-key="{SETPOINT.decode()}"') :]
        item = item.split("</li>")[0]
        assert 'name="value" value="22.3" ' in item
        assert '<span class="control-value">20</span>' in item  # the tree's
        assert "22.3 is not on the 0.5 step from 15</span>" in item
        note_item = body[body.index('data-control-key="/house/note"') :]
        assert 'name="value" value="" ' in note_item.split("</li>")[0]


@pytest.mark.timeout(90)
def test_a_key_a_controls_key_only_prefixes_never_reaches_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web face follows `/house/mode` as a prefix of the tree: `/house/modest/x`
    came into it too, at the start and on every change, and only the live hub
    dropped it. The web actor keeps the control's own key alone: what it feeds the
    HTTP side (watched here) never holds the other, nor the stream, nor the page."""
    fed: list[str] = []
    feed = WebServer.feed

    def watched(
        self: WebServer, changes: list[tuple[str, bytes]], *, seed: bool = False
    ) -> None:
        fed.extend(key for key, _ in changes)
        feed(self, changes, seed=seed)

    monkeypatch.setattr(WebServer, "feed", watched)
    with web_hub(tmp_path, CONTROLS) as (port_base, browser):
        stream = http.client.HTTPConnection("127.0.0.1", browser.port, timeout=1)
        stream.request("GET", "/events", headers={"Cookie": browser.cookie})
        response = stream.getresponse()
        assert response.status == 200
        sent = b""

        def streamed(marker: bytes) -> bool:
            nonlocal sent
            with contextlib.suppress(TimeoutError):
                sent += response.read1(65536)
            return marker in sent

        try:
            with tree_at(port_base) as tree:
                tree.set(b"/house/modest/x", b'"stray"', confirm_timeout_s=5)
                tree.set(b"/house/mode", b'"night"', confirm_timeout_s=5)
            wait_until(lambda: streamed(b'"night"'), what="the mode night streamed")
        finally:
            stream.close()
        assert b"modest" not in sent
        assert "modest" not in browser.exchange("GET", "/").body
    assert "/house/mode" in fed
    assert [key for key in fed if key.startswith("/house/modest")] == []
    fed.clear()
    # at the start: the stored tree under the control's key is read, the key alone kept
    with web_hub(tmp_path, CONTROLS) as (_, browser):
        shown = browser.exchange("GET", "/").body
        assert 'value="night" aria-pressed="true"' in shown
    assert "/house/mode" in fed
    assert [key for key in fed if key.startswith("/house/modest")] == []
