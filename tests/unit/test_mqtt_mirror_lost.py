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
    assert mirror.forgotten == 47  # each later clear (a set waits in `sent`)
    assert mirror.sent == {"old": b"1", **{f"fill/{n}": b"1" for n in range(3)}}


def test_a_lost_state_is_never_forgotten_as_the_mirror_holds_its_payload() -> None:
    """Only a message the mirror does not hold (a clear) counts against the bound:
    a state waits by its topic, however many there are."""
    mirror = _full_mirror()
    for name in ("a", "b", "c", "d"):
        mirror.retain(f"state/{name}", b"1")  # lost: past the bound of 3
    mirror.retain("old", b"")  # its clear waits outside too
    assert (list(mirror.lost_states), mirror.lost_others) == (
        ["state/a", "state/b", "state/c", "state/d"],
        {"old": b""},
    )
    assert mirror.forgotten == 0
    taken = _drained(mirror)
    assert taken[3:] == [
        Message("old", b""),  # the others first
        *(Message(f"state/{name}", b"1") for name in "abcd"),
    ]


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


CONFIGS = [f"homeassistant/sensor/pi/k{n}/config" for n in range(40)]
STATES = [f"raspy/pi/fake/k{n}/value" for n in range(40)]


def _big_mirror(size: int) -> Mirror:
    """Forty configs and their states over a buffer of `size`, all at the broker."""
    mirror = Mirror(CoalescingBuffer(size))
    for state, config in zip(STATES, CONFIGS, strict=True):
        mirror.retain(state, b"1")
        mirror.retain(config, b"{}")
    _drained(mirror)
    return mirror


def _acked_one_by_one(mirror: Mirror) -> list[Message]:
    """What the link sends with a window of one: a take, a refill, at each ack."""
    taken: list[Message] = []
    while len(mirror.buffer) or mirror.lost:
        taken += mirror.buffer.take(1)
        mirror.refill()
    return taken


@pytest.mark.parametrize("size", [1, 3, 10])
def test_a_requeue_sends_every_config_and_state_once_through_a_small_buffer(
    size: int,
) -> None:
    """buffer_max_messages far below the mirror's size: a reconnect or Home
    Assistant's birth message still sends every config and every state, each once,
    the configs first, and forgets none (the buffer's eviction lost all but a few)."""
    mirror = _big_mirror(size)
    for _ in range(2):  # a reconnect, then a birth message
        mirror.requeue("homeassistant/")
        assert [m.topic for m in _acked_one_by_one(mirror)] == CONFIGS + STATES
    assert mirror.forgotten == 0


@pytest.mark.parametrize("size", [1, 3, 10])
def test_paho_s_older_copies_put_back_after_a_requeue_never_go_out(size: int) -> None:
    """A reconnect: the requeue first, then each retained message paho still held,
    older, put back unless its topic is queued (the link's connected()). Only the
    mirror's payloads go out, each once."""
    mirror = _big_mirror(size)
    for topic in CONFIGS + STATES:  # the mirror's now: newer than paho's copies
        mirror.retain(topic, b"new")
    _drained(mirror)
    mirror.requeue("homeassistant/")
    for topic in STATES + CONFIGS:
        mirror.buffer.put_if_absent(Message(topic, b"old"))
    sent = _acked_one_by_one(mirror)
    assert sent == [Message(topic, b"new") for topic in CONFIGS + STATES]
    assert mirror.forgotten == 0


def test_what_changes_while_a_requeue_drains_goes_once_with_its_new_payload() -> None:
    mirror = _big_mirror(3)
    mirror.requeue("homeassistant/")
    sent = mirror.buffer.take(2)  # two configs at the broker
    mirror.refill()
    mirror.retain(STATES[5], b"2")  # queued at once (the buffer has room)
    mirror.retain(CONFIGS[0], b"{2}")  # sent already: queued again
    mirror.retain(STATES[6], b"")  # deleted: its state is not sent again
    sent += _acked_one_by_one(mirror)
    topics = [m.topic for m in sent]
    assert sorted(topics) == sorted([*CONFIGS, CONFIGS[0], *STATES])
    assert Message(STATES[5], b"2") in sent
    assert Message(STATES[6], b"") in sent
    assert Message(STATES[6], b"1") not in sent


def test_a_config_pushed_out_by_news_goes_before_the_states() -> None:
    """A command's `…/result` that comes into the full buffer takes the place of the
    newest queued config: that config goes out next, not behind every state (Home
    Assistant would see states of an entity it does not know yet)."""
    configs = CONFIGS[:4]
    states = STATES[:4]
    mirror = Mirror(CoalescingBuffer(3))
    for state, config in zip(states, configs, strict=True):
        mirror.retain(state, b"1")
        mirror.retain(config, b"{}")
    _drained(mirror)
    mirror.requeue("homeassistant/")
    mirror.buffer.put(Message("raspy/pi/fake/k0/result", b"{}", retain=False))
    assert [m.topic for m in _acked_one_by_one(mirror)] == [
        *configs[:2],
        "raspy/pi/fake/k0/result",
        *configs[2:],
        *states,
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
    """Whatever the writes and however slow the broker: what is lost stays within
    its bounds, and once the buffer drains (a requeue at the end, as a reconnect does)
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
        assert len(mirror.lost_others) <= mirror.max_lost
        assert set(mirror.lost_states) <= set(mirror.sent)
    mirror.requeue("")
    while len(mirror.buffer) or mirror.lost:
        take(size)
    assert mirror.forgotten == 0  # (eight topics: the bound is never passed)
    assert {t: p for t, p in broker.items() if p} == mirror.sent
