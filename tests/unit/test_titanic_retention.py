"""Titanic's retention against a wall clock that steps: a request ages on the
monotonic clock, and a stored one taken back at start-up by its stamp only when the
stamp and the clock both look set (raspy/cores/titanic_retention.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.titanic_core_calls import (
    CALLER,
    CLOSER,
    REPLIER,
    SVC,
    WALL,
    make_core,
    only,
    persist_of,
    uuid_of,
)

from raspy.cores.titanic import (
    Answer,
    AnswerStored,
    DeleteRequest,
    Output,
    Persist,
    StoredRequest,
    TitanicCore,
)
from raspy.cores.titanic_retention import CLOCK_SET_FLOOR, stored_age

pytestmark = pytest.mark.timeout(30)

DAY = 86400.0
BOOT_WALL = 120.0  # a Pi without a battery clock, before NTP
NTP_WALL = 1.765e9


def status(core: TitanicCore, uuid: str, now: float) -> object:
    (out,) = core.on_reply_query(REPLIER, [uuid.encode()], now)
    if isinstance(out, AnswerStored):
        return b"200"
    assert isinstance(out, Answer)
    return out.body[0]


def accepted(core: TitanicCore, wall: float, now: float) -> str:
    """A request made at `wall`, its commit reported at monotonic `now`."""
    persist = persist_of(core.on_request(CALLER, [SVC, b"x"], wall))
    (answer,) = only(core.on_committed(persist.token, True, now), Answer)
    assert isinstance(answer, Answer)
    assert answer.body[0] == b"200"
    return answer.body[1].decode()


def purged(outputs: Sequence[Output]) -> list[str]:
    return [
        write.uuid
        for out in outputs
        if isinstance(out, Persist)
        for write in out.writes
        if isinstance(write, DeleteRequest)
    ]


def test_a_request_accepted_before_the_clock_was_set_is_kept_after_ntp() -> None:
    """Accepted at 1970 + 2 min; NTP sets the clock ten seconds later: it is kept
    for retention_s of real time from its acceptance, not purged at once."""
    core = make_core(retention_s=DAY)
    core.load([], [], 0.0, BOOT_WALL)
    uuid = accepted(core, BOOT_WALL, 1.0)
    assert status(core, uuid, 11.0) == b"300"
    assert purged(core.on_tick(12.0, NTP_WALL)) == []
    assert status(core, uuid, 1.0 + DAY - 1) == b"300"
    assert purged(core.on_tick(1.0 + DAY - 1, NTP_WALL + DAY)) == []
    assert status(core, uuid, 1.0 + DAY) == b"400"
    assert purged(core.on_tick(1.0 + DAY, NTP_WALL + DAY)) == [uuid]


def test_a_clock_set_back_neither_purges_early_nor_keeps_for_longer() -> None:
    core = make_core(retention_s=DAY)
    core.load([], [], 0.0, WALL)
    uuid = accepted(core, WALL, 0.0)
    # a clock set a year ahead, then back: neither is real time
    assert purged(core.on_tick(1.0, WALL + 365 * DAY)) == []
    assert purged(core.on_tick(2.0, WALL - 365 * DAY)) == []
    assert status(core, uuid, DAY - 1) == b"300"
    assert purged(core.on_tick(DAY, WALL - 365 * DAY)) == [uuid]


def closed(core: TitanicCore, uuid: str, now: float) -> None:
    persist = persist_of(core.on_close(CLOSER, [uuid.encode()]))
    (answer,) = only(core.on_committed(persist.token, True, now), Answer)
    assert answer == Answer(CLOSER, (b"200",))


def test_a_closed_request_leaves_nothing_in_retention_for_the_rest_of_its_time() -> (
    None
):
    """Every closed request stayed in the expiry heap until its retention ended:
    memory grew with the rate of requests times retention_s, past the quota."""
    core = make_core(retention_s=DAY, pending_requests=10)
    core.load([], [], 0.0, WALL)
    kept = accepted(core, WALL, 0.0)
    for n in range(1, 2001):
        closed(core, accepted(core, WALL + n, float(n)), float(n))
    assert core.known_count() == 1
    assert core.heap_items()["retention"] <= 100  # not one item per request seen
    assert purged(core.on_tick(DAY - 1, WALL + DAY)) == []
    assert purged(core.on_tick(DAY, WALL + DAY)) == [kept]


def test_titanic_wakes_for_retention_only_when_a_request_is_due() -> None:
    """A request a day from its end woke Titanic every retention_check_s."""
    core = make_core(retention_s=DAY)
    core.load([], [], 0.0, WALL)
    uuid = accepted(core, WALL, 0.0)
    assert purged(core.on_tick(0.0, WALL)) == []
    assert core.next_deadline() == DAY
    closed(core, uuid, 5.0)
    assert core.next_deadline() is None


def load_one(core: TitanicCore, created: float, wall: float, now: float) -> str:
    """Start with one stored request, done (its reply stored), made at `created`."""
    stored = [StoredRequest(uuid_of(7), SVC, (b"x",), created)]
    assert core.load(stored, [], now, wall) == []
    return uuid_of(7)


def test_a_restart_keeps_a_stored_requests_age_when_the_clocks_look_set() -> None:
    core = make_core(retention_s=DAY)
    uuid = load_one(core, WALL - DAY + 100, WALL, 500.0)
    assert status(core, uuid, 599.0) == b"200"
    assert purged(core.on_tick(599.0, WALL + 99)) == []
    assert status(core, uuid, 600.0) == b"400"
    assert purged(core.on_tick(600.0, WALL + 100)) == [uuid]


def test_a_restart_purges_at_once_what_was_old_enough_before_it() -> None:
    core = make_core(retention_s=DAY)
    uuid = load_one(core, WALL - 3 * DAY, WALL, 500.0)
    assert status(core, uuid, 500.0) == b"400"
    assert purged(core.on_tick(500.0, WALL)) == [uuid]


@pytest.mark.parametrize(
    ("created", "wall"),
    [
        (BOOT_WALL, WALL),  # stamped before NTP, taken back after it
        (WALL, BOOT_WALL),  # taken back before NTP (the clock from 1970)
        (WALL + 30 * DAY, WALL),  # stamped ahead: the clock was set back since
        (WALL, WALL - 30 * DAY),  # the clock from the last shutdown, behind
        (math.nan, WALL),  # not a time at all
    ],
)
def test_a_restart_ages_a_stamp_it_cannot_trust_from_the_start(
    created: float, wall: float
) -> None:
    """Never as very old: it gets retention_s of real time from the start."""
    core = make_core(retention_s=DAY)
    uuid = load_one(core, created, wall, 500.0)
    assert purged(core.on_tick(500.0, wall)) == []
    assert status(core, uuid, 500.0 + DAY - 1) == b"200"
    assert purged(core.on_tick(500.0 + DAY - 1, wall + DAY)) == []
    assert purged(core.on_tick(500.0 + DAY, wall + DAY)) == [uuid]


def test_the_floor_is_a_date_before_any_raspy_and_after_1970() -> None:
    assert stored_age(CLOCK_SET_FLOOR, CLOCK_SET_FLOOR + 5) == 5
    assert stored_age(CLOCK_SET_FLOOR - 1, CLOCK_SET_FLOOR + 5) == 0
    assert stored_age(WALL, WALL - 1) == 0
    assert stored_age(WALL, math.inf) == 0
    assert stored_age(math.nan, WALL) == 0


times = st.floats(allow_nan=True, allow_infinity=True) | st.floats(
    CLOCK_SET_FLOOR - DAY, CLOCK_SET_FLOOR + 10 * 365 * DAY
)


@given(created=times, wall=times)
def test_a_stored_age_is_never_more_than_both_clocks_say(
    created: float, wall: float
) -> None:
    """The age by the stamps is finite, at least 0, never more than the stamps'
    difference, and 0 whenever either stamp is from before the clock was set."""
    age = stored_age(created, wall)
    assert math.isfinite(age)
    assert age >= 0
    if age > 0:
        assert age <= wall - created
    if not created >= CLOCK_SET_FLOOR or not wall >= CLOCK_SET_FLOOR:
        assert age == 0


@given(
    created=times,
    wall=times,
    now=st.floats(0, 1e9),
    retention=st.sampled_from([1.0, 60.0, DAY, 365 * DAY]),
)
def test_a_request_taken_back_is_purged_within_retention_of_the_start(
    created: float, wall: float, now: float, retention: float
) -> None:
    """A stored request is kept at least retention_s less its trusted age after a
    start, and never beyond retention_s after it, whatever the stamps say."""
    core = make_core(retention_s=retention)
    uuid = load_one(core, created, wall, now)
    ends = now + retention - stored_age(created, wall)
    assert core.next_deadline() == max(now, ends)  # at once, if old enough
    before = ends - max(1e-6 * abs(ends), 1e-3)
    if before >= now:
        assert status(core, uuid, before) == b"200"
    assert status(core, uuid, max(ends, now)) == b"400"
    assert status(core, uuid, now + retention) == b"400"
