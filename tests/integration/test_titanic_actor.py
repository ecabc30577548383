"""TitanicActor on a real edge, real LMDB and real sockets (docs/protocols.md §5.5, §5.6)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.edge_fixtures import EdgeHandle
from support.titanic import RawWorker, TitanicHarness, open_store
from support.wait import wait_until
from support.writer_gate import WriterGate

from raspy.actors.messages import GetStats
from raspy.cli import raspy as raspy_cli
from raspy.client.mdp import Client, Worker
from raspy.config import TitanicConfig
from raspy.errors import TitanicError
from raspy.stats import Stats
from raspy.storage import tables
from raspy.storage.store import Delete, Put, Store, Table

SVC = b"test.echo"


def harness(edge: EdgeHandle, store: Store) -> TitanicHarness:
    return TitanicHarness(
        edge.ref, edge.outbox, edge.endpoint, edge.context, store, Stats()
    )


@pytest.fixture
def titanic(edge: EdgeHandle, tmp_path: Path) -> Iterator[TitanicHarness]:
    store = open_store(tmp_path / "store")
    handle = harness(edge, store)
    handle.start()
    yield handle
    handle.stop()
    store.close()


@pytest.fixture
def worker(titanic: TitanicHarness) -> Iterator[RawWorker]:
    raw = RawWorker(titanic.context, titanic.endpoint, SVC)
    yield raw
    raw.close()


def test_request_and_queue_entry_are_stored_before_the_uuid_is_returned(
    titanic: TitanicHarness,
) -> None:
    """§5.5.1: in one transaction write the request and its queue entry; then 200."""
    with titanic.client() as client:
        uuid = client.submit(SVC, b"hello", b"")
        stored = titanic.store.get(Table.TITANIC_REQUESTS, uuid.encode())
        assert stored is not None
        record = tables.decode_titanic_request(stored)
        assert (record.service, record.body) == (SVC, (b"hello", b""))
        assert titanic.store.scan(Table.TITANIC_QUEUE) == [
            (tables.queue_key(0, uuid.encode()), uuid.encode())
        ]
        assert client.reply(uuid) == (b"300", [])


def test_pending_request_is_dispatched_when_a_worker_comes_and_its_reply_stored(
    titanic: TitanicHarness,
) -> None:
    """§5.4 lifecycle with a worker that registers after the request was accepted."""
    with titanic.client() as client:
        uuid = client.submit(SVC, b"ping")
        raw = RawWorker(titanic.context, titanic.endpoint, SVC)
        try:
            request = raw.request()
            assert request.body == (b"ping",)
            raw.reply(request.client, (b"pong", b""))
            assert client.wait(uuid, timeout_s=5, poll_initial_s=0.01) == [b"pong", b""]
        finally:
            raw.close()
        assert titanic.store.scan(Table.TITANIC_QUEUE) == []
        assert client.wait(uuid, timeout_s=5) == [b"pong", b""]  # repeatable
        client.close(uuid)
        assert client.reply(uuid) == (b"400", [])
        client.close(uuid)  # idempotent
    for name in (Table.TITANIC_REQUESTS, Table.TITANIC_REPLIES, Table.TITANIC_QUEUE):
        assert titanic.store.scan(name) == []
    counts = {
        name: titanic.stats.get(f"titanic.{name}")
        for name in ("accepted", "dispatched", "retried", "done", "closed", "failed")
    }
    assert counts == {
        "accepted": 1,
        "dispatched": 1,
        "retried": 0,
        "done": 1,
        "closed": 1,
        "failed": 0,
    }


def test_partials_and_final_from_a_02_worker_are_stored_as_one_reply(
    titanic: TitanicHarness, worker: RawWorker
) -> None:
    """§5.5.5: the stored reply is the PARTIAL bodies followed by the FINAL body."""
    with titanic.client() as client:
        uuid = client.submit(SVC, b"stream")
        request = worker.request()
        worker.reply(request.client, (b"a",), final=False)
        worker.reply(request.client, (b"b", b"c"), final=False)
        worker.reply(request.client, (b"d",))
        body = client.wait(uuid, timeout_s=5, poll_initial_s=0.01)
    assert body == [b"a", b"b", b"c", b"d"]


def test_close_cancels_a_pending_request_and_its_late_reply_is_dropped(
    titanic: TitanicHarness, worker: RawWorker
) -> None:
    """§5.4: closing a PENDING request cancels it; a reply after that is thrown away."""
    with titanic.client() as client:
        uuid = client.submit(SVC, b"x")
        request = worker.request()
        client.close(uuid)
        worker.reply(request.client, (b"late",))
        wait_until(
            lambda: titanic.stats.get("titanic.reply_dropped") == 1,
            what="the late reply to be dropped",
        )
        assert client.reply(uuid) == (b"400", [])
    assert titanic.store.scan(Table.TITANIC_REQUESTS) == []
    assert titanic.store.scan(Table.TITANIC_REPLIES) == []


def test_dispatch_that_times_out_is_retried_and_the_late_reply_is_dropped(
    titanic: TitanicHarness, worker: RawWorker
) -> None:
    """§5.5.2: on timeout, retry that UUID later with backoff."""
    with titanic.client() as client:
        uuid = client.submit(SVC, b"slow")
        first = worker.request()
        wait_until(
            lambda: titanic.stats.get("titanic.dispatched") == 2,
            what="a second attempt after the 2 s timeout",
        )
        worker.reply(first.client, (b"too late",))  # the broker then hands on the retry
        second = worker.request()
        assert second.body == first.body == (b"slow",)
        assert second.client != first.client  # a fresh dispatcher slot
        worker.reply(second.client, (b"on time",))
        assert client.wait(uuid, timeout_s=5, poll_initial_s=0.01) == [b"on time"]
    assert titanic.stats.get("titanic.retried") == 1
    assert titanic.stats.get("titanic.dispatched") == 2


def test_an_attempt_left_queued_by_a_board_that_went_away_is_not_run_beside_its_retry(
    titanic: TitanicHarness, edge: EdgeHandle
) -> None:
    """A board takes attempt 1 and goes away: the broker queues the attempt again.
    Titanic's attempt times out, and it sends attempt 2 once the service is back.
    The board that comes back must get attempt 2 only: attempt 1 was dropped in the
    broker when Titanic gave it up, so a toggle runs once."""

    def abandoned() -> bool:
        stats = edge.ref.ask(GetStats(), timeout=5)
        assert isinstance(stats, dict)
        return stats.get("broker.dropped.abandoned") == 1

    with titanic.client() as client:
        uuid = client.submit(SVC, b"toggle")
        board = RawWorker(titanic.context, titanic.endpoint, SVC)
        first = board.request()
        board.close()  # DISCONNECT: attempt 1 goes back to the front of the queue
        wait_until(abandoned, what="attempt 1 dropped at its 2 s timeout")
        back = RawWorker(titanic.context, titanic.endpoint, SVC)
        try:
            got = back.request()
            assert got.client != first.client  # the retry's slot, not attempt 1's
            back.reply(got.client, (b"toggled",))
            assert client.wait(uuid, timeout_s=5, poll_initial_s=0.01) == [b"toggled"]
        finally:
            back.close()


def test_restart_reloads_the_queue_and_dispatches_oldest_first(
    titanic: TitanicHarness,
) -> None:
    """§5.5.3: on start-up, everything still PENDING is dispatched again."""
    with titanic.client() as client:
        uuids = [client.submit(SVC, str(n).encode()) for n in range(3)]
    titanic.stop()
    titanic.start()
    assert titanic.inspect() == {"known": 3, "pending": 3, "in_flight": 0}
    raw = RawWorker(titanic.context, titanic.endpoint, SVC)
    try:
        seen = []
        for _ in uuids:
            request = raw.request()
            seen.append(request.body)
            raw.reply(request.client, request.body)
    finally:
        raw.close()
    assert seen == [(b"0",), (b"1",), (b"2",)]
    with titanic.client() as client:
        for n, uuid in enumerate(uuids):
            assert client.wait(uuid, timeout_s=5, poll_initial_s=0.01) == [
                str(n).encode()
            ]


def test_a_restart_reads_the_store_once_the_old_actors_writes_are_in(
    titanic: TitanicHarness,
) -> None:
    """Titanic restarts on a reload; the reply the old actor stored last may still
    wait in the store's queue (a slow card). The new actor read the queue before it
    was written, took the request for pending and had the service do it again."""
    store = titanic.store
    with titanic.client() as client:
        uuid = client.submit(SVC, b"open the garage")
    titanic.stop()
    ((queue_key, _),) = store.scan(Table.TITANIC_QUEUE)
    with WriterGate(store) as gate:
        done = tables.TitanicReplyRecord((b"opened",), 1.0)
        reply = tables.encode_titanic_reply(done)
        store.submit(  # the old actor's last turn: the reply and its queue entry
            [
                Put(Table.TITANIC_REPLIES, uuid.encode(), reply),
                Delete(Table.TITANIC_QUEUE, queue_key),
            ]
        )

        def restart() -> dict[str, int]:
            titanic.start()
            return titanic.inspect()  # answered once the actor's start is over

        gate.open_once_started(restart, what="the new actor's start")
    assert titanic.inspect() == {"known": 1, "pending": 0, "in_flight": 0}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([SVC], id="no-body-frame"),
        pytest.param([b"", b"x"], id="empty-service"),
        pytest.param([SVC, b"x" * 2000], id="over-max-body-bytes"),
    ],
)
def test_malformed_or_oversize_request_is_answered_400_and_nothing_stored(
    edge: EdgeHandle, tmp_path: Path, body: list[bytes]
) -> None:
    """§5.3 raspy: malformed → 400; issue 5: oversize → 400 and nothing stored."""
    with open_store(tmp_path / "store") as store:
        handle = harness(edge, store)
        handle.start(TitanicConfig(service_workers=1, max_body_bytes=1000))
        try:
            with Client(edge.endpoint, context=edge.context) as client:
                frames = client.request(b"titanic.request", *body)
            assert frames == [b"400"]
            assert store.scan(Table.TITANIC_REQUESTS) == []
        finally:
            handle.stop()


def test_a_submit_over_max_body_bytes_raises_400_saying_not_to_retry(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    """TitanicClient.submit: the error says what 400 means for a request (it used to
    say "answered UNKNOWN", the protocol's name for an unknown UUID)."""
    with open_store(tmp_path / "store") as store:
        handle = harness(edge, store)
        handle.start(TitanicConfig(service_workers=1, max_body_bytes=1000))
        try:
            with handle.client() as client:
                with pytest.raises(TitanicError, match="max_body_bytes") as caught:
                    client.submit(SVC, b"x" * 2000)
                assert caught.value.status == b"400"
                assert "do not retry" in str(caught.value)
        finally:
            handle.stop()


@pytest.mark.parametrize("uuid", ["Ünknown", "\udcff", ""])
def test_a_uuid_that_is_no_text_of_ascii_is_unknown_to_the_hub(
    edge: EdgeHandle, tmp_path: Path, uuid: str
) -> None:
    """reply/close/wait sent the UUID as ASCII: any other text raised
    UnicodeEncodeError in the client, where RFC 9 answers 400 (unknown UUID)."""
    with open_store(tmp_path / "store") as store:
        handle = harness(edge, store)
        handle.start(TitanicConfig(service_workers=1))
        try:
            with handle.client() as client:
                status, _ = client.reply(uuid)
                with pytest.raises(TitanicError) as caught:
                    client.wait(uuid, timeout_s=5)
                client.close(uuid)  # idempotent: 200 for an unknown UUID
        finally:
            handle.stop()
    assert (status, caught.value.status) == (b"400", b"400")


def test_request_the_store_refuses_is_answered_500_and_nothing_stored(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    """§5.5.1: a failed commit replies [b"500"] and stores nothing."""
    with open_store(tmp_path / "store", max_value_bytes=1024) as store:
        handle = harness(edge, store)
        handle.start()
        try:
            with handle.client() as client:
                with pytest.raises(TitanicError, match="retry later") as caught:
                    client.submit(SVC, b"x" * 2000)
                assert caught.value.status == b"500"
                assert client.submit(SVC, b"small")  # the store still works
            assert len(store.scan(Table.TITANIC_REQUESTS)) == 1
            assert len(store.scan(Table.TITANIC_QUEUE)) == 1
            assert handle.stats.get("titanic.failed") == 1
        finally:
            handle.stop()


def test_commit_that_fails_in_the_writer_is_answered_500_and_nothing_stored(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    """§5.5.1 with a full store: every 200 is stored, every 500 left nothing."""
    with open_store(tmp_path / "store", map_size_max_mb=1) as store:
        handle = harness(edge, store)
        handle.start()
        accepted: list[str] = []
        refused = 0
        statuses: set[bytes] = set()
        try:
            with handle.client() as client:
                for n in range(12):
                    try:
                        accepted.append(client.submit(SVC, bytes([n]) * 150_000))
                    except TitanicError as exc:
                        refused += 1
                        statuses.add(exc.status)
            assert (refused > 0, statuses) == (True, {b"500"})
            stored = [key.decode() for key, _ in store.scan(Table.TITANIC_REQUESTS)]
            assert sorted(stored) == sorted(accepted)
            assert len(store.scan(Table.TITANIC_QUEUE)) == len(accepted)
        finally:
            handle.stop()


def test_retention_limit_answers_400_and_purges_never_closed_requests(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    """Issue 5 raspy extension: after the retention limit titanic.reply answers 400."""
    clock = FakeClock()
    with open_store(tmp_path / "store") as store:
        handle = harness(edge, store)
        handle.start(TitanicConfig(service_workers=1, retention_s=3600.0), clock)
        try:
            with handle.client() as client:
                uuid = client.submit(SVC, b"forgotten")
                assert client.reply(uuid) == (b"300", [])
                clock.advance(3600.0)
                assert client.reply(uuid) == (b"400", [])
                wait_until(
                    lambda: store.scan(Table.TITANIC_REQUESTS) == [],
                    what="the expired request to be purged",
                )
            assert store.scan(Table.TITANIC_QUEUE) == []
            # counted when the actor hears of the commit, a moment after it is seen
            wait_until(
                lambda: handle.stats.get("titanic.expired") == 1,
                what="the purge to be counted as expired",
            )
            assert handle.stats.get("titanic.closed") == 0
        finally:
            handle.stop()


def test_retention_counts_real_time_when_ntp_sets_the_clock(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    """A request accepted on a Pi's clock before NTP is not purged when NTP sets it:
    it is kept retention_s of the monotonic clock."""
    clock = FakeClock(wall=120.0)
    with open_store(tmp_path / "store") as store:
        handle = harness(edge, store)
        handle.start(TitanicConfig(service_workers=1, retention_s=3600.0), clock)
        try:
            with handle.client() as client:
                uuid = client.submit(SVC, b"early")
                clock.step_wall(1.765e9)
                clock.advance(10.0)
                assert client.reply(uuid) == (b"300", [])
                clock.advance(3590.0)
                assert client.reply(uuid) == (b"400", [])
                wait_until(
                    lambda: store.scan(Table.TITANIC_REQUESTS) == [],
                    what="the expired request to be purged",
                )
        finally:
            handle.stop()


def test_raspy_call_titanic_submits_waits_closes_and_prints_the_reply(
    titanic: TitanicHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 5: `raspy call --titanic SERVICE BODY…` submits, waits, closes, prints."""
    stop = threading.Event()

    def serve() -> None:
        with Worker(titanic.endpoint, SVC, context=titanic.context, linger_ms=0) as w:
            w.serve(lambda body: [b"echo:" + body[0]], stop=stop)

    thread = threading.Thread(target=serve, name="titanic-echo-worker")
    thread.start()
    try:
        argv = ["call", "--titanic", "--server", titanic.endpoint, "--wait", "10"]
        with Client(titanic.endpoint, context=titanic.context) as probe:
            wait_until(
                lambda: probe.request(b"mmi.service", SVC) == [b"200"],
                what="the echo worker to register",
            )
        capsys.readouterr()  # drop what was logged before the command ran
        status = raspy_cli.main([*argv, SVC.decode(), "hello"])
    finally:
        stop.set()
        thread.join(timeout=5)
    assert (status, capsys.readouterr().out) == (0, "echo:hello\n")
    assert titanic.store.scan(Table.TITANIC_REQUESTS) == []


def test_raspy_call_titanic_past_its_wait_exits_1_naming_the_request_left_queued(
    titanic: TitanicHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    """README, Titanic: past `--wait S` raspy call exits 1 naming the request, which
    stays queued; `raspy call titanic.reply UUID` then answers 300 (pending)."""
    argv = ["call", "--server", titanic.endpoint, "--timeout", "1"]
    status = raspy_cli.main([*argv, "--titanic", "--wait", "0.5", SVC.decode(), "hi"])
    err = capsys.readouterr().err
    assert status == 1, err
    uuid = err.split("stored as Titanic request ")[1].split()[0]
    assert (
        f"raspy call: no reply in 0.5 s; request {uuid} stays queued "
        f"(ask again: raspy call titanic.reply {uuid})"
    ) in err
    assert raspy_cli.main([*argv, "titanic.reply", uuid]) == 0
    assert capsys.readouterr().out == "300\n"


@pytest.mark.parametrize(
    ("capacity", "overflow"), [(1024, False), (1, True)], ids=["handed", "overflow"]
)
def test_requests_past_the_handler_capacity_queue_for_the_workers(
    edge: EdgeHandle, tmp_path: Path, capacity: int, overflow: bool
) -> None:
    """The broker hands titanic.* to Titanic directly up to handler_capacity at once;
    the rest go to its MDP workers or wait for a place. Either way: 200 + UUID after
    the commit, and
    the client's own MDP version in the reply (0.1 on REQ, 0.2 on DEALER)."""
    store = open_store(tmp_path / "store")
    handle = harness(edge, store)
    handle.start(TitanicConfig(service_workers=2, handler_capacity=capacity))
    handle.inspect()  # answered after on_start: the handler is registered
    sockets = [edge.context.socket(zmq.DEALER) for _ in range(24)]
    try:
        for n, sock in enumerate(sockets):
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(edge.endpoint)
            body = [SVC, str(n).encode()]
            if n % 2:
                sock.send_multipart([b"MDPC02", b"\x01", b"titanic.request", *body])
            else:
                sock.send_multipart([b"", b"MDPC01", b"titanic.request", *body])
        uuids = []
        for n, sock in enumerate(sockets):
            assert sock.poll(5000)
            frames = sock.recv_multipart()
            if n % 2:
                assert frames[:3] == [b"MDPC02", b"\x03", b"titanic.request"]
            else:
                assert frames[:3] == [b"", b"MDPC01", b"titanic.request"]
            assert frames[-2] == b"200"
            uuids.append(frames[-1])
            # counted before it is answered, whichever way it came
            assert handle.stats.get("titanic.accepted") >= len(uuids)
        assert len(set(uuids)) == len(sockets)
        for uuid in uuids:
            assert store.get(Table.TITANIC_REQUESTS, uuid) is not None
        assert handle.stats.get("titanic.handed") > 0
        assert (handle.stats.get("titanic.via_workers") > 0) is overflow
    finally:
        for sock in sockets:
            sock.close(linger=0)
        handle.stop()
        store.close()
