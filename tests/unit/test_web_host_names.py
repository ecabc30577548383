"""The Host names the web face serves (raspy.web.hosts): against DNS rebinding."""

from __future__ import annotations

import pytest

from raspy.web.hosts import own_names, refused_name

NAMES = own_names(("pi4.home.arpa", "hub"), ("dash.example.net",))


@pytest.mark.parametrize(
    "host",
    [
        "192.168.1.20",
        "192.168.1.20:5518",
        "[::1]",
        "[fe80::1]:5518",
        "::1",
        "localhost",
        "LOCALHOST:5518",
        "pi4",
        "pi4.home.arpa",
        "pi4.local:5518",
        "hub",
        "hub.local",
        "dash.example.net",
        "Dash.Example.Net.:80",
        None,
    ],
)
def test_addresses_and_own_names_are_served(host: str | None) -> None:
    assert refused_name(host, NAMES) is None


@pytest.mark.parametrize(
    ("host", "named"),
    [
        ("evil.example", "evil.example"),
        ("evil.example:5518", "evil.example"),
        ("192.168.1.20.evil.example", "192.168.1.20.evil.example"),
        ("localhost.evil.example", "localhost.evil.example"),
        ("hub.evil.example", "hub.evil.example"),
        ("hub:http", "hub:http"),
        ("[evil]:80", "[evil]:80"),
        ("", ""),
    ],
)
def test_any_other_name_is_refused_and_named(host: str, named: str) -> None:
    assert refused_name(host, NAMES) == named
