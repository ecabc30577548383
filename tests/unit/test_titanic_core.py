"""TitanicCore's request lifecycle with time passed in: accept, reply, close, restart
and retention (docs/protocols.md §5.4-§5.6, issue 5)."""

from __future__ import annotations

import pytest
from support.titanic_core_calls import (
    CALLER,
    CLOSER,
    REPLIER,
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
    Persist,
    PutQueue,
    PutReply,
    PutRequest,
    StoredRequest,
    TitanicCore,
)
from raspy.storage.tables import TitanicReplyRecord, encode_titanic_reply


def reply_status(core: TitanicCore, uuid: str, now: float = 0.0) -> object:
    (out,) = core.on_reply_query(REPLIER, [uuid.encode()], now)
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
        # no worker can register for these (§2.5, RFC 8): pending for ever
        pytest.param([b"s" * 256, b"x"], "bad_service", id="service-over-255"),
        pytest.param([b"mmi.service", b"echo"], "bad_service", id="mmi-service"),
        pytest.param([SVC, b"x" * 1001], "too_large", id="over-limit"),
    ],
)
def test_malformed_or_oversize_request_is_answered_400_and_not_stored(
    body: list[bytes], reason: str
) -> None:
    """§5.3 raspy: malformed → 400; issue 5: oversize → 400 and nothing stored."""
    core = make_core(max_body_bytes=1000)
    assert core.on_request(CALLER, body, WALL) == [
        Noted(Event.REJECTED, "", reason),
        Answer(CALLER, (b"400",)),
    ]


def test_a_request_for_a_service_titanic_must_not_relay_is_400_and_not_stored() -> None:
    """`<host>.http` refuses network clients; Titanic's dispatch is an in-process
    one, so it must not take a network client's request for it (nor anyone's)."""
    core = make_core(not_relayed=frozenset({b"pi.http"}))  # type: ignore[arg-type]
    assert core.on_request(CALLER, [b"pi.http", b"{}"], WALL) == [
        Noted(Event.REJECTED, "", "not_relayed"),
        Answer(CALLER, (b"400",)),
    ]
    assert core.pending_count() == 0
    assert isinstance(
        only(core.on_request(CALLER, [SVC, b"x"], WALL), Persist)[0], Persist
    )


def test_a_bad_uuid_is_unknown_400_for_reply_and_200_for_close() -> None:
    """§5.2 raspy: anything not 32 hex characters is an unknown UUID: titanic.reply
    answers 400, titanic.close answers 200 as for any unknown UUID (§5.4)."""
    core = make_core()
    assert core.on_reply_query(REPLIER, [b"nope"], 0.0) == [
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
    assert core.load(requests, queue, 0.0, 0.0) == [
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
        core.load([], [], 0.0, 0.0)


def test_retention_limit_forgets_never_closed_requests() -> None:
    """Issue 5 raspy extension: after the retention limit titanic.reply answers 400."""
    core = make_core(retention_s=100.0)
    uuid = accept(core, [b"x"])
    assert reply_status(core, uuid, 99.0) == (b"300",)
    assert reply_status(core, uuid, 100.0) == (b"400",)
    assert core.next_deadline() == 100.0  # no wake-up before it is due
    assert core.on_tick(50.0, WALL + 50) == []
    out = core.on_tick(100.0, WALL + 100)
    persist = persist_of(out)
    assert persist.writes == (
        DeleteRequest(uuid),
        DeleteReply(uuid),
        DeleteQueue(0, uuid),
    )
    assert core.on_committed(persist.token, True, 100.1) == [Noted(Event.EXPIRED, uuid)]
    assert core.known_count() == 0


@pytest.mark.parametrize("first", ["close", "purge"])
def test_a_failed_deletion_that_close_and_purge_met_in_is_purged_later(
    first: str,
) -> None:
    """Retention keeps nothing for ever: a request whose deletion (a close's, which
    the purge met, or the purge's, which a close joined) fails is purged at a later
    check (it was dropped from the retention heap, so kept until closed)."""
    core = make_core(retention_s=100.0)
    uuid = accept(core, [b"x"])
    if first == "close":
        deletion = persist_of(core.on_close(CLOSER, [uuid.encode()]))
        assert only(core.on_tick(100.0, WALL + 100), Persist) == []
    else:
        deletion = persist_of(core.on_tick(100.0, WALL + 100))
        assert core.on_close(CLOSER, [uuid.encode()]) == []
    out = core.on_committed(deletion.token, False, 100.1)
    assert Answer(CLOSER, (b"500",)) in out
    again = persist_of(core.on_tick(101.0, WALL + 101))
    assert again.writes == (
        DeleteRequest(uuid),
        DeleteReply(uuid),
        DeleteQueue(0, uuid),
    )
    assert core.on_committed(again.token, True, 101.1) == [Noted(Event.EXPIRED, uuid)]
    assert core.known_count() == 0
    assert core.on_tick(102.0, WALL + 102) == []  # the next check finds it gone
    assert core.next_deadline() is None


def test_retention_off_keeps_requests_until_closed() -> None:
    """§5.5.4: RFC 9 defines no expiry; the default keeps everything."""
    core = make_core()
    uuid = accept(core, [b"x"])
    assert reply_status(core, uuid, 10 * 365 * 86400.0) == (b"300",)
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


def test_a_reply_streamed_in_many_small_frames_is_stored_within_its_limit() -> None:
    """Each frame takes a few bytes more in the stored record, and PARTIALs are not
    bound by broker.max_frames: counted without them, 600 one-byte frames passed a
    limit of 1000 as 600 bytes and made a record of 1.8 kB, which a store sized by
    the config check refused again at every attempt."""
    core = make_core(max_reply_bytes=1000)
    uuid = accept(core, [b"x"])
    core.on_service(SVC, True, 0.0)
    out: list[object] = []
    for _ in range(599):
        out += core.on_dispatch_reply(0, [b"y"], False, 0.1, WALL)
    out += core.on_dispatch_reply(0, [b"y"], True, 0.1, WALL)
    stored = [
        len(encode_titanic_reply(TitanicReplyRecord(write.body, write.done)))
        for persist in out
        if isinstance(persist, Persist)
        for write in persist.writes
        if isinstance(write, PutReply)
    ]
    assert all(size <= 1000 + 64 for size in stored), stored
    assert Noted(Event.FAILED, uuid, "reply_too_large") in out


def _two_in_flight_one_waiting(core: TitanicCore) -> list[str]:
    uuids = [accept(core, [b"q%d" % n]) for n in range(3)]
    opened = core.on_service(SVC, True, 1.0)
    assert only(opened, Dispatch) == [
        Dispatch(0, uuids[0], SVC, (b"q0",), 1),
        Dispatch(1, uuids[1], SVC, (b"q1",), 1),
    ]
    return uuids


def test_replies_of_one_turn_store_as_one_by_one_and_refill_the_window_once() -> None:
    """Two FINALs in one call: the same writes, in order, as two calls would give;
    the one waiting request is dispatched once, after both (window of 2)."""
    single, batched = make_core(dispatch_window=2), make_core(dispatch_window=2)
    uuids = _two_in_flight_one_waiting(single)
    assert _two_in_flight_one_waiting(batched) == uuids
    one_by_one = [
        *single.on_dispatch_reply(0, [b"r0"], True, 2.0, WALL),
        *single.on_dispatch_reply(1, [b"r1"], True, 2.0, WALL),
    ]
    together = batched.on_dispatch_replies(
        [(0, [b"r0"], True), (1, [b"r1"], True)], 2.0, WALL
    )
    persisted = [out for out in together if isinstance(out, Persist)]
    expected = [out for out in one_by_one if isinstance(out, Persist)]
    assert [p.writes for p in persisted] == [p.writes for p in expected]
    assert [p.writes for p in persisted] == [
        (PutReply(uuids[0], (b"r0",), WALL), DeleteQueue(0, uuids[0])),
        (PutReply(uuids[1], (b"r1",), WALL), DeleteQueue(1, uuids[1])),
    ]
    dispatched = [out for out in together if isinstance(out, Dispatch)]
    assert [d.uuid for d in dispatched] == [uuids[2]]
    assert together.index(dispatched[0]) > together.index(persisted[-1])
