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
