"""Five-field cron expressions: parse once, then the next fire after an instant.

croniter does the calendar arithmetic on naive local labels only; the labels are
turned into instants by `timing_local.resolve`, which carries the DST rule. Given a
timezone-aware start, croniter 7 itself fires a repeated autumn hour twice (02:00 CEST
and 02:00 CET), which that rule forbids, so it is never given one. Pure, no clock.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

from raspy.errors import quote
from raspy.rules.timing_local import label_of, resolve

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
_PROBE_START: Final = datetime(2001, 1, 1)  # noqa: DTZ001 - a naive local label


# Building a croniter parses the expression (about 4/5 of a next_after); each thread
# keeps the ones it used and only moves them to a new start. Bounded: cleared when full.
_CACHE_LIMIT: Final = 1024
_per_thread = threading.local()


def _labels_from(expression: str, start: datetime) -> croniter:
    """A croniter over naive labels, positioned at `start` (this thread's own)."""
    cache: dict[str, croniter] | None = getattr(_per_thread, "iterators", None)
    if cache is None:
        cache = _per_thread.iterators = {}
    labels = cache.get(expression)
    if labels is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        labels = cache[expression] = croniter(expression, start)
    else:
        labels.set_current(start, force=True)
    return labels


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed cron expression (local time of whatever timezone is passed in)."""

    expression: str

    def next_after(self, after_ts: float, tz: ZoneInfo) -> float:
        """The first fire strictly after `after_ts` (epoch s), per the DST rule.

        Raises ValueError if none is found (only for instants near year 9999).
        """
        try:
            labels = _labels_from(self.expression, label_of(after_ts, tz))
            for _ in range(_MAX_SKIPPED_LABELS):
                fire = resolve(labels.get_next(datetime), tz)
                if fire > after_ts:
                    return fire
        except (CroniterError, OverflowError, ValueError) as exc:
            raise ValueError(f"cron {quote(self.expression)}: {exc}") from exc
        raise ValueError(f"cron {quote(self.expression)}: no fire after {after_ts}")

    def matches(self, label: datetime) -> bool:
        """Whether the naive local `label` (to the minute) is one of the schedule's."""
        return bool(croniter.match(self.expression, label))


def parse_cron(text: str) -> CronSchedule:
    """The schedule of a five-field cron expression or an alias such as `@daily`.

    Raises ValueError with a one-line reason for anything else, including an
    expression that never matches (`0 0 31 2 *`).
    """
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
            raise ValueError(f"cron: unknown alias {quote(expression)}; use {aliases}")
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
    try:
        croniter(expression, _PROBE_START).get_next(datetime)
    except (CroniterError, OverflowError, ValueError, KeyError, IndexError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ValueError(f"cron {quote(expression)}: {quote(reason)}") from exc
    return CronSchedule(expression)
