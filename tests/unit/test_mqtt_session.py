"""The MQTT connection's state (raspy.mqtt.session), time passed in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from raspy.backoff import BackoffPolicy
from raspy.mqtt.session import MqttSession, Phase

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
