"""CloneCore.on_guarded: in-process sets applied only while the keys they expect are
still at the sequence numbers read (compare-and-set, raspy/cores/clone.py)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from raspy.cores.clone import Accept, CloneCore, Guarded, Rejected, Skipped

STATUS = b"/device/b.fake.t/status"
VALUE = b"/device/b.fake.t/value"
OTHER = b"/device/b.fake.u/status"


def _core() -> CloneCore:
    core = CloneCore(coalesced_prefixes=[b"/device/"])
    core.load(40, [], 0.0)
    return core


def _mark(expect: dict[bytes, int], *keys: bytes) -> Guarded:
    return Guarded(tuple(expect.items()), tuple((k, b'"offline"') for k in keys))


def _accepted(outputs: Sequence[object]) -> list[tuple[bytes, int]]:
    return [(o.update.key, o.update.seq) for o in outputs if isinstance(o, Accept)]


def test_a_group_whose_keys_are_unchanged_is_applied_durably() -> None:
    core = _core()
    out = core.on_guarded(
        [_mark({STATUS: 7, VALUE: 6}, STATUS, VALUE)], {STATUS: 7, VALUE: 6}, 1.0
    )
    assert _accepted(out) == [(STATUS, 41), (VALUE, 42)]
    # under a coalesced prefix all the same: a rare write, stored before published
    assert all(isinstance(o, Accept) and not o.coalesced for o in out)


def test_a_group_whose_key_was_written_since_is_skipped_and_nothing_numbered() -> None:
    core = _core()
    out = core.on_guarded([_mark({STATUS: 7}, STATUS, VALUE)], {STATUS: 9}, 1.0)
    assert out == [Skipped(0, STATUS)]
    assert core.last_seq == 40


def test_a_group_whose_key_was_deleted_since_is_skipped() -> None:
    """A deletion counts as 0, which no sequence number read from the tree equals."""
    core = _core()
    out = core.on_guarded([_mark({STATUS: 7, VALUE: 6}, STATUS)], {VALUE: 6}, 1.0)
    assert out == [Skipped(0, STATUS)]
    out = core.on_guarded([_mark({VALUE: 6, STATUS: 7}, STATUS)], {STATUS: 0}, 1.0)
    assert out == [Skipped(0, VALUE)]


def test_expecting_0_means_expecting_the_key_absent() -> None:
    """A key `current` leaves out is absent (the shell names every expected one)."""
    core = _core()
    assert _accepted(core.on_guarded([_mark({STATUS: 0}, STATUS)], {}, 1.0)) == [
        (STATUS, 41)
    ]
    assert core.on_guarded([_mark({STATUS: 0}, STATUS)], {STATUS: 41}, 1.0) == [
        Skipped(0, STATUS)
    ]


def test_the_groups_of_one_call_are_decided_each_on_its_own() -> None:
    core = _core()
    groups = [
        _mark({STATUS: 7}, STATUS),  # moved on: skipped
        _mark({OTHER: 8}, OTHER),  # unchanged: applied
        _mark({VALUE: 5}, VALUE),  # deleted: skipped
    ]
    out = core.on_guarded(groups, {STATUS: 10, OTHER: 8, VALUE: 0}, 1.0)
    assert [o for o in out if isinstance(o, Skipped)] == [
        Skipped(0, STATUS),
        Skipped(2, VALUE),
    ]
    assert _accepted(out) == [(OTHER, 41)]


def test_a_later_group_sees_what_an_earlier_one_of_the_same_call_set() -> None:
    core = _core()
    groups = [_mark({STATUS: 7}, STATUS), _mark({STATUS: 7}, STATUS)]
    out = core.on_guarded(groups, {STATUS: 7}, 1.0)
    assert _accepted(out) == [(STATUS, 41)]
    assert out[-1] == Skipped(1, STATUS)
    deleting = Guarded(((STATUS, 7),), ((STATUS, b""),))
    out = core.on_guarded([deleting, _mark({STATUS: 0}, STATUS)], {STATUS: 7}, 1.0)
    assert _accepted(out) == [(STATUS, 42), (STATUS, 43)]  # deleted, then absent


def test_a_bad_key_in_an_applied_group_is_refused_as_in_a_plain_batch() -> None:
    core = _core()
    group = Guarded(((STATUS, 7),), ((b"no-slash", b"1"), (STATUS, b"2")))
    out = core.on_guarded([group], {STATUS: 7}, 1.0)
    assert isinstance(out[0], Rejected)
    assert _accepted(out) == [(STATUS, 41)]


_KEYS = st.sampled_from([b"/a", b"/b", b"/c"])
_GROUPS = st.lists(
    st.tuples(
        st.dictionaries(_KEYS, st.integers(0, 3), max_size=3),
        st.lists(st.tuples(_KEYS, st.sampled_from([b"", b"1"])), max_size=3),
    ),
    max_size=6,
)


@given(_GROUPS, st.dictionaries(_KEYS, st.integers(0, 3), max_size=3))
def test_a_group_is_applied_exactly_when_each_key_it_expects_is_where_it_says(
    groups: list[tuple[dict[bytes, int], list[tuple[bytes, bytes]]]],
    current: dict[bytes, int],
) -> None:
    """Against a model: the sequence number of each key after the groups before."""
    core = CloneCore()
    guarded = [Guarded(tuple(e.items()), tuple(s)) for e, s in groups]
    out = core.on_guarded(guarded, current, 1.0)
    model = dict(current)
    seq = 0
    expected: list[object] = []
    for index, (expect, sets) in enumerate(groups):
        changed = [k for k, s in expect.items() if model.get(k, 0) != s]
        if changed:
            expected.append(Skipped(index, changed[0]))
            continue
        for key, body in sets:
            seq += 1
            model[key] = seq if body else 0
            expected.append((key, seq, body))
    got = [
        o if isinstance(o, Skipped) else (o.update.key, o.update.seq, o.update.body)
        for o in out
        if isinstance(o, Skipped | Accept)
    ]
    assert got == expected
