"""Five-field cron expressions: parse once, then the next fire after an instant.

croniter does the calendar arithmetic on naive local labels only; the labels are
turned into instants by `timing_local.resolve`, which carries the DST rule. croniter is
never given a timezone-aware start (croniter 7 then decides the repeated hour on its
own). Pure, no clock.

The repeated hour (autumn), as Debian's cron does: a job at fixed times (`30 2 * * *`)
fires at the first occurrence of its label only; a job with `*` in its minute or hour
field (`*/15 * * * *`, `0 * * * *`, `@hourly`) follows the clock through both passes,
so it keeps its cadence in real time (every 15 minutes, every real hour); on the
spring day its skipped time is left to a fire of its own by the time's place in real
time, if it has one (`30 * * * *`: 01:30, then 03:30, not 03:00 too).

croniter (and dateutil, some 30 modules) is imported by the functions that use it:
a hub with no cron trigger and no [cron] job never loads it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from raspy.errors import quote
from raspy.records import frozen
from raspy.rules.timing_local import label_of, resolve

if TYPE_CHECKING:
    from croniter import croniter

MAX_EXPRESSION_CHARS: Final = 200
FIELDS: Final = 5
ALIASES: Final = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
# Digits, names (jan, mon), `* / , - ? L W #`; anything else is refused before croniter.
_ALLOWED: Final = re.compile(r"[0-9A-Za-z*/,\-?#]+")
# Labels skipped in a row before giving up: an autumn repeat skips at most 60 minute
# labels (already fired in the first occurrence), so this is never reached by a
# schedule that matches at all.
_MAX_SKIPPED_LABELS: Final = 10_000
# Far enough that every accepted expression has a match after it (29 Feb: 8 years).
_TWO_DAYS_S: Final = 2 * 86_400.0
_PROBE_START: Final = datetime(2001, 1, 1)  # noqa: DTZ001 - a naive local label


# Building a croniter parses the expression (about 4/5 of a next_after); each thread
# keeps the ones it used and only moves them to a new start. Bounded: cleared when full.
_CACHE_LIMIT: Final = 1024
_per_thread = threading.local()


def _labels_from(expression: str, start: datetime) -> croniter:
    """A croniter over naive labels, positioned at `start` (this thread's own)."""
    from croniter import croniter  # imported late: see the module docstring

    cache: dict[str, croniter] | None = getattr(_per_thread, "iterators", None)
    if cache is None:
        cache = _per_thread.iterators = {}
    labels = cache.get(expression)
    if labels is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        labels = cache[expression] = croniter(
            expression, start, day_or=expression.startswith("@")
        )
    else:
        labels.set_current(start, force=True)
    return labels


def _days_either(expression: str) -> bool:
    """Whether a day matches when either its day of the month or its weekday does
    (both restricted), as Debian's cron reads them: a field that starts with `*`
    (`*`, `*/2`) or is `?` makes it both (`0 7 */2 * 1`: the odd days that are Mondays)."""
    if expression.startswith("@"):
        return True
    day, _month, weekday = expression.split(" ")[2:]
    # `?` is another cron's `*` (no restriction), read as such by croniter
    return not (day.startswith(("*", "?")) or weekday.startswith(("*", "?")))


def _halves(expression: str) -> tuple[str, ...]:
    """The expressions whose fires together are the schedule's.

    "Either day field" is done here as two schedules, one per field, rather than by
    croniter's day_or: croniter keeps `#`, `L5` and `W` as an intersection even
    then (`0 0 15 * 1#3` fired only on third Mondays that were the 15th)."""
    if expression.startswith("@") or not _days_either(expression):
        return (expression,)
    minute, hour, day, month, weekday = expression.split(" ")
    return (f"{minute} {hour} {day} {month} *", f"{minute} {hour} * {month} {weekday}")


def _follows_the_clock(expression: str) -> bool:
    """Whether the minute or hour field is a wildcard (`*`, `*/15`): such a job fires
    in both passes of a repeated hour."""
    if expression.startswith("@"):
        return expression == "@hourly"
    minute, hour = expression.split(" ")[:2]
    return minute.startswith("*") or hour.startswith("*")


@frozen
class CronSchedule:
    """A parsed cron expression (local time of whatever timezone is passed in)."""

    expression: str

    @property
    def repeats_with_the_clock(self) -> bool:
        """True: fires in both passes of a repeated autumn hour (a `*` minute or
        hour field); False: a fixed-time job, fired at a label's first pass only."""
        return _follows_the_clock(self.expression)

    def next_after(self, after_ts: float, tz: ZoneInfo) -> float:
        """The first fire strictly after `after_ts` (epoch s), per the DST rule.

        Raises ValueError if none is found (only for instants near year 9999).
        """
        from croniter import CroniterError  # imported late: see the module docstring

        try:
            first = self._first_pass_after(after_ts, tz)
            if not self.repeats_with_the_clock or not _repeat_near(after_ts, first, tz):
                return first
            second = self._second_pass_after(after_ts, tz)
        except (CroniterError, OverflowError, ValueError) as exc:
            raise ValueError(f"cron {quote(self.expression)}: {exc}") from exc
        return first if second is None else min(first, second)

    def _first_pass_after(self, after_ts: float, tz: ZoneInfo) -> float:
        """The first label's instant (first occurrence, or end of its gap) > after."""
        # A minute early: label_of rounds to the microsecond, so an instant a hair
        # before a whole minute would otherwise start the search past that minute.
        start = label_of(after_ts, tz) - timedelta(minutes=1)
        merged = self._merged if self.repeats_with_the_clock else None
        fires = [
            _first_fire(half, start, after_ts, tz, merged)
            for half in _halves(self.expression)
        ]
        found = [fire for fire in fires if fire is not None]
        if not found:
            raise ValueError(f"no fire after {after_ts}")
        return min(found)

    def _second_pass_after(self, after_ts: float, tz: ZoneInfo) -> float | None:
        """The first second occurrence of a repeated label > after, if it comes before
        the next first-pass fire; None otherwise.

        The labels are searched from the label of `after_ts`, or, when `after_ts` lies
        in the first pass of a repeated hour, from the start of that hour's labels
        (their second pass is still ahead)."""
        label = label_of(after_ts, tz)
        earlier, later = _occurrences(label, tz)
        start = label - timedelta(minutes=1)
        if after_ts < later:  # in the first pass: the repeat's labels all come again
            start -= timedelta(seconds=later - earlier)
        fires = [
            _second_fire(half, start, after_ts, tz) for half in _halves(self.expression)
        ]
        found = [fire for fire in fires if fire is not None]
        return min(found) if found else None

    def _merged(self, label: datetime, fire: float, tz: ZoneInfo) -> bool:
        """Whether the `label` skipped by a spring gap (fired at the gap's end,
        `fire`) is left to a fire of the job's own in the hour after the gap: one
        at or before the label's place in real time (the label moved on by the
        gap's width). So a job that follows the clock keeps its real-time cadence:
        `30 * * * *` fires at 01:30 and 03:30 in Berlin, not at 03:00 too; a job
        with no such fire (`*/15 2 * * *`, `0 */2 * * *`) fires at the gap's end."""
        end = label_of(fire, tz)
        if end == label:
            return False  # not in a gap
        before, after = _occurrences(label, tz)  # in a gap: read with each offset
        place = label + timedelta(seconds=before - after)
        minute = end
        while minute <= place:
            if self.matches(minute):
                return True
            minute += timedelta(minutes=1)
        return False

    def matches(self, label: datetime) -> bool:
        """Whether the naive local `label` (to the minute) is one of the schedule's."""
        from croniter import croniter  # imported late: see the module docstring

        return any(
            croniter.match(half, label, half.startswith("@"))
            for half in _halves(self.expression)
        )


def _first_fire(
    expression: str,
    start: datetime,
    after_ts: float,
    tz: ZoneInfo,
    merged: Callable[[datetime, float, ZoneInfo], bool] | None = None,
) -> float | None:
    """One half's first instant > after_ts from the label `start`; None if it has
    none (a half that never matches, such as `0 0 30 2 *` beside a weekday).
    `merged`: whether a label is left to a later fire (CronSchedule._merged)."""
    from croniter import CroniterBadDateError  # imported late: see the module docstring

    try:
        labels = _labels_from(expression, start)
        for _ in range(_MAX_SKIPPED_LABELS):
            label = labels.get_next(datetime)
            fire = resolve(label, tz)
            if fire > after_ts and (merged is None or not merged(label, fire, tz)):
                return fire
    except CroniterBadDateError:
        return None
    return None


def _second_fire(
    expression: str, start: datetime, after_ts: float, tz: ZoneInfo
) -> float | None:
    """One half's second occurrence of a repeated label > after_ts, if it comes
    before that half's next first-pass fire."""
    from croniter import CroniterBadDateError  # imported late: see the module docstring

    try:
        labels = _labels_from(expression, start)
        for _ in range(_MAX_SKIPPED_LABELS):
            candidate = labels.get_next(datetime)
            earlier, later = _occurrences(candidate, tz)
            if later > after_ts and later > earlier:
                return later
            if resolve(candidate, tz) > after_ts:
                return None  # the first pass comes first from here on
    except CroniterBadDateError:
        return None
    return None


def _repeat_near(after_ts: float, first: float, tz: ZoneInfo) -> bool:
    """Whether a second pass of a repeated hour may come before `first`: `after_ts`
    is in a repeated hour, or the clocks go back before `first` (two offsets suffice
    over two days: no zone changes twice in that time)."""
    if first - after_ts > _TWO_DAYS_S:
        return True
    earlier, later = _occurrences(label_of(after_ts, tz), tz)
    if later > earlier:
        return True
    before = datetime.fromtimestamp(after_ts, tz).utcoffset()
    then = datetime.fromtimestamp(first, tz).utcoffset()
    return before is not None and then is not None and then < before


def _occurrences(label: datetime, tz: ZoneInfo) -> tuple[float, float]:
    """The instants of a naive label read with the offset before and after a change
    (PEP 495 folds): equal for an ordinary label, later > earlier for a repeated one
    (in a gap, later < earlier: not a repeat)."""
    earlier = label.replace(tzinfo=tz, fold=0).timestamp()
    later = label.replace(tzinfo=tz, fold=1).timestamp()
    return earlier, later


def parse_cron(text: str) -> CronSchedule:
    """The schedule of a five-field cron expression or an alias such as `@daily`.

    Raises ValueError with a one-line reason for anything else, including an
    expression that never matches (`0 0 31 2 *`).
    """
    from croniter import (
        CroniterBadDateError,
        CroniterError,
        croniter,
    )  # imported late: see the module docstring

    if not isinstance(text, str):
        raise TypeError(f"cron: expected a string, got {type(text).__name__}")
    expression = " ".join(text.split())
    if not expression:
        raise ValueError("cron: empty expression")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"cron: over {MAX_EXPRESSION_CHARS} characters")
    if expression.startswith("@"):
        if expression.lower() not in ALIASES:
            aliases = ", ".join(sorted(ALIASES))
            hint = (
                " (a scenario's `startup: true` trigger runs when raspyd starts)"
                if expression.lower() == "@reboot"
                else ""
            )
            raise ValueError(
                f"cron: unknown alias {quote(expression)}; use {aliases}{hint}"
            )
        expression = expression.lower()
    else:
        fields = expression.split(" ")
        if len(fields) != FIELDS:
            raise ValueError(
                f"cron {quote(expression)}: expected {FIELDS} fields "
                "(minute hour day month weekday), got "
                f"{len(fields)}"
            )
        for position, field in enumerate(fields, start=1):
            if not _ALLOWED.fullmatch(field):
                raise ValueError(
                    f"cron {quote(expression)}: field {position}: "
                    f"unexpected character in {quote(field)}"
                )
            _refuse_random(expression, position, field)
            _refuse_out_of_range(expression, position, field)
            _refuse_stepped_wrap(expression, position, field)
    never: list[CroniterBadDateError] = []
    for half in _halves(expression):
        try:
            croniter(half, _PROBE_START, day_or=half.startswith("@")).get_next(datetime)
        except CroniterBadDateError as exc:
            never.append(exc)  # refused only if no half ever matches
        except (CroniterError, OverflowError, ValueError, KeyError, IndexError) as exc:
            reason = _said(str(exc) or type(exc).__name__, half)
            raise ValueError(f"cron {quote(expression)}: {reason}") from exc
    if len(never) == len(_halves(expression)):
        reason = "it never matches a date (such as 31 February)"
        raise ValueError(f"cron {quote(expression)}: {reason}") from never[0]
    return CronSchedule(expression)


_FIELD_NAMES: Final = ("minute", "hour", "day", "month", "weekday")
_STEP: Final = re.compile(r"step '([^']*)' in field (\d)")
_BANDS: Final = re.compile(r"bands '([^']*)' in field (\d)")
# croniter's random (`R`) and hashed (`H`) fields: a different time at each start
_RANDOM_OR_HASHED: Final = re.compile(r"(?<![A-Za-z])[RrHh](?![A-Za-z])")


def _refuse_random(expression: str, position: int, field: str) -> None:
    if _RANDOM_OR_HASHED.search(field):
        raise ValueError(
            f"cron {quote(expression)}: field {position}: `R` and `H` (a random or "
            f"hashed time) are not read; give the time in {quote(field)}"
        )


# A range that wraps around (`5-2`, `FRI-MON`, `22-2`) is read by croniter as it is
# meant, on past the field's end and on from its start (5-59,0-2); with a step it
# counts the wrap one off (`50-10/7`: 50, 57, 5 where 4 is meant), so that is refused.
_STEPPED_RANGE: Final = re.compile(r"([0-9A-Za-z]+)-([0-9A-Za-z]+)/([0-9]+)")
_FIELD_SPANS: Final = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")  # fmt: skip
_WEEKDAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES: Final[tuple[dict[str, int], ...]] = (
    {},
    {},
    {},
    {name: n for n, name in enumerate(_MONTHS, 1)},
    {name: n for n, name in enumerate(_WEEKDAYS)},
)


def _refuse_out_of_range(expression: str, position: int, field: str) -> None:
    """A number past its field's range, named with its field (croniter names
    neither: `0 0 * * 8` was "a value is out of range" and every field's range)."""
    low, high = _FIELD_SPANS[position - 1]
    values_count = high - low + 1
    if position == 5:
        high = 7  # Sunday is 0 and 7
    for item in field.split(","):
        step = item.partition("/")[2]
        # `*/61`: hourly, not 61 minutes; a step of the field's size (`*/60`,
        # `*/24`) is taken: it says once an hour, once a day, and is so read
        if step.isdigit() and int(step) > values_count:
            raise ValueError(
                f"cron {quote(expression)}: {_FIELD_NAMES[position - 1]} field: "
                f"a step of {int(step)} is over its {values_count} values (it "
                "matches the first alone; an `every:` trigger takes any duration)"
            )
        # the values only: not a step (`/15`) nor the N of weekday#N, nor the W of
        # `15W` or `W15` (the weekday nearest the 15th), nor the L of a weekday's
        # `L5` (the last Friday)
        values = item.partition("/")[0].partition("#")[0]
        for text in values.split("-"):
            number = text.lower().removesuffix("w").removeprefix("w")
            if position == 5:
                number = number.removeprefix("l")
            if number.isdigit() and not low <= int(number) <= high:
                raise ValueError(
                    f"cron {quote(expression)}: {_FIELD_NAMES[position - 1]} field: "
                    f"{int(number)} is out of range ({low}-{high})"
                )


def _refuse_stepped_wrap(expression: str, position: int, field: str) -> None:
    """A range that wraps around with a step: refused, with the two ranges to write."""
    low, high = _FIELD_SPANS[position - 1]
    names = _NAMES[position - 1]
    for item in field.split(","):
        found = _STEPPED_RANGE.fullmatch(item)
        if found is None:
            continue
        start, end = (_value(text, names) for text in found.group(1, 2))
        step = int(found.group(3))
        if start is None or end is None or step <= 1:
            continue
        if position == 5:  # Sunday is 0 and 7: as a start the week's first day,
            # as an end its last (`1-7/2`, `WED-SUN/2` end on Sunday: no wrap)
            start, end = start % 7, end or 7
        if start <= end:
            continue  # no wrap
        last = start + step * ((high - start) // step)
        again = last + step - (high - low + 1)
        write = f"{start}-{high}/{step}" + (
            f",{again}-{end}/{step}" if again <= end else ""
        )
        raise ValueError(
            f"cron {quote(expression)}: {_FIELD_NAMES[position - 1]} field: a range "
            f"that wraps around takes no step ({quote(item)}); write {write}"
        )


def _value(text: str, names: dict[str, int]) -> int | None:
    if text.isdigit():
        return int(text)
    return names.get(text.lower())


def _said(reason: str, expression: str) -> str:
    """croniter's reason in raspy's words (it writes `[expr] ... field 0 ...`,
    counting fields from 0, and lowers the expression's case)."""
    if "failed to find next date" in reason:
        return "it never matches a date (such as 31 February)"
    for pattern, words in ((_STEP, "step"), (_BANDS, "range")):
        found = pattern.search(reason)
        if found is not None and int(found.group(2)) < len(_FIELD_NAMES):
            field = _FIELD_NAMES[int(found.group(2))]
            return f"{field} field: {words} {quote(found.group(1))} is not allowed"
    if "Invalid day_of_week value" in reason and "#" in expression:
        return "in weekday#N, N is 1-5 (the first to the fifth of the month)"
    for prefix in (f"[{expression}]", f"[{expression.lower()}]"):
        reason = reason.removeprefix(prefix)
    reason = reason.strip()
    if reason == "is not acceptable":  # croniter names no field
        return _NOT_READ
    return reason or "not a cron expression"


_NOT_READ: Final = (
    "a field is not read: use numbers, ranges (1-5), lists (1,3), steps (*/15), "
    "names (jan, mon), `L` for the last day, `1#2` for the second Monday"
)
