"""raspy-kv check --drop takes a key as dump, backup and check name it: the text
between the quotes of raspy.errors.quote (a bytes repr), its escapes decoded."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.cli import kv
from raspy.cli.kv_drop import drop_command, key_bytes, parse_drop
from raspy.errors import quote
from raspy.storage.tables import Table


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


@given(
    st.binary(min_size=1, max_size=80),
    st.text(min_size=1, max_size=20).filter(lambda d: "\x00" not in d),
)
def test_the_drop_command_pasted_into_a_shell_names_the_key_and_data_dir(
    key: bytes, data_dir: str
) -> None:
    """A key holding both quotes printed a broken shell string; a double-quoted
    one let the shell expand a `$`."""
    argv = shlex.split(drop_command(data_dir, Table.KV, key))

    assert argv[:5] == ["raspy-kv", "check", "--data-dir", data_dir, "--drop"]
    assert parse_drop(*argv[5:]) == (Table.KV, key)


@given(st.binary(min_size=1, max_size=40))
def test_the_drop_command_is_read_by_raspy_kv_itself(key: bytes) -> None:
    """raspy-kv's own parser takes it: a key starting with `-` (a damaged record's
    binary key) was taken for an option ("--drop: expected 2 arguments")."""
    argv = shlex.split(drop_command("var/raspy", Table.KV, key))

    args = kv._build_parser().parse_args(argv[1:])

    assert parse_drop(*args.drop) == (Table.KV, key)
