"""The MQTT connection's state (raspy.mqtt.session), time passed in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from raspy.actors.mqtt.client import KEEPALIVE_S
from raspy.backoff import BackoffPolicy
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.mqtt.session import MISC_INTERVAL_S, Lost, MqttSession, Phase

POLICY = BackoffPolicy(initial_s=0.5, max_s=4.0, stable_s=30.0)


def session(max_inflight: int = 3) -> MqttSession:
    return MqttSession(POLICY, max_inflight=max_inflight, misc_interval_s=1.0)


def test_a_new_session_connects_at_once_then_waits_for_connack() -> None:
    link = session()
    assert (link.phase, link.connect_due(0.0), link.next_deadline()) == (
        Phase.DOWN,
        True,
        0.0,
    )
    link.connecting(0.0)
    assert (link.connect_due(0.0), link.next_deadline(), link.room(10)) == (
        False,
        1.0,  # paho's housekeeping, which also times the CONNACK out
        0,  # nothing is handed to paho before CONNACK
    )


def test_failures_back_off_doubling_up_to_the_maximum() -> None:
    link = session()
    delays = []
    for _ in range(5):
        link.connecting(0.0)
        delays.append(link.failed(10.0))
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert (link.connect_due(13.9), link.connect_due(14.0)) == (False, True)


def test_a_connection_that_lasts_forgets_the_failures_before_it() -> None:
    link = session()
    link.connecting(0.0)
    link.failed(0.0)
    link.connecting(1.0)
    link.connected(1.0)
    link.stable(20.0)
    assert link.failed(20.0) == 1.0  # up 19 s only: the failures count on
    link.connecting(30.0)
    link.connected(30.0)
    link.stable(60.0)
    assert link.failed(60.0) == 0.5  # up 30 s: a fresh start


def test_housekeeping_is_due_once_per_interval_while_a_connection_lives() -> None:
    link = session()
    assert not link.misc_due(5.0)  # down: nothing to keep alive
    link.connecting(5.0)
    assert [link.misc_due(t) for t in (5.5, 6.0, 6.5, 7.0)] == [
        False,
        True,
        False,
        True,
    ]


def test_paho_holds_at_most_max_inflight_unacknowledged_messages() -> None:
    link = session(max_inflight=3)
    link.connecting(0.0)
    link.connected(0.0)
    assert link.room(10) == 3
    link.handed(2)
    assert (link.room(10), link.room(1), link.full) == (1, 1, False)
    link.handed(1)
    assert (link.room(10), link.full) == (0, True)
    link.acknowledged()
    assert link.room(10) == 1
    link.failed(1.0)
    link.connecting(2.0)
    link.connected(2.0)
    assert link.room(10) == 3  # a new session: paho holds nothing of the old one


@given(st.lists(st.sampled_from(["hand", "ack", "fail", "up"]), max_size=60))
def test_inflight_never_goes_below_zero_nor_room_above_the_limit(
    steps: list[str],
) -> None:
    link = session(max_inflight=5)
    now = 0.0
    for step in steps:
        now += 1.0
        if step == "hand":
            link.handed(link.room(2))
        elif step == "ack":
            link.acknowledged()
        elif step == "fail":
            link.failed(now)
        else:
            link.connecting(now)
            link.connected(now)
        assert link.inflight >= 0
        assert 0 <= link.room(100) <= 5 - min(link.inflight, 5)


def up_session(max_inflight: int) -> MqttSession:
    link = session(max_inflight)
    link.connecting(0.0)
    link.connected(0.0)
    return link


def buffer_of(count: int) -> CoalescingBuffer:
    buffer = CoalescingBuffer(10_000)
    for index in range(count):
        buffer.put(Message(f"t/{index}", b"v"))
    return buffer


def test_nothing_is_taken_before_connack_and_the_link_may_sleep() -> None:
    link = session()
    buffer = buffer_of(2)
    assert link.take(buffer, 10) == ([], False)
    link.connecting(0.0)
    assert (link.take(buffer, 10), len(buffer)) == (([], False), 2)


def test_taken_messages_are_in_flight_and_the_window_bounds_them() -> None:
    link = up_session(max_inflight=3)
    buffer = buffer_of(5)
    assert link.take(buffer, 2) == ([Message("t/0", b"v"), Message("t/1", b"v")], True)
    assert link.take(buffer, 10) == ([Message("t/2", b"v")], False)  # window full
    assert (link.inflight, len(buffer)) == (3, 2)
    link.acknowledged()
    assert link.take(buffer, 10) == ([Message("t/3", b"v")], False)


@given(
    queued=st.integers(0, 40),
    max_inflight=st.integers(1, 20),
    inflight=st.integers(0, 25),
    per_turn=st.integers(0, 30),
)
def test_take_never_overfills_the_window_and_says_when_to_come_back(
    queued: int, max_inflight: int, inflight: int, per_turn: int
) -> None:
    link = up_session(max_inflight)
    link.handed(inflight)
    buffer = buffer_of(queued)
    messages, more = link.take(buffer, per_turn)
    room = max(0, min(max_inflight - inflight, per_turn))
    assert len(messages) == min(room, queued)
    assert link.inflight == inflight + len(messages)
    assert len(buffer) == queued - len(messages)
    assert more == (room > 0 and len(buffer) > 0 and link.inflight < max_inflight)


def test_a_close_says_what_ended_and_when_to_try_again() -> None:
    link = session()
    assert link.closed(0.0) is None  # down already (refused at CONNACK)
    link.connecting(0.0)
    assert link.closed(1.0) == Lost(was_up=False, retry_in_s=0.5)
    link.connecting(2.0)
    link.connected(2.0)
    assert (link.closed(3.0), link.phase) == (
        Lost(was_up=True, retry_in_s=1.0),
        Phase.DOWN,
    )
    assert link.closed(3.5) is None


def test_the_next_deadline_is_the_earliest_of_the_sessions_and_the_bridges() -> None:
    link = session()
    link.connecting(0.0)
    assert [link.next_deadline(other) for other in (None, 0.5, 2.0)] == [1.0, 0.5, 1.0]


def test_paho_housekeeping_runs_often_enough_for_the_keepalive() -> None:
    """paho's loop_misc sends the PINGREQ once KEEPALIVE_S has passed in silence; run
    every MISC_INTERVAL_S, it goes out at most that much later, and a broker gives a
    client 1.5 x its keepalive (MQTT 3.1.1 §3.1.2.10) before it drops it."""
    assert KEEPALIVE_S + MISC_INTERVAL_S < 1.5 * KEEPALIVE_S
    session = MqttSession(POLICY)
    session.connecting(0.0)
    due = [t for t in range(61) if session.misc_due(float(t))]
    assert due == list(range(int(MISC_INTERVAL_S), 61, int(MISC_INTERVAL_S)))
