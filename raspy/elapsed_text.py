"""A length of time in its two largest units, as `raspy status` and the web face
both show one: `2d04h` in the status table's column, `2 d 4 h` on a page."""

from __future__ import annotations

from typing import Final

# the two units of each level: days and hours, hours and minutes, minutes and seconds
_COMPACT: Final = (("d", "h"), ("h", "m"), ("m", "s"))
_SPOKEN: Final = (("d", "h"), ("h", "min"), ("min", "s"))


def elapsed_text(seconds: float, *, compact: bool = False) -> str:
    """Whole seconds in the two largest units: "41 s", "4 min 41 s", "3 h 12 min",
    "2 d 4 h"; `compact`, for a column, "0m41s", "4m41s", "3h12m", "2d04h"."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    level = 0 if days else 1 if hours else 2
    big, small = ((days, hours), (hours, minutes), (minutes, secs))[level]
    if compact:
        big_unit, small_unit = _COMPACT[level]
        return f"{big}{big_unit}{small:02d}{small_unit}"
    if not big and level == 2:  # under a minute: the seconds alone
        return f"{small} s"
    big_unit, small_unit = _SPOKEN[level]
    return f"{big} {big_unit} {small} {small_unit}"
