"""Local wall-clock labels and the instants they stand for: the DST rule in one place.

A label is a naive datetime read on the wall clock of a timezone (`02:30 on 29 March`).
Most labels name one instant; around a DST change a label names none (the spring gap)
or two (the autumn repeat). `resolve` turns a label into the one instant at which a
time trigger fires:

- a label in a gap resolves to the first instant after the gap (the transition itself:
  02:30 in Europe/Berlin on the spring day is 03:00 CEST);
- a repeated label resolves to its first occurrence (the one before the clocks go back).

Pure: no clock is read here; the timezone is passed in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

# Far beyond any UTC offset change: a gap is at most a few hours wide.
_SEARCH_SPAN_S: Final = 2 * 86_400


def label_of(wall_ts: float, tz: ZoneInfo) -> datetime:
    """The naive local label of the instant `wall_ts` (epoch s) in `tz`."""
    return datetime.fromtimestamp(wall_ts, tz).replace(tzinfo=None, fold=0)


def _instant(label: datetime, tz: ZoneInfo, fold: int) -> float:
    return label.replace(tzinfo=tz, fold=fold).timestamp()


def _offset_at(ts: float, tz: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(ts, tz).utcoffset()


def resolve(label: datetime, tz: ZoneInfo) -> float:
    """The instant (epoch s) at which a trigger for the local `label` fires.

    A repeated label gives its first occurrence; a label in a gap gives the first
    instant after the gap. `label` must be naive.
    """
    if label.tzinfo is not None:
        raise ValueError(f"expected a naive local label, got {label.isoformat()}")
    first = _instant(label, tz, 0)
    if label_of(first, tz) == label:
        # PEP 495: fold=0 of a repeated label is its earlier occurrence.
        return min(first, _instant(label, tz, 1))
    return _gap_end(label, tz)


def _gap_end(label: datetime, tz: ZoneInfo) -> float:
    """The transition instant that ends the gap containing `label`.

    fold=1 reads the label with the offset after the change and fold=0 with the one
    before, so the transition lies between the two readings; bisect on whole seconds
    (transitions in the tz database fall on whole seconds).
    """
    low = _instant(label, tz, 1)
    high = _instant(label, tz, 0)
    if high <= low:  # a negative jump seen as a gap: not a gap after all
        low, high = high, low
    low = float(int(low) - 1)
    high = float(int(high) + 1)
    if high - low > _SEARCH_SPAN_S:  # pragma: no cover - no tz has such a gap
        raise ValueError(f"no transition found around {label.isoformat()} in {tz}")
    after = _offset_at(high, tz)
    while high - low > 1:
        middle = float(int((low + high) / 2))
        if _offset_at(middle, tz) == after:
            high = middle
        else:
            low = middle
    return high


def iso_local(wall_ts: float, tz: ZoneInfo) -> str:
    """ISO-8601 text of `wall_ts` in `tz` with its offset, to the second."""
    moment = datetime.fromtimestamp(wall_ts, UTC).astimezone(tz)
    return moment.isoformat(timespec="seconds")
