"""The Mirror's lost messages (raspy.mqtt.mirror): what the full buffer could not
hold is sent again, and what is kept for that is bounded on its own, whatever the
tree does: keys made and deleted by the thousand while the broker is away or slow
left one clear each in it, with no bound but the number of keys ever seen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.mirror import Mirror

pytestmark = pytest.mark.timeout(30)


def _full_mirror(size: int = 3) -> Mirror:
    mirror = Mirror(CoalescingBuffer(size))
    mirror.retain("old", b"1")
    mirror.buffer.take(1)  # at the broker
    for n in range(size):
        mirror.retain(f"fill/{n}", b"1")
    assert mirror.buffer.full
    return mirror


def _drained(mirror: Mirror) -> list[Message]:
    """What the link takes until nothing waits (it refills after each take)."""
    taken: list[Message] = []
    while len(mirror.buffer) or mirror.lost:
        taken += mirror.buffer.take(len(mirror.buffer))
        mirror.refill()
    return taken


def test_keys_made_and_deleted_while_the_buffer_is_full_stay_within_the_bound() -> None:
    mirror = _full_mirror()
    for n in range(50):  # each key set, then deleted: its clear cannot be queued
        mirror.retain(f"churn/{n}", b"1")
        mirror.retain(f"churn/{n}", b"")
    assert (mirror.lost, mirror.max_lost) == (3, 3)
    assert mirror.forgotten == 2 * 47  # each later set, and its clear
    assert mirror.sent == {"old": b"1", **{f"fill/{n}": b"1" for n in range(3)}}


def test_a_clear_is_kept_before_a_state_a_requeue_sends_again() -> None:
    mirror = _full_mirror()
    for name in ("a", "b", "c"):
        mirror.retain(f"state/{name}", b"1")  # lost: the bound reached
    mirror.retain("old", b"")  # its clear waits outside; a lost state goes
    assert (set(mirror.lost_states), mirror.lost_others) == (
        {"state/a", "state/b"},
        {"old": b""},
    )
    mirror.buffer.take(10)
    mirror.refill()
    assert mirror.buffer.take(10) == [
        Message("old", b""),
        Message("state/a", b"1"),
        Message("state/b", b"1"),
    ]
    mirror.requeue("")  # a reconnect: the state forgotten is sent too
    assert Message("state/c", b"1") in _drained(mirror)


def test_an_older_message_never_takes_the_place_of_a_lost_newer_one() -> None:
    """At a reconnect the link puts back what paho held unacknowledged, older than
    what the mirror lost since: the newer one is what goes."""
    mirror = _full_mirror()
    mirror.retain("t", b"new")  # lost
    mirror.buffer.put_if_absent(Message("t", b"old"))  # paho's: lost too
    mirror.retain("u", b"1")
    mirror.retain("u", b"")  # a clear lost ...
    mirror.buffer.put_if_absent(Message("u", b"1"))  # ... and the set paho held
    mirror.buffer.take(10)
    mirror.refill()
    assert sorted(mirror.buffer.take(10), key=lambda m: m.topic) == [
        Message("t", b"new"),
        Message("u", b""),
    ]


_STEPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from("abcdefgh"), st.sampled_from([b"", b"1", b"2"])),
        st.integers(min_value=1, max_value=3),  # the link takes (and refills)
    ),
    max_size=80,
)


@given(_STEPS, st.integers(min_value=1, max_value=4))
def test_what_is_lost_is_bounded_and_the_broker_ends_with_the_mirror(
    steps: list[tuple[str, bytes] | int], size: int
) -> None:
    """Whatever the writes and however slow the broker: `lost` stays within its
    bound, and once the buffer drains (a requeue at the end, as a reconnect does)
    the broker holds what the mirror holds, if the bound was never passed."""
    mirror = Mirror(CoalescingBuffer(size), max_lost=8)
    broker: dict[str, bytes] = {}

    def take(count: int) -> None:
        for message in mirror.buffer.take(count):
            broker[message.topic] = message.payload
        mirror.refill()

    for step in steps:
        if isinstance(step, int):
            take(step)
        else:
            mirror.retain(*step)
        assert mirror.lost <= mirror.max_lost
        assert set(mirror.lost_states) <= set(mirror.sent)
    mirror.requeue("")
    while len(mirror.buffer) or mirror.lost:
        take(size)
    assert mirror.forgotten == 0  # (eight topics: the bound is never passed)
    assert {t: p for t, p in broker.items() if p} == mirror.sent
