"""raspy.errors.shown: an outside value in a user's message, on one line, and no
byte in it that a terminal acts on."""

from __future__ import annotations

import pytest

from raspy.errors import shown

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("ä b", '"ä b"'),
        ("a\nb", '"a\\nb"'),
        # JSON leaves DEL and C1 as they are; U+009B is an 8-bit terminal's CSI
        ("a\x7fb", '"a\\u007fb"'),
        ("a\u009b2J", '"a\\u009b2J"'),
        (b"/t9/\xc2\x9b", '"/t9/\\u009b"'),
    ],
    ids=["utf8", "newline", "del", "csi", "csi-bytes"],
)
def test_shown_escapes_every_control_character(value: str | bytes, line: str) -> None:
    assert shown(value) == line


HUGE = int("1" * 4000, 16)  # a TOML `0x111…`: past the 4300 digits str() writes


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (HUGE, "an integer of 4816 digits"),
        (-HUGE, "a negative integer of 4816 digits"),
        (10**5000 - 1, "an integer of 5000 digits"),
        (10**5000, "an integer of 5001 digits"),
        (10**64, "an integer of 65 digits"),
        (10**64 - 1, "9" * 64),
        (-2.5, "-2.5"),
    ],
    ids=["hex", "negative", "nines", "power", "65-digits", "64-digits", "float"],
)
def test_a_long_integer_is_said_by_its_size(value: float, line: str) -> None:
    """str() of an int over 4300 digits raises ValueError: shown() let it out,
    and `raspyd --check-config` said Python's own words, with no field named."""
    assert shown(value) == line
