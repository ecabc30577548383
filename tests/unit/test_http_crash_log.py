"""The http service's crash line (`http_request_crashed`): a bug in the fetch is
logged with its type, message and traceback, each secret the request carried put
back as its `{secret.NAME}` (log.exception wrote them as they were)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from actors.http_client import _log_crash
from raspy.http_request import HttpRequest

pytestmark = pytest.mark.timeout(10)

TOKEN = "123456:AAF-s3cr3t/value"  # noqa: S105  # a test value to look for


def _raise_with(text: str) -> None:
    raise ValueError(f"cannot use {text!r}")


def test_a_crash_is_logged_with_each_secret_as_its_name() -> None:
    wanted = HttpRequest("POST", "http://127.0.0.1:9/send", secrets=(("token", TOKEN),))
    try:
        _raise_with(TOKEN)
    except ValueError as exc:
        with capture_logs() as logs:
            _log_crash(exc, wanted, "http://127.0.0.1:9/send")
    [line] = logs
    assert (line["event"], line["log_level"], line["error"]) == (
        "http_request_crashed",
        "error",
        "ValueError",
    )
    assert line["detail"] == "cannot use '{secret.token}'"
    assert line["exception"].startswith("Traceback (most recent call last):\n")
    assert line["exception"].endswith("ValueError: cannot use '{secret.token}'")
    assert "_raise_with" in line["exception"]  # the traceback is there, cleaned
    assert all(TOKEN not in str(field) for field in line.values())
