"""raspy-kv check --drop takes a key as dump, backup and check name it: the text
between the quotes of raspy.errors.quote (a bytes repr), its escapes decoded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.cli.kv_drop import key_bytes
from raspy.errors import quote


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("KTHXBAI", b"KTHXBAI"),
        ("/bad\\x00\\xff", b"/bad\x00\xff"),
        ("a\\\\b", b"a\\b"),
        ("it\\'s", b"it's"),
        ("tab\\there\\n\\r", b"tab\there\n\r"),
        ("/é", "/é".encode()),
        ("lone\\q", b"lone\\q"),
    ],
    ids=["plain", "hex", "backslash", "quote", "controls", "utf8", "unknown-escape"],
)
def test_a_key_is_read_as_check_names_it(text: str, key: bytes) -> None:
    assert key_bytes(text) == key


@given(st.binary(min_size=1, max_size=80))
def test_any_key_named_whole_is_read_back(key: bytes) -> None:
    assert key_bytes(quote(key, None)[1:-1]) == key
