"""A time format: epoch seconds as the hub's local time, `%H:%M` (a template field's
`{trigger.value:%H:%M}`, the expression function `time_text()`).

Only a fixed list of strftime's directives, written by our own code in English: the
C library's strftime depends on the platform and the locale (`%-H` is glibc's and not
macOS's, `%Y` of the year 999 differs), and a format must mean the same on every hub.
Pure: the zone is passed in, no clock is read.
"""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo
from typing import Final

from raspy.errors import ScenarioError, quote
from raspy.records import frozen

MAX_FORMAT_CHARS: Final = 64  # a format's own length; each directive writes ≤ 9 chars
DIRECTIVES: Final = "%H %M %S %d %m %y %Y %a %A %b %B %j %p %I %Z %z %%"
_FLAGS: Final = "-_0^#"  # glibc's padding and case flags: not portable
_DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEK: Final = (*_DAYS, "Sunday")
_MONTHS: Final = (
    *("January", "February", "March", "April", "May", "June", "July"),
    *("August", "September", "October", "November", "December"),
)


class TimeFormatError(ScenarioError):
    """A format refused: `reason` names what is wrong, `offset` (0-based) where."""

    def __init__(self, reason: str, offset: int) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(f"{reason} (at offset {offset})")


@frozen
class TimeFormat:
    """A parsed format: literal text, and directives as their letter after a `%`."""

    spec: str
    parts: tuple[tuple[bool, str], ...]  # (is a directive, its letter or the text)

    def text(self, wall_ts: float, tz: tzinfo) -> str | None:
        """`wall_ts` (epoch seconds) as local time in `tz`; None when it is no time
        a calendar can show (past the year 9999, before the year 1)."""
        try:
            local = datetime.fromtimestamp(wall_ts, tz)
        except (OverflowError, OSError, ValueError):
            return None
        return "".join(
            _directive(local, item) if directive else item
            for directive, item in self.parts
        )


@functools.lru_cache(maxsize=256)  # time_text() at every evaluation: parsed once
def parse_time_format(spec: str) -> TimeFormat:
    """The format `spec`, or TimeFormatError at the first thing it cannot take."""
    if len(spec) > MAX_FORMAT_CHARS:
        raise TimeFormatError(
            f"a time format is at most {MAX_FORMAT_CHARS} characters, got {len(spec)}",
            MAX_FORMAT_CHARS,
        )
    parts: list[tuple[bool, str]] = []
    literal: list[str] = []
    position = 0
    while position < len(spec):
        char = spec[position]
        if char in "{}":
            raise TimeFormatError(
                f"a time format holds no {quote(char)} (text around it goes outside"
                " the braces)",
                position,
            )
        if char != "%":
            literal.append(char)
            position += 1
            continue
        letter = spec[position + 1 : position + 2]
        if not letter:
            raise TimeFormatError(
                "a '%' ends the time format (write '%%' for a percent sign)", position
            )
        if letter in _FLAGS:
            written = spec[position : position + 3]
            raise TimeFormatError(
                f"the flag of {quote(written)} is not portable: write the directive"
                f" without it (the directives are {DIRECTIVES})",
                position,
            )
        if f"%{letter}" not in DIRECTIVES.split():
            raise TimeFormatError(
                f"unknown time directive {quote('%' + letter)} (the directives are"
                f" {DIRECTIVES})",
                position,
            )
        if letter == "%":
            literal.append("%")
        else:
            if literal:
                parts.append((False, "".join(literal)))
                literal = []
            parts.append((True, letter))
        position += 2
    if literal:
        parts.append((False, "".join(literal)))
    return TimeFormat(spec, tuple(parts))


def _directive(local: datetime, letter: str) -> str:
    """One directive of `local`, as C's strftime writes it in the C locale."""
    if letter in "HMSdmyjI":
        number = {
            "H": local.hour,
            "M": local.minute,
            "S": local.second,
            "d": local.day,
            "m": local.month,
            "y": local.year % 100,
            "j": local.timetuple().tm_yday,
            "I": (local.hour - 1) % 12 + 1,
        }[letter]
        return f"{number:0{3 if letter == 'j' else 2}d}"
    if letter == "Y":
        return f"{local.year:04d}"
    if letter in "aA":
        day = _WEEK[local.weekday()]
        return day if letter == "A" else day[:3]
    if letter in "bB":
        month = _MONTHS[local.month - 1]
        return month if letter == "B" else month[:3]
    if letter == "p":
        return "AM" if local.hour < 12 else "PM"
    if letter == "Z":
        return local.tzname() or ""
    return _offset(local)  # "z": the only letter left


def _offset(local: datetime) -> str:
    """`%z`: +HHMM (+HHMMSS for a zone's old local mean time, as Python writes it)."""
    offset = local.utcoffset()
    if offset is None:
        return ""
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{seconds:02d}" if seconds else "")
