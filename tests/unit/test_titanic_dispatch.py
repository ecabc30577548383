"""TitanicCore's dispatcher with time passed in: oldest first, per-service windows,
timeouts and backoff (docs/protocols.md §5.5.2, §5.6)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from support.titanic_core_calls import (
    CALLER,
    CLOSER,
    SVC,
    WALL,
    accept,
    make_core,
    only,
    persist_of,
    uuid_of,
)

from raspy.cores.titanic import (
    Answer,
    CloseSlot,
    DeleteQueue,
    Dispatch,
    Event,
    Noted,
    OpenSlot,
    Output,
    Persist,
    PutReply,
    StoredRequest,
    TitanicCore,
)
from raspy.cores.titanic_lifecycle import State
from raspy.cores.titanic_settings import NOT_RELAYED_REPLY


def test_dispatch_goes_oldest_first_and_only_to_available_services() -> None:
    """§5.5.2: walk the queue oldest first; skip targets without a worker."""
    core = make_core(dispatch_window=1)
    first = accept(core, [b"1"])
    persist = persist_of(core.on_request(CALLER, [b"other", b"x"], WALL))
    core.on_committed(persist.token, True, 0.0)
    third = accept(core, [b"3"])
    assert only(core.on_service(SVC, True, 0.0), Dispatch) == [
        Dispatch(0, first, SVC, (b"1",), 1)
    ]
    persist = persist_of(core.on_dispatch_reply(0, [b"r"], True, 0.1, WALL))
    core.on_committed(persist.token, True, 0.1)
    assert only(core.on_tick(0.2, WALL), Dispatch) == []
    # the window opened when the reply came: the next oldest for SVC went out then
    assert core.in_flight_count() == 1
    persist = persist_of(core.on_dispatch_reply(0, [b"r"], True, 0.3, WALL))
    assert persist.writes[1] == DeleteQueue(2, third)


def test_window_of_one_service_does_not_block_another() -> None:
    """§5.5.2: without blocking other UUIDs: a full window holds only its service."""
    core = make_core(dispatch_window=1)
    accept(core, [b"a1"])
    accept(core, [b"a2"])
    persist = persist_of(core.on_request(CALLER, [b"other", b"b1"], WALL))
    core.on_committed(persist.token, True, 0.0)
    core.on_service(SVC, True, 0.0)
    out = core.on_service(b"other", True, 0.0)
    assert only(out, Dispatch) == [Dispatch(1, uuid_of(3), b"other", (b"b1",), 1)]


def test_attempts_per_service_start_at_four_grow_per_reply_and_halve_on_timeout() -> (
    None
):
    """§5.5.2 without duplicates from requests left waiting in the broker's queue."""
    core = make_core(dispatch_window=6, dispatch_timeout_s=5.0)
    for n in range(20):
        accept(core, [str(n).encode()])
    assert len(only(core.on_service(SVC, True, 0.0), Dispatch)) == 4
    for step in range(3):  # each reply frees a slot and widens the window by one
        dispatched = only(
            core.on_dispatch_reply(step, [b"r"], True, 1.0, WALL), Dispatch
        )
        assert len(dispatched) == (2 if step < 2 else 1)
    assert core.in_flight_count() == 6  # the window stops at dispatch_window
    # six timeouts halve it six times: 6 → 3 → 1; the oldest fresh request goes out
    assert only(core.on_tick(6.0, WALL), Dispatch) == [
        Dispatch(6, uuid_of(10), SVC, (b"9",), 1)
    ]
    assert only(core.on_tick(7.0, WALL), Dispatch) == []  # retries wait for room
    assert len(only(core.on_dispatch_reply(6, [b"r"], True, 7.5, WALL), Dispatch)) == 2


def test_timeout_retries_with_backoff_doubling_to_the_maximum() -> None:
    """§5.5.2: on timeout, retry that UUID later with backoff 1 s doubling to 60 s."""
    core = make_core(dispatch_timeout_s=10.0)
    uuid = accept(core, [b"x"])
    now = 0.0
    core.on_service(SVC, True, now)
    expected_backoff = [1, 2, 4, 8, 16, 32, 60, 60]
    for attempt, backoff in enumerate(expected_backoff, start=1):
        slot = attempt - 1
        assert core.next_deadline() == now + 10.0
        assert core.on_tick(now + 9.9, WALL) == []  # one attempt in flight only
        now += 10.0
        out = core.on_tick(now, WALL)
        assert out == [
            CloseSlot(slot),
            Noted(Event.RETRIED, uuid, f"timeout attempt={attempt} after_s={backoff}"),
        ]
        assert core.next_deadline() == now + backoff
        assert core.on_tick(now + backoff - 0.01, WALL) == []
        now += backoff
        out = core.on_tick(now, WALL)
        assert out == [
            OpenSlot(slot + 1),
            Dispatch(slot + 1, uuid, SVC, (b"x",), attempt + 1),
        ]


def test_a_late_reply_on_a_timed_out_slot_is_dropped() -> None:
    """§5.6: a timed-out attempt's slot is retired; nothing it says is stored."""
    core = make_core(dispatch_timeout_s=1.0)
    accept(core, [b"x"])
    core.on_service(SVC, True, 0.0)
    core.on_tick(1.0, WALL)
    assert core.on_dispatch_reply(0, [b"late"], True, 1.5, WALL) == [
        Noted(Event.REPLY_DROPPED, "", "unknown_slot")
    ]


def test_backoff_of_one_uuid_does_not_hold_back_others() -> None:
    """§5.5.2: retry later without blocking other UUIDs."""
    core = make_core(dispatch_timeout_s=1.0)
    slow = accept(core, [b"slow"])
    core.on_service(SVC, True, 0.0)
    core.on_tick(1.0, WALL)  # slow times out, backs off 1 s
    fresh = accept(core, [b"fresh"], now=1.1)
    assert core.in_flight_count() == 1
    persist = persist_of(core.on_dispatch_reply(1, [b"ok"], True, 1.2, WALL))
    assert persist.writes[0] == PutReply(fresh, (b"ok",), WALL)
    assert only(core.on_tick(2.0, WALL), Dispatch) == [
        Dispatch(1, slow, SVC, (b"slow",), 2)
    ]


actions = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "request",
                "commit_ok",
                "commit_fail",
                "reply",
                "partial",
                "close",
                "tick",
                "up",
                "down",
            ]
        ),
        st.integers(min_value=0, max_value=7),
        st.sampled_from([b"a", b"b"]),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(steps=actions)
def test_any_sequence_keeps_one_attempt_per_uuid_and_only_available_targets(
    steps: list[tuple[str, int, bytes]],
) -> None:
    """§5.5.2: at most one attempt in flight per UUID; only available services."""
    core = make_core(dispatch_timeout_s=3.0, dispatch_window=2)
    now = 0.0
    available: set[bytes] = set()
    tokens: list[int] = []
    flights: dict[int, str] = {}
    uuids: list[str] = []
    for action, n, service in steps:
        now += 0.7
        out: list[Output] = []
        match action:
            case "request":
                out = core.on_request(CALLER, [service, b"x"], WALL + now)
            case "commit_ok" | "commit_fail" if tokens:
                out = core.on_committed(
                    tokens.pop(n % len(tokens)), action == "commit_ok", now
                )
            case "reply" | "partial" if flights:
                slot = sorted(flights)[n % len(flights)]
                out = core.on_dispatch_reply(slot, [b"r"], action == "reply", now, WALL)
                if action == "reply":
                    flights.pop(slot)
            case "close" if uuids:
                out = core.on_close(CLOSER, [uuids[n % len(uuids)].encode()])
            case "up":
                available.add(service)
                out = core.on_service(service, True, now)
            case "down":
                available.discard(service)
                out = core.on_service(service, False, now)
            case _:
                out = core.on_tick(now, WALL + now)
        for item in out:
            if isinstance(item, Persist):
                tokens.append(item.token)
            elif isinstance(item, Dispatch):
                assert item.service in available
                assert item.uuid not in flights.values()
                assert item.slot not in flights
                flights[item.slot] = item.uuid
            elif isinstance(item, CloseSlot):
                flights.pop(item.slot)
            elif (
                isinstance(item, Answer)
                and item.body[0] == b"200"
                and len(item.body) == 2
            ):
                uuids.append(item.body[1].decode())
        assert core.in_flight_count() == len(flights)


def test_services_that_come_and_go_are_forgotten_once_they_have_nothing_left() -> None:
    """tools/soak.py: a service name that served a request and went, or was never
    up and had its request closed, was kept for ever (its window, its count of
    attempts in flight, its heap of stale ready items): years of changing names."""
    core = make_core(dispatch_timeout_s=1.0)
    now = 0.0
    for n in range(200):
        now += 1.0
        served = b"gone.%d" % n
        persist = persist_of(core.on_request(CALLER, [served, b"x"], WALL))
        (answer,) = only(core.on_committed(persist.token, True, now), Answer)
        assert isinstance(answer, Answer)
        uuid = answer.body[1].decode()
        (dispatch,) = only(core.on_service(served, True, now), Dispatch)
        assert isinstance(dispatch, Dispatch)
        reply = persist_of(
            core.on_dispatch_reply(dispatch.slot, [b"r"], True, now, WALL)
        )
        core.on_committed(reply.token, True, now)
        core.on_service(served, False, now)
        closing = persist_of(core.on_close(CLOSER, [uuid.encode()]))
        core.on_committed(closing.token, True, now)
        # a request for a service that never comes up, given up by its client
        never = b"never.%d" % n
        persist = persist_of(core.on_request(CALLER, [never, b"x"], WALL))
        (answer,) = only(core.on_committed(persist.token, True, now), Answer)
        assert isinstance(answer, Answer)
        closing = persist_of(core.on_close(CLOSER, [answer.body[1]]))
        core.on_committed(closing.token, True, now)
        # one whose attempt timed out after its service went
        slow = b"slow.%d" % n
        persist = persist_of(core.on_request(CALLER, [slow, b"x"], WALL))
        (answer,) = only(core.on_committed(persist.token, True, now), Answer)
        assert isinstance(answer, Answer)
        core.on_service(slow, True, now)
        core.on_service(slow, False, now)
        core.on_tick(now + 1.0, WALL)
        closing = persist_of(core.on_close(CLOSER, [answer.body[1]]))
        core.on_committed(closing.token, True, now + 1.0)
    assert core.known_count() == 0
    assert core.tracked_services() == 0


def test_a_stored_request_for_a_service_not_relayed_gets_the_refusal_as_its_reply() -> (
    None
):
    """One an older raspy stored (it took requests for `<host>.http`): at the start
    its reply is the refusal, stored like a service's, and it is never dispatched;
    a request for another service beside it goes out as ever."""
    core = make_core(not_relayed=frozenset({b"pi.http"}))  # type: ignore[arg-type]
    requests = [
        StoredRequest(uuid_of(1), b"pi.http", (b"{}",), WALL - 2),
        StoredRequest(uuid_of(2), SVC, (b"x",), WALL - 1),
    ]
    assert core.load(requests, [(0, uuid_of(1)), (1, uuid_of(2))], 0.0, WALL) == [
        Noted(Event.NOT_RELAYED, uuid_of(1), "pi.http"),
        Persist(
            1,
            (PutReply(uuid_of(1), NOT_RELAYED_REPLY, WALL), DeleteQueue(0, uuid_of(1))),
        ),
    ]
    assert core.on_committed(1, True, 0.0) == [Noted(Event.DONE, uuid_of(1))]
    assert core.on_service(b"pi.http", True, 0.0) == []
    assert only(core.on_service(SVC, True, 0.0), Dispatch) == [
        Dispatch(0, uuid_of(2), SVC, (b"x",), 1)
    ]
    assert (core.pending_count(), core.known_count()) == (1, 2)


def _loaded_refusal(core: TitanicCore) -> Persist:
    """A core that loaded one stored request for `pi.http`: its refusal's Persist."""
    stored = [StoredRequest(uuid_of(1), b"pi.http", (b"{}",), WALL - 2)]
    return persist_of(core.load(stored, [(0, uuid_of(1))], 0.0, WALL))


def test_a_refusal_whose_commit_failed_is_stored_again_never_dispatched() -> None:
    """The store failed as the refusal went in: the request is pending, with no
    dispatch to retry it, so the core stores the refusal again a while later (it
    stayed pending until the next start); the next tick before then does nothing."""
    core = make_core(not_relayed=frozenset({b"pi.http"}))  # type: ignore[arg-type]
    first = _loaded_refusal(core)
    failed = core.on_committed(first.token, False, 10.0)
    assert Noted(Event.FAILED, uuid_of(1), "reply_commit") in failed
    assert core.state_of(uuid_of(1)) is State.PENDING
    assert core.next_deadline() == 15.0
    assert only(core.on_tick(14.9, WALL), Persist) == []
    assert core.on_service(b"pi.http", True, 14.9) == []  # never sent to it
    again = persist_of(core.on_tick(15.0, WALL + 5))
    assert again.writes == (
        PutReply(uuid_of(1), NOT_RELAYED_REPLY, WALL + 5),
        DeleteQueue(0, uuid_of(1)),
    )
    assert core.on_committed(again.token, True, 15.0) == [Noted(Event.DONE, uuid_of(1))]
    assert only(core.on_tick(30.0, WALL), Persist) == []


def test_a_refusal_that_failed_while_a_close_came_is_forgotten_once_closed() -> None:
    """A close came while the refusal was being stored, and that store failed: the
    deletion goes on; once it is committed, nothing is stored for it any more."""
    core = make_core(not_relayed=frozenset({b"pi.http"}))  # type: ignore[arg-type]
    first = _loaded_refusal(core)
    closing = persist_of(core.on_close(CLOSER, [uuid_of(1).encode()]))
    core.on_committed(first.token, False, 10.0)
    assert core.state_of(uuid_of(1)) is State.CLOSING_PENDING
    assert only(core.on_tick(15.0, WALL), Persist) == []  # the deletion is under way
    core.on_committed(closing.token, True, 16.0)
    assert core.state_of(uuid_of(1)) is State.GONE
    assert only(core.on_tick(25.0, WALL), Persist) == []
    assert core.next_deadline() is None


def test_a_service_without_a_worker_keeps_no_ready_item_of_its_closed_requests() -> (
    None
):
    """One request waits for a service with no worker; every other one sent and
    closed for it left an item in its ready heap, which only a dispatch pops
    (50,001 items for one request known)."""
    core = make_core(pending_requests=10)
    core.load([], [], 0.0, WALL)
    waiting = accept(core, [b"first"])
    for n in range(1, 2001):
        uuid = accept(core, [b"%d" % n], float(n))
        persist = persist_of(core.on_close(CLOSER, [uuid.encode()]))
        (answer,) = only(core.on_committed(persist.token, True, float(n)), Answer)
        assert answer == Answer(CLOSER, (b"200",))
    assert core.known_count() == 1
    assert core.heap_items()["ready"] <= 100  # not one item per request seen
    # the one left is still the one sent when a worker comes
    assert only(core.on_service(SVC, True, 2001.0), Dispatch) == [
        Dispatch(0, waiting, SVC, (b"first",), 1)
    ]
