"""[http] checks (raspy.config): an address to bind and a positive session length."""

from __future__ import annotations

import pytest

from raspy import config
from raspy.errors import ConfigError


def test_http_defaults_are_off_and_loopback() -> None:
    http = config.load("").http
    assert (http.enabled, http.bind, http.password_hash_file) == (
        False,
        "127.0.0.1",
        "",
    )


def test_an_empty_bind_and_a_zero_session_are_refused_together() -> None:
    with pytest.raises(ConfigError, match=r".") as caught:
        config.load('[http]\nbind = ""\nsession_s = 0\n', "x.toml")
    assert caught.value.problems == [
        'x.toml: http.bind: expected an address, got ""',
        "x.toml: http.session_s: expected seconds in 60..31536000, got 0.0",
    ]


def test_hosts_are_names_without_a_port() -> None:
    http = config.load('[http]\nhosts = ["hub.home.arpa", "Raspy.Lan."]\n').http
    assert http.hosts == ("hub.home.arpa", "Raspy.Lan.")
    with pytest.raises(ConfigError, match=r".") as caught:
        config.load('[http]\nhosts = ["hub.lan:8080", "http://hub", 5]\n', "x.toml")
    expected = "x.toml: http.hosts: expected host names without a port (hub.home.arpa)"
    assert caught.value.problems == [
        f'{expected}, got "hub.lan:8080"',
        f'{expected}, got "http://hub"',
        f"{expected}, got 5",
    ]
