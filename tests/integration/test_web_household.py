"""The web face's claims checked over plain HTTP against the real server (WebServer,
build_app): what docs/web.md promises a household, each at its own test."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.web_browser import TOKEN, Answer, Browser
from support.web_served import web_served


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    with web_served(tmp_path) as (serving, _backend):
        yield serving


def _post(port: int, path: str, body: str, **headers: str) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request("POST", path, body=body, headers=headers)
        return Answer.of(connection.getresponse())
    finally:
        connection.close()


def test_a_login_sent_from_another_site_is_refused(port: int) -> None:
    """docs/web.md: "A POST whose Origin header names another host or port than its
    Host header is refused too": the login form's POST is one. Its own token does
    not stand in for the check, for cookies are not told apart by port: a page of
    another port of the hub's name may set the login cookie it sends."""
    form = Browser(port).exchange("GET", "/login")
    login_cookie = form.cookies[0].split(";")[0]
    match = re.search(r'name="csrf" value="([^"]+)"', form.body)
    assert match is not None
    body = f"csrf={match.group(1)}&secret={TOKEN}"
    foreign = _post(
        port, "/login", body, Cookie=login_cookie, Origin="http://127.0.0.1:8080"
    )
    own = _post(
        port, "/login", body, Cookie=login_cookie, Origin=f"http://127.0.0.1:{port}"
    )
    assert foreign.status == 403
    assert not any(c.startswith("raspy_session=") for c in foreign.cookies)
    assert own.status == 303


def _login_form(port: int, cookie: str = "") -> tuple[str, str]:
    """GET /login as a browser holding `cookie` sends it: (the login cookie the
    browser holds after it, the form's token)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "GET", "/login", headers={"Cookie": cookie} if cookie else {}
        )
        response = connection.getresponse()
        body = response.read().decode("utf-8")
        set_cookies = response.headers.get_all("set-cookie") or []
    finally:
        connection.close()
    match = re.search(r'name="csrf" value="([^"]+)"', body)
    assert match is not None
    given = [c.split(";")[0] for c in set_cookies if c.startswith("raspy_login=")]
    return (given[0] if given else cookie), match.group(1)


def test_two_tabs_on_the_login_form_both_log_in(port: int) -> None:
    """Two pages open whose session ended (a new token) both go to the login form
    by themselves; the second form's cookie replaced the first's, and the token
    typed into the first tab was refused with "The form expired"."""
    first_cookie, first_token = _login_form(port)
    cookie, _second_token = _login_form(port, first_cookie)  # the other tab
    answer = _post(port, "/login", f"csrf={first_token}&secret={TOKEN}", Cookie=cookie)
    assert answer.status == 303, answer.body
