"""DNS rebinding: the web face serves requests under IP addresses and its own names
only, over real HTTP to the real WebServer. A page elsewhere whose name was made
to point at the hub could otherwise drive its login form from a household
member's browser (the browser takes the hub for that page's origin)."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.web_browser import Browser
from support.web_served import web_served

from raspy.actors.web.backend import Backend


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Backend]]:
    with web_served(tmp_path, hosts=("hub.home.arpa",)) as serving:
        yield serving


def _under(
    port: int, host: str, method: str, path: str, cookie: str = ""
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": host}
    if cookie:
        headers["Cookie"] = cookie
    try:
        connection.putrequest(method, path, skip_host=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        fields = {name.lower(): value for name, value in response.getheaders()}
        return response.status, fields, response.read().decode("utf-8")
    finally:
        connection.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/login"), ("POST", "/login"), ("GET", "/"), ("GET", "/static/app.css"),
     ("GET", "/no-such-page"), ("POST", "/api/device"), ("GET", "/events")],
)  # fmt: skip
def test_a_request_under_another_name_is_refused_saying_how_to_allow_it(
    served: tuple[int, Backend], method: str, path: str
) -> None:
    port, _ = served
    browser = Browser(port)
    browser.log_in()  # a session does not let a foreign name in either
    status, headers, body = _under(
        port, "evil.example:8080", method, path, browser.cookie
    )
    assert status == 400
    assert body == (
        "this hub does not answer to the name 'evil.example': add it to [http] "
        "hosts in raspyd's config to use it\n"
    )
    assert headers["content-type"].startswith("text/plain")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.timeout(30)
def test_addresses_and_the_hubs_own_names_are_served(
    served: tuple[int, Backend],
) -> None:
    port, _ = served
    machine = socket.gethostname().split(".")[0]
    hosts = [
        f"127.0.0.1:{port}",
        f"[::1]:{port}",
        "localhost",
        f"localhost:{port}",
        machine,
        f"{machine}.local:{port}",
        "testhost",  # raspy's hostname
        "hub.home.arpa",  # [http] hosts
        f"HUB.home.arpa.:{port}",
    ]
    for host in hosts:
        status, _, _ = _under(port, host, "GET", "/login")
        assert (host, status) == (host, 200)
