"""The recorder core: raw points and buckets, rollover in place, the row bound."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.history.intake import sample_value
from raspy.history.recorder import Bucket, Lookup, Recorder, RowId
from raspy.history.tiers import Tier, max_rows, parse_tiers

_KEY = "/device/pi.fake.attic/value"
_T0 = 1_780_012_800.0  # a fixed epoch, a multiple of every step here
_SMALL = (Tier(10, 60, raw=True), Tier(60, 600, raw=False))  # 6 and 10 slots


def _nothing_stored(rows: Sequence[RowId]) -> list[Bucket | None]:
    return [None] * len(rows)


def _lookup(table: Mapping[RowId, Bucket]) -> Lookup:
    """The rows of `table`, as the store's one read answers them."""
    return lambda rows: [table.get(row) for row in rows]


def test_raw_keeps_the_latest_sample_of_a_step_and_buckets_aggregate() -> None:
    recorder = Recorder(_SMALL)
    for offset, value in ((0, 20.0), (4, 22.0), (10, 18.0), (30, 25.0)):
        recorder.record(_KEY, _T0 + offset, value, _nothing_stored)
    assert recorder.take_pending() == [
        (RowId(_KEY, 10, 0), Bucket.of(_T0 + 4, 22.0)),
        (RowId(_KEY, 10, 1), Bucket.of(_T0 + 10, 18.0)),
        (RowId(_KEY, 10, 3), Bucket.of(_T0 + 30, 25.0)),
        (RowId(_KEY, 60, 0), Bucket(_T0, 4, 85.0, 18.0, 25.0)),
    ]
    assert recorder.take_pending() == []


def test_a_bucket_rolls_over_into_the_next_slot_and_wraps_in_place() -> None:
    recorder = Recorder(_SMALL)
    recorder.record(_KEY, _T0 + 59, 1.0, _nothing_stored)
    recorder.record(_KEY, _T0 + 60, 2.0, _nothing_stored)
    recorder.record(_KEY, _T0 + 600, 3.0, _nothing_stored)  # one lap later: slot 0
    rows = dict(recorder.take_pending())
    assert {row: b for row, b in rows.items() if row.step_s == 60} == {
        RowId(_KEY, 60, 0): Bucket(_T0 + 600, 1, 3.0, 3.0, 3.0),
        RowId(_KEY, 60, 1): Bucket(_T0 + 60, 1, 2.0, 2.0, 2.0),
    }


def test_a_bucket_half_filled_before_a_restart_goes_on_from_the_stored_row() -> None:
    stored = {RowId(_KEY, 60, 0): Bucket(_T0, 3, 30.0, 9.0, 11.0)}
    recorder = Recorder(_SMALL)
    recorder.record(_KEY, _T0 + 40, 13.0, _lookup(stored))
    assert dict(recorder.take_pending())[RowId(_KEY, 60, 0)] == Bucket(
        _T0, 4, 43.0, 9.0, 13.0
    )


def test_a_stored_row_of_an_older_lap_is_not_merged() -> None:
    stored = {RowId(_KEY, 60, 0): Bucket(_T0 - 600, 3, 30.0, 9.0, 11.0)}
    recorder = Recorder(_SMALL)
    recorder.record(_KEY, _T0 + 40, 13.0, _lookup(stored))
    assert dict(recorder.take_pending())[RowId(_KEY, 60, 0)] == Bucket.of(_T0, 13.0)


def test_a_sample_whose_slot_holds_a_later_step_is_dropped_and_counted() -> None:
    """The raw slot of T0 + 5 (6 slots of 10 s) holds T0 + 120 already: it keeps
    it. The minute tier's slot of T0 is free: the sample goes there."""
    recorder = Recorder(_SMALL)
    recorder.record(_KEY, _T0 + 120, 1.0, _nothing_stored)
    recorder.record(_KEY, _T0 + 5, 2.0, _nothing_stored)
    recorder.record(_KEY, _T0 + 121, float("nan"), _nothing_stored)
    assert recorder.dropped == 2  # the raw tier of the old one, and the NaN
    assert [b for _, b in recorder.take_pending()] == [
        Bucket.of(_T0 + 120, 1.0),
        Bucket.of(_T0, 2.0),
        Bucket.of(_T0 + 120, 1.0),
    ]


def test_a_clock_far_behind_never_overwrites_newer_raw_points() -> None:
    """A Pi restarted at its build date, before NTP: its first sample's raw slot
    holds an older lap and takes it, the next ones' slots hold points an hour
    newer. Each was written over them (the raw tier looked a slot up only when its
    open bucket was later than the sample), uncounted; now each slot keeps its
    newer point and the sample is counted as dropped."""
    newer = _T0 + 3600
    table = {RowId(_KEY, 10, 0): Bucket.of(_T0 - 60, 5.0)}  # an older lap
    table |= {
        RowId(_KEY, 10, slot): Bucket.of(newer + 10 * slot, 7.0) for slot in range(1, 6)
    }
    recorder = Recorder(_SMALL)
    for i in range(6):
        recorder.record(_KEY, _T0 + 5 + 10 * i, 1.0, _lookup(table))
    rows = dict(recorder.take_pending())
    assert recorder.dropped == 5
    assert rows[RowId(_KEY, 10, 0)] == Bucket.of(_T0 + 5, 1.0)
    assert all(RowId(_KEY, 10, slot) not in rows for slot in range(1, 6))
    assert rows[RowId(_KEY, 60, 0)] == Bucket(_T0, 6, 6.0, 1.0, 1.0)  # was free


def test_after_the_clock_steps_back_the_samples_are_recorded_at_their_time() -> None:
    """NTP steps a clock that ran 35 s ahead back: the samples after it are kept in
    their own steps (they were all dropped until the clock caught up)."""
    recorder = Recorder(_SMALL)
    recorder.record(_KEY, _T0 + 120, 1.0, _nothing_stored)
    recorder.record(_KEY, _T0 + 85, 2.0, _nothing_stored)
    recorder.record(_KEY, _T0 + 95, 4.0, _nothing_stored)
    assert recorder.dropped == 0
    assert dict(recorder.take_pending()) == {
        RowId(_KEY, 10, 0): Bucket.of(_T0 + 120, 1.0),
        RowId(_KEY, 10, 2): Bucket.of(_T0 + 85, 2.0),
        RowId(_KEY, 10, 3): Bucket.of(_T0 + 95, 4.0),
        RowId(_KEY, 60, 1): Bucket(_T0 + 60, 2, 6.0, 2.0, 4.0),
        RowId(_KEY, 60, 2): Bucket.of(_T0 + 120, 1.0),
    }


def test_after_the_clock_steps_back_a_stored_bucket_of_the_step_goes_on() -> None:
    stored = {
        RowId(_KEY, 60, 1): Bucket(_T0 + 60, 2, 20.0, 9.0, 11.0),
        RowId(_KEY, 60, 0): Bucket(_T0 + 600, 1, 5.0, 5.0, 5.0),  # a later lap
    }
    recorder = Recorder(_SMALL)
    recorder.record(_KEY, _T0 + 150, 1.0, _lookup(stored))
    recorder.record(_KEY, _T0 + 70, 13.0, _lookup(stored))
    recorder.record(_KEY, _T0 + 20, 3.0, _lookup(stored))
    assert recorder.dropped == 1  # the minute of T0: its slot holds T0 + 600's
    rows = dict(recorder.take_pending())
    assert rows[RowId(_KEY, 60, 1)] == Bucket(_T0 + 60, 3, 33.0, 9.0, 13.0)
    assert RowId(_KEY, 60, 0) not in rows
    assert rows[RowId(_KEY, 10, 2)] == Bucket.of(_T0 + 20, 3.0)


def test_a_huge_value_is_skipped_and_sums_stay_finite() -> None:
    """1e308 twice summed to infinity: the bucket could be neither stored nor
    answered (the service raised on it)."""
    recorder = Recorder(_SMALL)
    for i, value in enumerate((1e308, -1e308, 1e200, 1e200)):
        recorder.record(_KEY, _T0 + 10 * i, value, _nothing_stored)
    assert recorder.dropped == 2
    rows = dict(recorder.take_pending())
    assert rows[RowId(_KEY, 60, 0)] == Bucket(_T0, 2, 2e200, 1e200, 1e200)


def test_a_keys_rows_never_exceed_the_bound_whatever_the_uptime() -> None:
    """Three simulated years, a sample every 30 minutes, flushed daily, with tiers
    scaled to that rate (the arithmetic is the same): the rows stay within the sum
    of the slots, every slot is rewritten in place, the newest buckets are whole."""
    tiers = parse_tiers(("30m:1d", "2h:30d", "1d:1y"))
    recorder = Recorder(tiers)
    table: dict[RowId, Bucket] = {}
    t = _T0
    for _day in range(3 * 365):
        for sample in range(48):
            recorder.record(
                _KEY, t + sample * 1800 + 7, float(sample % 4), _lookup(table)
            )
        table.update(recorder.take_pending())
        t += 86400
    assert len(table) == max_rows(tiers) == 48 + 360 + 365
    newest = {
        step: max(b.t for r, b in table.items() if r.step_s == step)
        for step in (1800, 7200, 86400)
    }
    assert newest == {1800: t - 1800 + 7, 7200: t - 7200, 86400: t - 86400}
    two_hourly = {
        (b.count, b.total, b.low, b.high) for r, b in table.items() if r.step_s == 7200
    }
    assert two_hourly == {(4, 6.0, 0.0, 3.0)}


def test_a_value_of_more_digits_than_a_float_holds_is_no_sample() -> None:
    """float() of a 400-digit integer (any Clone client may write one to a
    device's /value) raised OverflowError out of the history actor's turn. It
    reads as an infinity, as 1e400 does, which the recorder counts and drops."""
    value = sample_value(b"9" * 400)
    assert value == math.inf
    recorder = Recorder(parse_tiers(("10s:48h",)))
    recorder.record("/device/x/value", 1_800_000_000.0, value, _nothing_stored)
    assert recorder.dropped == 1


def test_after_the_clock_steps_back_every_bucket_it_lives_again_goes_on() -> None:
    """A clock 100 s ahead is stepped back at T0 + 175: the minutes of T0 + 60 and
    T0 + 120 are lived twice. Both buckets go on from where they were (docs/
    history.md, "The clock"); the second was started anew, its samples from before
    the step lost, because the open bucket (T0 + 60's) was older than it."""
    recorder = Recorder((Tier(10, 300, raw=True), Tier(60, 600, raw=False)))
    table: dict[RowId, Bucket] = {}
    for offset in range(0, 180, 10):  # before the step: 6 samples a minute
        recorder.record(_KEY, _T0 + offset, 1.0, _lookup(table))
    table.update(recorder.take_pending())  # a flush between, as every 5 minutes
    for offset in range(80, 180, 10):  # after it: 4 + 6 samples again
        recorder.record(_KEY, _T0 + offset, 2.0, _lookup(table))
    table.update(recorder.take_pending())
    assert recorder.dropped == 0
    assert table[RowId(_KEY, 60, 1)] == Bucket(_T0 + 60, 10, 14.0, 1.0, 2.0)
    assert table[RowId(_KEY, 60, 2)] == Bucket(_T0 + 120, 12, 18.0, 1.0, 2.0)


def test_a_clock_stepped_back_never_writes_over_a_lap_written_since() -> None:
    """The raw tier's slots are read a window of steps at a time and kept up to
    date by what is written: T0's window says slot 0 holds T0's point. T0 + 120
    (one lap of 12 slots later) wrote over it, which the window, kept by step and
    not by slot, did not see: after a step back to T0 + 9 the stale entry let the
    older sample overwrite the newer point. The slot keeps it, the sample is
    dropped (the minute and 5-minute tiers of T0 hold T0's bucket: it goes on)."""
    tiers = (
        Tier(10, 120, raw=True),
        Tier(60, 600, raw=False),
        Tier(300, 3000, raw=False),
    )
    table: dict[RowId, Bucket] = {}
    recorder = Recorder(tiers)
    recorder.record(_KEY, _T0, 1.0, _lookup(table))
    recorder.record(_KEY, _T0 + 120, 2.0, _lookup(table))
    table.update(recorder.take_pending())  # a flush
    recorder.record(_KEY, _T0 + 9, 3.0, _lookup(table))
    table.update(recorder.take_pending())
    assert table[RowId(_KEY, 10, 0)] == Bucket.of(_T0 + 120, 2.0)
    assert recorder.dropped == 1
    assert table[RowId(_KEY, 60, 0)] == Bucket(_T0, 2, 4.0, 1.0, 3.0)


def _stepped_back(
    phase: float, shift: float, back_s: int
) -> tuple[Recorder, dict[RowId, Bucket], list[float]]:
    """Samples every 10 s at `phase` for an hour, a flush, then the clock steps back
    `back_s` and the samples go on at `phase + shift` for back_s + 60 s."""
    recorder = Recorder((Tier(10, 7200, raw=True), Tier(60, 14400, raw=False)))
    table: dict[RowId, Bucket] = {}
    before = [_T0 + phase + 10 * i for i in range(360)]
    for t in before:
        recorder.record(_KEY, t, 1.0, _lookup(table))
    table.update(recorder.take_pending())
    after = [before[-1] + 10 - back_s + shift + 10 * i for i in range(back_s // 10 + 6)]
    for t in after:
        recorder.record(_KEY, t, 2.0, _lookup(table))
    table.update(recorder.take_pending())
    return recorder, table, after


@pytest.mark.parametrize(("phase", "shift"), [(8.0, -5.0), (5.0, -3.0), (9.5, -9.0)])
def test_after_the_clock_steps_back_minutes_each_raw_step_keeps_the_newest(
    phase: float, shift: float
) -> None:
    """A sample whose raw step held a later point of the first pass (its seconds
    later in the step) was dropped, and the open bucket stayed on the future step,
    so every sample after it was dropped too, for the whole stretch lived again."""
    _check_newest_wins(*_stepped_back(phase, shift, 300))


def _check_newest_wins(
    recorder: Recorder, table: dict[RowId, Bucket], after: list[float]
) -> None:
    assert recorder.dropped == 0
    raw = Tier(10, 7200, raw=True)
    newest = {raw.start_of(t): t for t in after}  # the last sample of each step
    for start, t in newest.items():
        assert table[RowId(_KEY, 10, raw.slot_of(start))] == Bucket.of(t, 2.0)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(min_value=0, max_value=9.99),
    st.floats(min_value=-9.99, max_value=9.99),
    st.integers(min_value=2, max_value=90).map(lambda n: n * 10),
)
def test_after_the_clock_steps_back_no_phase_drops_a_sample(
    phase: float, shift: float, back_s: int
) -> None:
    _check_newest_wins(*_stepped_back(phase, shift, back_s))


class _Counted:
    """A lookup of `table` that counts its calls (the actor: one read txn each)."""

    def __init__(self, table: Mapping[RowId, Bucket]) -> None:
        self.table, self.calls, self.rows = table, 0, 0

    def __call__(self, rows: Sequence[RowId]) -> list[Bucket | None]:
        self.calls, self.rows = self.calls + 1, self.rows + len(rows)
        return [self.table.get(row) for row in rows]


def test_a_raw_step_costs_no_lookup_of_its_own_in_the_steady_state() -> None:
    """Each lookup is a read txn, which writes LMDB's reader slot on the SD card: a
    lookup per raw sample cost +1.5 MB/h (docs/PERFORMANCE.md). The raw tier's
    slots are read ahead with the next tier's own lookup: one a 5 minutes a key,
    the hour's row in the same, whatever the rate of the samples."""
    table: dict[RowId, Bucket] = {}
    lookup = _Counted(table)
    recorder = Recorder(parse_tiers(("10s:48h", "5m:30d", "1h:5y")))
    start = _T0 + 7  # a multiple of the hour, + 7 s
    for i in range(2 * 360):  # 2 hours, a sample every 10 s
        recorder.record(_KEY, start + 10 * i, 1.0, lookup)
        if i % 30 == 29:
            table.update(recorder.take_pending())
    assert lookup.calls == 24  # one per 5 minutes
    assert lookup.rows == 24 * 31 + 2  # 30 raw + the 5-minute row, the hours' rows
    assert recorder.dropped == 0


def test_a_clock_behind_meets_newer_raw_points_in_any_later_window() -> None:
    """The newer points a clock behind meets may lie many steps after its start
    (a Pi that ran an hour, restarted at its build date): they are kept in every
    window of steps read ahead, the flushes between change nothing."""
    tiers = (Tier(10, 600, raw=True), Tier(60, 6000, raw=False))  # 60 slots, 6 a read
    newer = _T0 + 6000  # ten laps of the raw tier later
    kept = {RowId(_KEY, 10, slot) for slot in (13, 14, 31, 47)}
    table = {row: Bucket.of(newer + 10 * row.slot, 7.0) for row in kept}
    lookup = _Counted(table)
    recorder = Recorder(tiers)
    for i in range(60):
        recorder.record(_KEY, _T0 + 10 * i + 3, 1.0, lookup)
        if i % 8 == 7:
            table.update(recorder.take_pending())
    table.update(recorder.take_pending())
    assert recorder.dropped == 4
    assert all(table[row] == Bucket.of(newer + 10 * row.slot, 7.0) for row in kept)
    raw = {row for row, b in table.items() if row.step_s == 10 and b.low == 1.0}
    assert len(raw) == 56
    assert lookup.calls == 10  # a read per minute, with the 1-minute tier's


def test_after_a_flush_read_ahead_the_step_changes_cost_no_lookup() -> None:
    """Wear: every lookup is a read txn, and each writes LMDB's reader slot page
    (lock.mdb) on the card. Read ahead right after each flush (one lookup, whose page
    the flush's commit has just written anyway), the step changes that follow read
    nothing of their own: here 2 hours of samples every 10 s, a flush every 5
    minutes at 2 minutes into each, cost the first sample's lookup and one a flush."""
    table: dict[RowId, Bucket] = {}
    lookup = _Counted(table)
    plain_table: dict[RowId, Bucket] = {}
    plain = Recorder(parse_tiers(("10s:48h", "5m:30d", "1h:5y")))
    recorder = Recorder(parse_tiers(("10s:48h", "5m:30d", "1h:5y")))
    start = _T0 + 7
    flushes = 0
    for i in range(2 * 360):
        t = start + 10 * i
        recorder.record(_KEY, t, float(i % 7), lookup)
        plain.record(_KEY, t, float(i % 7), _lookup(plain_table))
        if i % 30 == 12:
            table.update(recorder.take_pending())
            plain_table.update(plain.take_pending())
            recorder.read_ahead(t, lookup)
            flushes += 1
    table.update(recorder.take_pending())
    plain_table.update(plain.take_pending())
    assert lookup.calls == 1 + flushes  # the first sample's, then one a flush
    assert table == plain_table  # the same rows as with the lookups at each step
    assert recorder.dropped == plain.dropped == 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            # seconds from the last sample: on, back, or a lap of a tier on or back
            st.one_of(
                st.integers(-130, 130),
                st.sampled_from([-3000, -600, -120, 120, 600, 3000]),
            ),
            # after it: nothing, a flush, or a flush and its read ahead (a read
            # ahead that failed leaves the rows read before)
            st.sampled_from(["", "flush", "flush+ahead"]),
            st.sampled_from(["/device/a/value", "/device/b/value"]),
        ),
        min_size=1,
        max_size=120,
    ),
    # windows of 6 steps in 12 slots, of all 6 slots (the window kept and the
    # one read share them), and of all 12 slots of a raw tier alone
    st.sampled_from(
        [
            (Tier(10, 120, raw=True), Tier(60, 600, raw=False), Tier(300, 3000, False)),
            _SMALL,
            (Tier(10, 120, raw=True),),
        ]
    ),
)
def test_read_ahead_changes_no_row_whatever_the_clock_does(
    steps: list[tuple[int, str, str]], tiers: tuple[Tier, ...]
) -> None:
    """The rows read ahead are the store's as it is after the flush, and a row
    written later is never taken from them: with the clock going back and on, keys
    interleaved and flushes anywhere, the store ends the same as without. Neither
    ever writes a slot's step over a later one (both once did, alike: the raw
    window read by step missed a later lap written since)."""
    stored: dict[RowId, Bucket] = {}
    plain_stored: dict[RowId, Bucket] = {}
    recorder, plain = Recorder(tiers), Recorder(tiers)
    t = _T0
    for index, (delta, flush, key) in enumerate(steps):
        t += delta
        recorder.record(key, t, float(index), _lookup(stored))
        plain.record(key, t, float(index), _lookup(plain_stored))
        if flush:
            _write_no_older(tiers, stored, recorder.take_pending())
            _write_no_older(tiers, plain_stored, plain.take_pending())
        if flush == "flush+ahead":
            recorder.read_ahead(t + 3, _lookup(stored))
    _write_no_older(tiers, stored, recorder.take_pending())
    _write_no_older(tiers, plain_stored, plain.take_pending())
    assert stored == plain_stored
    assert recorder.dropped == plain.dropped


def _write_no_older(
    tiers: Sequence[Tier], table: dict[RowId, Bucket], rows: list[tuple[RowId, Bucket]]
) -> None:
    """A flush into `table`, checking that no row goes back to an earlier step."""
    tier_of = {tier.step_s: tier for tier in tiers}
    for row, bucket in rows:
        old = table.get(row)
        tier = tier_of[row.step_s]
        assert old is None or tier.start_of(old.t) <= tier.start_of(bucket.t), row
        table[row] = bucket
