"""TitanicCore with time passed in (protocols.md §5.4-§5.6, issue 5)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.cores.titanic import (
    Answer,
    AnswerStored,
    Caller,
    CloseSlot,
    DeleteQueue,
    DeleteReply,
    DeleteRequest,
    Dispatch,
    Event,
    Noted,
    OpenSlot,
    Output,
    Persist,
    PutQueue,
    PutReply,
    PutRequest,
    StoredRequest,
    TitanicCore,
    TitanicSettings,
)

WALL = 1_700_000_000.0
SVC = b"echo"
CALLER = Caller(b"\xfftitanic.request.0", b"\x00client")
REPLIER = Caller(b"\xfftitanic.reply.0", b"\x00client")
CLOSER = Caller(b"\xfftitanic.close.0", b"\x00client")


def uuid_of(n: int) -> str:
    return f"{n:032x}"


def make_core(**overrides: float) -> TitanicCore:
    counter = itertools.count(1)
    return TitanicCore(
        TitanicSettings(**overrides),  # type: ignore[arg-type]  # test overrides
        new_uuid=lambda: uuid_of(next(counter)),
    )


def only(outputs: Sequence[Output], kind: type[Output]) -> list[Output]:
    return [out for out in outputs if isinstance(out, kind)]


def persist_of(outputs: Sequence[Output]) -> Persist:
    (persist,) = only(outputs, Persist)
    assert isinstance(persist, Persist)
    return persist


def accept(core: TitanicCore, body: Sequence[bytes], now: float = 0.0) -> str:
    """Submit and commit one request; return its UUID."""
    persist = persist_of(core.on_request(CALLER, [SVC, *body], WALL + now))
    out = core.on_committed(persist.token, True, now)
    (answer,) = only(out, Answer)
    assert isinstance(answer, Answer)
    assert answer.body[0] == b"200"
    return answer.body[1].decode()


def reply_status(core: TitanicCore, uuid: str, wall: float = WALL) -> object:
    (out,) = core.on_reply_query(REPLIER, [uuid.encode()], wall)
    if isinstance(out, AnswerStored):
        return out
    assert isinstance(out, Answer)
    return out.body


def test_request_is_answered_only_after_its_commit() -> None:
    """§5.5.1: request and queue entry in one transaction; 200+UUID only after it."""
    core = make_core()
    out = core.on_request(CALLER, [SVC, b"hello", b""], WALL)
    assert out == [
        Persist(
            1,
            (
                PutRequest(uuid_of(1), SVC, (b"hello", b""), WALL),
                PutQueue(0, uuid_of(1)),
            ),
        )
    ]
    assert reply_status(core, uuid_of(1)) == (b"400",)
    assert core.on_committed(1, True, 0.0) == [
        Noted(Event.ACCEPTED, uuid_of(1)),
        Answer(CALLER, (b"200", uuid_of(1).encode())),
    ]
    assert reply_status(core, uuid_of(1)) == (b"300",)


def test_failed_commit_answers_500_and_keeps_nothing() -> None:
    """§5.5.1: a failed commit replies [b"500"] and stores nothing."""
    core = make_core()
    persist = persist_of(core.on_request(CALLER, [SVC, b"x"], WALL))
    assert core.on_committed(persist.token, False, 0.0) == [
        Noted(Event.FAILED, uuid_of(1), "accept_commit"),
        Answer(CALLER, (b"500",)),
    ]
    assert reply_status(core, uuid_of(1)) == (b"400",)
    assert core.on_service(SVC, True, 0.0) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param([SVC], "short", id="no-body-frame"),
        pytest.param([b"", b"x"], "bad_service", id="empty-service"),
        pytest.param([SVC, b"x" * 101], "too_large", id="over-limit"),
    ],
)
def test_malformed_or_oversize_request_is_answered_400_and_not_stored(
    body: list[bytes], reason: str
) -> None:
    """§5.3 raspy: malformed → 400; issue 5: oversize → 400 and nothing stored."""
    core = make_core(max_body_bytes=100)
    assert core.on_request(CALLER, body, WALL) == [
        Noted(Event.REJECTED, "", reason),
        Answer(CALLER, (b"400",)),
    ]


def test_a_bad_uuid_is_unknown_400_for_reply_and_200_for_close() -> None:
    """§5.2 raspy: anything not 32 hex characters is an unknown UUID: titanic.reply
    answers 400, titanic.close answers 200 as for any unknown UUID (§5.4)."""
    core = make_core()
    assert core.on_reply_query(REPLIER, [b"nope"], WALL) == [
        Noted(Event.REJECTED, "", "bad_uuid"),
        Answer(REPLIER, (b"400",)),
    ]
    assert core.on_close(CLOSER, [b"nope"]) == [Answer(CLOSER, (b"200",))]
    assert core.on_close(CLOSER, [b"a", b"b"]) == [
        Noted(Event.REJECTED, "", "extra_frames"),
        Answer(CLOSER, (b"400",)),
    ]


def test_full_lifecycle_request_dispatch_reply_close() -> None:
    """§5.4: PENDING → 300; DONE → 200 + reply; close deletes all; then 400."""
    core = make_core()
    uuid = accept(core, [b"hello"])
    assert core.on_service(SVC, True, 1.0) == [
        OpenSlot(0),
        Dispatch(0, uuid, SVC, (b"hello",), 1),
    ]
    out = core.on_dispatch_reply(0, [b"world"], True, 1.5, WALL + 1.5)
    assert out == [
        Persist(2, (PutReply(uuid, (b"world",), WALL + 1.5), DeleteQueue(0, uuid)))
    ]
    assert reply_status(core, uuid) == (b"300",)  # not stored yet
    assert core.on_committed(2, True, 1.6) == [Noted(Event.DONE, uuid)]
    assert reply_status(core, uuid) == AnswerStored(REPLIER, uuid)
    assert reply_status(core, uuid) == AnswerStored(REPLIER, uuid)  # repeatable
    assert core.on_close(CLOSER, [uuid.encode()]) == [
        Persist(3, (DeleteRequest(uuid), DeleteReply(uuid)))
    ]
    assert core.on_committed(3, True, 2.0) == [
        Noted(Event.CLOSED, uuid),
        Answer(CLOSER, (b"200",)),
    ]
    assert reply_status(core, uuid) == (b"400",)
    assert core.on_close(CLOSER, [uuid.encode()]) == [Answer(CLOSER, (b"200",))]
    assert core.known_count() == 0


def test_partials_and_final_are_stored_as_one_concatenated_body() -> None:
    """§5.5.5: the stored reply is the PARTIAL bodies followed by the FINAL body."""
    core = make_core()
    uuid = accept(core, [b"q"])
    core.on_service(SVC, True, 0.0)
    assert core.on_dispatch_reply(0, [b"a"], False, 0.1, WALL) == []
    assert core.on_dispatch_reply(0, [b"b", b""], False, 0.2, WALL) == []
    out = core.on_dispatch_reply(0, [b"c"], True, 0.3, WALL + 0.3)
    assert persist_of(out).writes[0] == PutReply(
        uuid, (b"a", b"b", b"", b"c"), WALL + 0.3
    )


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


def test_close_cancels_a_pending_request_and_drops_its_late_reply() -> None:
    """§5.4: closing a PENDING request cancels it; a later reply is thrown away."""
    core = make_core()
    uuid = accept(core, [b"x"])
    core.on_service(SVC, True, 0.0)
    persist = persist_of(core.on_close(CLOSER, [uuid.encode()]))
    assert persist.writes == (
        DeleteRequest(uuid),
        DeleteReply(uuid),
        DeleteQueue(0, uuid),
    )
    core.on_committed(persist.token, True, 0.5)
    assert core.on_dispatch_reply(0, [b"late"], True, 1.0, WALL) == [
        Noted(Event.REPLY_DROPPED, uuid, "not_pending")
    ]
    assert reply_status(core, uuid) == (b"400",)


def test_close_of_a_queued_request_stops_it_being_dispatched() -> None:
    """§5.4: the dispatcher must skip a closed request."""
    core = make_core()
    uuid = accept(core, [b"x"])
    persist = persist_of(core.on_close(CLOSER, [uuid.encode()]))
    core.on_committed(persist.token, True, 0.0)
    assert core.on_service(SVC, True, 0.0) == []


def test_concurrent_closes_are_all_answered_after_one_commit() -> None:
    """§5.4: titanic.close is idempotent."""
    core = make_core()
    uuid = accept(core, [b"x"])
    persist = persist_of(core.on_close(CLOSER, [uuid.encode()]))
    other = Caller(b"\xfftitanic.close.1", b"\x00other")
    assert core.on_close(other, [uuid.upper().encode()]) == []
    assert core.on_committed(persist.token, True, 0.0) == [
        Noted(Event.CLOSED, uuid),
        Answer(CLOSER, (b"200",)),
        Answer(other, (b"200",)),
    ]


def test_failed_close_answers_500_and_the_request_stays_pending() -> None:
    """§5.2: titanic.close answers 500 when the store fails; nothing is lost."""
    core = make_core()
    uuid = accept(core, [b"x"])
    persist = persist_of(core.on_close(CLOSER, [uuid.encode()]))
    assert core.on_committed(persist.token, False, 0.0) == [
        Noted(Event.FAILED, uuid, "delete_commit"),
        Answer(CLOSER, (b"500",)),
    ]
    assert reply_status(core, uuid) == (b"300",)
    core.on_service(SVC, True, 0.0)
    assert only(core.on_tick(1.0, WALL), Dispatch) == [
        Dispatch(0, uuid, SVC, (b"x",), 1)
    ]


def test_failed_reply_commit_retries_the_request() -> None:
    """§5.6 at-least-once: a reply that could not be stored is fetched again."""
    core = make_core()
    uuid = accept(core, [b"x"])
    core.on_service(SVC, True, 0.0)
    persist = persist_of(core.on_dispatch_reply(0, [b"r"], True, 0.1, WALL))
    assert core.on_committed(persist.token, False, 0.2) == [
        Noted(Event.FAILED, uuid, "reply_commit")
    ]
    assert reply_status(core, uuid) == (b"300",)
    assert only(core.on_tick(1.2, WALL), Dispatch) == [
        Dispatch(0, uuid, SVC, (b"x",), 2)
    ]


def test_close_while_the_reply_is_being_stored_wins() -> None:
    """§5.4: close deletes the request, its reply and its queue entry."""
    core = make_core()
    uuid = accept(core, [b"x"])
    core.on_service(SVC, True, 0.0)
    stored = persist_of(core.on_dispatch_reply(0, [b"r"], True, 0.1, WALL))
    closed = persist_of(core.on_close(CLOSER, [uuid.encode()]))
    assert reply_status(core, uuid) == (b"300",)
    assert core.on_committed(stored.token, True, 0.2) == []
    assert core.on_committed(closed.token, True, 0.3) == [
        Noted(Event.CLOSED, uuid),
        Answer(CLOSER, (b"200",)),
    ]
    assert reply_status(core, uuid) == (b"400",)


def test_restart_reloads_pending_requests_and_dispatches_them_again() -> None:
    """§5.5.3: on start-up everything still PENDING is dispatched again."""
    core = make_core()
    requests = [
        StoredRequest(uuid_of(7), SVC, (b"done",), WALL - 9),
        StoredRequest(uuid_of(8), SVC, (b"second",), WALL - 8),
        StoredRequest(uuid_of(9), SVC, (b"first",), WALL - 7),
    ]
    queue = [(12, uuid_of(8)), (11, uuid_of(9)), (13, uuid_of(99))]
    assert core.load(requests, queue, 0.0) == [
        Persist(1, (DeleteQueue(13, uuid_of(99)),))
    ]
    assert reply_status(core, uuid_of(7)) == AnswerStored(REPLIER, uuid_of(7))
    assert reply_status(core, uuid_of(8)) == (b"300",)
    assert only(core.on_service(SVC, True, 0.0), Dispatch) == [
        Dispatch(0, uuid_of(9), SVC, (b"first",), 1),
        Dispatch(1, uuid_of(8), SVC, (b"second",), 1),
    ]
    persist = persist_of(core.on_request(CALLER, [SVC, b"new"], WALL))
    assert persist.writes[1] == PutQueue(14, uuid_of(1))


def test_load_must_come_first() -> None:
    """Start-up order: load() before any request."""
    core = make_core()
    accept(core, [b"x"])
    with pytest.raises(ValueError, match="load"):
        core.load([], [], 0.0)


def test_retention_limit_forgets_never_closed_requests() -> None:
    """Issue 5 raspy extension: after the retention limit titanic.reply answers 400."""
    core = make_core(retention_s=100.0)
    uuid = accept(core, [b"x"])
    assert reply_status(core, uuid, WALL + 99) == (b"300",)
    assert reply_status(core, uuid, WALL + 100) == (b"400",)
    assert core.next_deadline() == 0.0
    assert core.on_tick(0.0, WALL + 50) == []
    out = core.on_tick(1.0, WALL + 100)
    persist = persist_of(out)
    assert persist.writes == (
        DeleteRequest(uuid),
        DeleteReply(uuid),
        DeleteQueue(0, uuid),
    )
    assert core.on_committed(persist.token, True, 1.1) == [Noted(Event.EXPIRED, uuid)]
    assert core.known_count() == 0


def test_retention_off_keeps_requests_until_closed() -> None:
    """§5.5.4: RFC 9 defines no expiry; the default keeps everything."""
    core = make_core()
    uuid = accept(core, [b"x"])
    assert reply_status(core, uuid, WALL + 10 * 365 * 86400) == (b"300",)
    assert core.next_deadline() is None


def test_oversize_reply_is_not_stored_and_the_request_is_retried() -> None:
    """A reply over max_reply_bytes fails that attempt; the request stays pending."""
    core = make_core(max_reply_bytes=10)
    uuid = accept(core, [b"x"])
    core.on_service(SVC, True, 0.0)
    assert core.on_dispatch_reply(0, [b"x" * 11], False, 0.1, WALL) == [
        CloseSlot(0),
        Noted(Event.FAILED, uuid, "reply_too_large"),
    ]
    assert reply_status(core, uuid) == (b"300",)


# ---------------------------------------------------------------- property

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
