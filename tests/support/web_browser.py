"""Plain HTTP to a running web face, logged in with a token (integration tests)."""

from __future__ import annotations

import functools
import http.client
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raspy.web.login import hash_secret
from raspy.web.login_files import token_path, write_private

TOKEN = "a-token-for-the-test"  # noqa: S105  # a test login, hashed below


def allow_login(data_dir: Path) -> None:
    """Make TOKEN the data dir's web login token (before the runtime starts). Every
    data dir of a process gets the same line: the hash is made once, for scrypt costs
    about 0.05 s of CPU and most web tests start with this."""
    write_private(token_path(data_dir), _token_line())


def renew_login(data_dir: Path) -> None:
    """TOKEN hashed anew (a new salt), as a new `raspy web-token` writes it: the
    login files' content changes, which ends every session."""
    write_private(token_path(data_dir), hash_secret(TOKEN).line() + "\n")


@functools.cache
def _token_line() -> str:
    return hash_secret(TOKEN).line() + "\n"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    content_type: str
    cookies: list[str]
    body: str
    location: str = ""  # a redirect's Location header

    @classmethod
    def of(cls, response: http.client.HTTPResponse) -> Answer:
        """The response, its body read whole."""
        return cls(
            response.status,
            response.getheader("content-type") or "",
            response.headers.get_all("set-cookie") or [],
            response.read().decode("utf-8"),
            response.getheader("location") or "",
        )


class Browser:
    """Plain HTTP to the web face, with the cookies of one login."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:
        self.port = port
        self.source = source  # another 127.x address: another client on the LAN
        self.cookie = ""

    def exchange(self, method: str, path: str, body: str = "") -> Answer:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(self.source, 0)
        )
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body or None, headers=headers)
            return Answer.of(connection.getresponse())
        finally:
            connection.close()

    def log_in(self) -> None:
        answer = self.try_login(TOKEN)
        assert answer.status == 303, answer.body
        session = next(c for c in answer.cookies if c.startswith("raspy_session="))
        self.cookie = session.split(";")[0]

    def try_login(self, secret: str) -> Answer:
        """The login form fetched and sent with `secret` (its answer, whatever)."""
        form = self.exchange("GET", "/login")
        self.cookie = form.cookies[0].split(";")[0]
        match = re.search(r'name="csrf" value="([^"]+)"', form.body)
        assert match is not None
        return self.exchange("POST", "/login", f"csrf={match.group(1)}&secret={secret}")

    def device_command(self, command: dict[str, Any]) -> tuple[int, Any]:
        """POST /api/device as app.js sends it (the CSRF token from the page's meta
        tag): the HTTP status and the JSON answer."""
        page = self.exchange("GET", "/")
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.body)
        assert token is not None, page.body[:200]
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(self.source, 0)
        )
        try:
            connection.request(
                "POST",
                "/api/device",
                body=json.dumps(command),
                headers={
                    "Cookie": self.cookie,
                    "Content-Type": "application/json",
                    "X-CSRF-Token": token.group(1),
                },
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()
