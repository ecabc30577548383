"""Hypothesis on raspy.rules.timing: parse_cron gives a schedule or ValueError, nothing
else; a schedule's next fire is after the instant, a match in local time (or the end of
the gap that swallowed one) and the first such; whatever the clock does, the
scheduler fires no key twice for one instant (save after a step back of over 3 h)
and never leaves a key waiting for the old time to come back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from raspy.rules.model import (
    AtTrigger,
    CronTrigger,
    EveryTrigger,
    SunEvent,
    SunTrigger,
    TimeTrigger,
)
from raspy.rules.timing import (
    ClockJumped,
    CronSchedule,
    Fired,
    SunLocation,
    TimeScheduler,
    label_of,
    parse_cron,
    resolve,
)
from raspy.rules.timing_scheduler import REPEAT_GUARD_S

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # a 30-minute DST change
    "Asia/Kolkata",
    "UTC",
]
INSTANTS = st.floats(
    min_value=datetime(2000, 1, 1, tzinfo=UTC).timestamp(),
    max_value=datetime(2060, 1, 1, tzinfo=UTC).timestamp(),
)


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high).map(str)
    ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda pair: f"{min(pair)}-{max(pair)}"
    )
    steps = st.integers(1, min(9, high - low + 1))  # a longer one is refused
    stepped = st.tuples(st.sampled_from(["*", f"{low}-{high}"]), steps).map(
        lambda pair: f"{pair[0]}/{pair[1]}"
    )
    single = st.one_of(st.just("*"), number, ranged, stepped)
    return st.lists(single, min_size=1, max_size=3).map(",".join)


CRON = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12), _field(0, 6)
).map(" ".join)
CRON_ALPHABET = st.text(
    alphabet="0123456789*/,-# @LW?abcdefhijlmnorstuvwy\t", max_size=40
)


@given(st.one_of(st.text(max_size=60), CRON_ALPHABET, CRON))
def test_parse_cron_gives_a_schedule_or_a_value_error(text: str) -> None:
    problem = ""
    try:
        schedule = parse_cron(text)
    except ValueError as exc:
        problem = str(exc)
    if problem:
        assert problem.startswith("cron")
        assert "\n" not in problem
    else:
        assert isinstance(schedule, CronSchedule)


def _gap_labels(fire: float, tz: ZoneInfo) -> list[datetime]:
    """The labels skipped by a spring change ending at `fire` (none otherwise)."""
    before, after = label_of(fire - 1, tz), label_of(fire, tz)
    gap_start = before + timedelta(seconds=1)
    labels, label = [], gap_start
    while label < after:
        labels.append(label)
        label += timedelta(minutes=1)
    return labels


@settings(max_examples=100)
@given(CRON, INSTANTS, st.sampled_from(ZONES))
@example("* * * * *", 2374671540.0, "Australia/Lord_Howe")  # in its 30-minute fold
def test_next_after_is_later_and_a_local_match_or_the_end_of_its_gap(
    expression: str, after: float, zone: str
) -> None:
    tz = ZoneInfo(zone)
    schedule = parse_cron(expression)
    fire = schedule.next_after(after, tz)
    assert fire > after
    label = label_of(fire, tz)
    assert label.second == 0
    matched = schedule.matches(label) or any(
        schedule.matches(skipped) for skipped in _gap_labels(fire, tz)
    )
    assert matched
    if schedule.repeats_with_the_clock:  # `*` minute or hour: both passes of a fold
        assert fire in {
            label.replace(tzinfo=tz, fold=fold).timestamp() for fold in (0, 1)
        }
    else:
        assert resolve(label, tz) == fire  # a first occurrence, never a repeat
    # The first one: no earlier instant after `after` fires (checked when near).
    if fire - after <= 6 * 3600:
        minute = (int(after) // 60 + 1) * 60
        while minute < fire:
            earlier = label_of(minute, tz)
            if schedule.matches(earlier):
                assert resolve(earlier, tz) != minute
            minute += 60


@settings(max_examples=25)
@given(
    st.sampled_from(["*/10 * * * *", "0 * * * *", "*/7 1-3 * * *", "30 1,2 * * *"]),
    INSTANTS,
    st.sampled_from(ZONES),
)
def test_without_jumps_the_scheduler_fires_exactly_the_schedule(
    expression: str, start: float, zone: str
) -> None:
    tz = ZoneInfo(zone)
    scheduler = TimeScheduler(tz)
    scheduler.add("job", CronTrigger(expression), start, 0.0)
    expected, at = [], start
    end = start + 86_400
    schedule = parse_cron(expression)
    while (at := schedule.next_after(at, tz)) <= end:
        expected.append(at)
    fired: list[float] = []
    now = start
    while now < end:
        deadline = scheduler.next_deadline_mono()
        assert deadline is not None
        now = min(start + deadline, end)
        for output in scheduler.due(now, now - start):
            assert isinstance(output, Fired)
            fired.append(output.scheduled_wall_ts)
    assert fired == expected


TRIGGERS: list[TimeTrigger] = [
    CronTrigger("* * * * *"),
    CronTrigger("0 * * * *"),
    CronTrigger("30 2 * * *"),
    AtTrigger(2 * 3600 + 1800),
    EveryTrigger(45.0),
    SunTrigger(SunEvent.SUNSET, -900.0),
]
# How far ahead of the wall clock each key's next fire may be: its period, plus the
# guard against repeating an instant after a step back of up to 3 h.
LONGEST_WAITS_S = [
    REPEAT_GUARD_S + 60,
    REPEAT_GUARD_S + 3600,
    REPEAT_GUARD_S + 86_400 + 3600,
    REPEAT_GUARD_S + 86_400 + 3600,
    45.0 + 1.0,  # slews under 1 ms are not followed: 60 of them add < 0.06 s
    REPEAT_GUARD_S + 2 * 86_400,
]
EVERY_KEY = "k4"  # follows real time: its grid moves with a step
# fixed times: a time skipped by a step forward of up to 3 h fires late, once
CATCHING_KEYS = frozenset({"k2", "k3", "k5"})
STEP = st.tuples(
    st.floats(min_value=0.0, max_value=5000.0),  # monotonic progress
    st.one_of(
        st.just(0.0),
        st.floats(min_value=-0.5, max_value=0.5),  # slew, under the threshold
        st.floats(min_value=-200_000.0, max_value=200_000.0),  # a step
    ),
)


@settings(max_examples=150)
@given(INSTANTS, st.sampled_from(ZONES), st.lists(STEP, max_size=60))
@example(946_684_800.0, "Europe/Berlin", [(0.0, -0.5)] * 3)  # slews added up
# 02:30 fired, then at 04:20 the clock set back 4 h (a wrong clock set right): the
# 02:30 lies 2 h 10 ahead, and comes again at 02:30
@example(946_684_800.0, "Europe/Berlin", [(4000.0, 0.0)] * 3 + [(0.0, -14_400.0)]
         + [(4000.0, 0.0)] * 3)  # fmt: skip
# the same in two steps back of 2 h, each under the guard
@example(946_684_800.0, "Europe/Berlin", [(4000.0, 0.0)] * 3 + [(0.0, -7200.0)] * 2
         + [(4000.0, 0.0)] * 3)  # fmt: skip
# the same after slews back of 20 s and a step back of 10 s under 3 h: 3 h in all
@example(946_684_800.0, "Europe/Berlin", [(4000.0, 0.0)] * 3 + [(0.0, -0.5)] * 40
         + [(0.0, -10_790.0)] + [(4000.0, 0.0)] * 3)  # fmt: skip
# 00:00 to 02:00, then a step of 1 h over 02:30 (caught up), then a step of 5 h
# over the next day's (not)
@example(946_684_800.0, "Europe/Berlin", [(3600.0, 0.0)] * 2 + [(0.0, 3600.0)]
         + [(3600.0, 0.0)] * 21 + [(0.0, 18_000.0)])  # fmt: skip
def test_under_clock_jumps_no_key_repeats_an_instant_nor_waits_for_the_old_time(
    start: float, zone: str, steps: list[tuple[float, float]]
) -> None:
    tz = ZoneInfo(zone)
    scheduler = TimeScheduler(tz, SunLocation(52.52, 13.40, tz))
    for index, trigger in enumerate(TRIGGERS):
        scheduler.add(f"k{index}", trigger, start, 0.0)
    wall, mono = start, 0.0
    last: dict[str, float] = {}
    offsets: dict[str, float] = {}  # the clock's (wall - mono) at a key's last fire
    for progress, jump in steps:
        mono += progress
        unjumped = wall + progress
        wall = unjumped + jump
        upcoming_before = {key: scheduler.next_wall(key) for key in CATCHING_KEYS}
        outputs = scheduler.due(wall, mono)
        jumped = bool(outputs) and isinstance(outputs[0], ClockJumped)
        catching_up = jumped and 0 < jump <= REPEAT_GUARD_S
        keys = [o.key for o in outputs if isinstance(o, Fired)]
        assert len(keys) == len(set(keys))  # an overdue key fires once per call
        for output in outputs:
            if isinstance(output, ClockJumped):
                continue
            # Slots reached only by a step are never fired late, but for a fixed
            # time skipped by a step forward of up to 3 h (by the new clock)
            reached = output.scheduled_wall_ts <= (unjumped if jumped else wall)
            skipped = catching_up and output.key in CATCHING_KEYS
            assert reached or (skipped and output.scheduled_wall_ts <= wall)
            previous = last.get(output.key)
            assert previous is None or output.scheduled_wall_ts > previous
            last[output.key] = output.scheduled_wall_ts
            offsets[output.key] = (unjumped if reached and jumped else wall) - mono
        for key, upcoming in upcoming_before.items():  # each skipped one is made up
            if catching_up and upcoming is not None and unjumped < upcoming <= wall:
                assert key in keys
        if jumped:  # what a key must not repeat after the step: a calendar key
            # forgets a fire the clock was set back more than 3 h from since, slews
            # too (a wrong clock set right: it comes again)
            last = {
                key: at + jump if key == EVERY_KEY else at
                for key, at in last.items()
                if key == EVERY_KEY or (wall - mono) - offsets[key] >= -REPEAT_GUARD_S
            }
        deadline = scheduler.next_deadline_mono()
        assert deadline is not None
        assert deadline <= mono + 60.0
        for index, longest_wait_s in enumerate(LONGEST_WAITS_S):
            upcoming = scheduler.next_wall(f"k{index}")
            assert upcoming is not None
            assert upcoming - wall <= longest_wait_s  # never stalled by a step back
