"""`raspy status` prints what any MDP worker named: a `<host>.<part>.mmi` service
of its own, the names and text of its statistics. An escape sequence among them
was written to the terminal as it came, and acted there (`ESC]0;…BEL` set the
window's title, `ESC[2J` would clear the screen); each letter that is not printable
is shown as `?`, as `raspy scenario` shows its cells."""

from __future__ import annotations

from raspy.cli import status


def test_letters_that_are_not_printable_are_shown_as_question_marks() -> None:
    row = status.Row(
        "pi",
        "\x1b]0;pwned\x07ev",
        "run\x1b[2Jning",
        1,
        60.0,
        0,
        (("hits\x1b[31m", 3),),
        "no answer from pi.\x1b]0;pwned\x07ev.statistics",
    )
    lines = status.table([row])
    assert all(ch.isprintable() for line in lines for ch in line), lines
    assert lines[1].split() == [
        "pi.?]0;pwned?ev",
        "run?[2Jning",
        "1",
        "-",
        "0",
        "hits?[31m=3;",
        "no",
        "answer",
        "from",
        "pi.?]0;pwned?ev.statistics",
    ]
