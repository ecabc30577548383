"""BrokerCore hands titanic.* to an in-process handler, up to its capacity, before any
worker (handle_locally); past the capacity, requests go to an idle worker or wait in
the service's queue, and each answer of the handler hands it the oldest one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.broker_frames import C1, C2, SVC, T0, V01, V02, W1, ready, request, sends

from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import LocalRequest, RequestDropped
from raspy.cores.broker_settings import BrokerSettings
from raspy.protocol import mdp


def handed(body: bytes, client: bytes = C1, version: mdp.Version = V02) -> LocalRequest:
    return LocalRequest(client, mdp.ClientRequest(version, SVC, (body,)))


def test_requests_go_to_the_handler_up_to_its_capacity_then_to_a_worker() -> None:
    core = BrokerCore()
    core.on_frames(W1, ready(V02), T0)
    assert core.handle_locally(SVC, 2, T0) == []
    first = core.on_frames(C1, request(V01, b"a"), T0)
    second = core.on_frames(C2, request(V02, b"b"), T0)
    assert first == [handed(b"a", C1, V01)]
    assert second == [handed(b"b", C2, V02)]
    # full: the third goes to the registered worker, as any MDP request
    (to_worker,) = sends(core.on_frames(C1, request(V01, b"c"), T0))
    assert to_worker.peer == W1
    # one answer frees one place
    assert core.local_answered(SVC, T0) == []
    fourth = core.on_frames(C2, request(V02, b"d"), T0)
    assert fourth == [handed(b"d", C2, V02)]


def test_a_full_handler_takes_the_queued_requests_oldest_first_as_it_answers() -> None:
    """No worker at all: requests past the capacity wait, and are not lost."""
    core = BrokerCore()
    core.handle_locally(SVC, 1, T0)
    assert core.on_frames(C1, request(V02, b"1"), T0) == [handed(b"1")]
    assert core.on_frames(C1, request(V02, b"2"), T0) == []  # queued
    assert core.on_frames(C2, request(V01, b"3"), T0) == []
    assert core.stats()["queued"] == 2
    assert core.local_answered(SVC, T0 + 1) == [handed(b"2")]
    assert core.local_answered(SVC, T0 + 2) == [handed(b"3", C2, V01)]
    assert core.local_answered(SVC, T0 + 3) == []
    assert core.stats()["queued"] == 0
    # all answered: the next one goes straight to the handler again
    assert core.on_frames(C1, request(V02, b"4"), T0 + 4) == [handed(b"4")]


def test_a_handler_that_comes_takes_what_was_queued_up_to_its_capacity() -> None:
    core = BrokerCore()
    for body in (b"1", b"2", b"3"):
        assert core.on_frames(C1, request(V02, body), T0) == []
    assert core.handle_locally(SVC, 2, T0) == [handed(b"1"), handed(b"2")]
    assert core.stats()["queued"] == 1


def test_a_queued_request_past_its_ttl_is_dropped_not_handed() -> None:
    core = BrokerCore(BrokerSettings(request_ttl_s=10.0))
    core.handle_locally(SVC, 1, T0)
    core.on_frames(C1, request(V02, b"1"), T0)
    core.on_frames(C2, request(V02, b"late"), T0)
    core.on_frames(C1, request(V02, b"fresh"), T0 + 9)
    # the handler's answer comes after the first waiter's TTL
    assert core.local_answered(SVC, T0 + 10.5) == [
        RequestDropped(SVC, C2, "expired"),
        handed(b"fresh"),
    ]


def test_no_handler_means_workers_only_and_mmi_still_answers() -> None:
    core = BrokerCore()
    core.handle_locally(SVC, 3, T0)
    core.stop_handling(SVC)  # the handler left
    assert core.on_frames(C1, request(V02, b"x"), T0) == []  # queued for a worker
    assert core.local_answered(SVC, T0) == []  # an answer after it left: nothing
    (assigned,) = sends(core.on_frames(W1, ready(V02), T0))
    assert assigned.peer == W1
    (mmi,) = sends(core.on_frames(C1, request(V02, SVC, service=b"mmi.service"), T0))
    assert mmi.frames[-1] == b"200"


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BrokerCore().handle_locally(SVC, 0, T0)


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=4),
    steps=st.lists(st.sampled_from(["request", "answer"]), max_size=40),
)
def test_never_more_than_the_capacity_in_hand_and_every_request_handed_once(
    capacity: int, steps: list[str]
) -> None:
    """Requests and answers in any order: the handler never holds more than its
    capacity, requests reach it in arrival order, and once everything in hand is
    answered every request was handed exactly once."""
    core = BrokerCore()
    core.handle_locally(SVC, capacity, T0)
    in_hand: list[bytes] = []
    seen: list[bytes] = []
    sent = 0

    def take(outputs: list[object]) -> None:
        for out in outputs:
            assert isinstance(out, LocalRequest)
            in_hand.append(out.request.body[0])
            seen.append(out.request.body[0])
        assert len(in_hand) <= capacity

    for step in steps:
        if step == "request":
            take(list(core.on_frames(C1, request(V02, b"%d" % sent), T0)))
            sent += 1
        elif in_hand:
            in_hand.pop(0)
            take(list(core.local_answered(SVC, T0)))
    while in_hand:
        in_hand.pop(0)
        take(list(core.local_answered(SVC, T0)))
    assert seen == [b"%d" % n for n in range(sent)]
    assert core.stats()["queued"] == 0
