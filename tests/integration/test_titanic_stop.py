"""TitanicActor's stop with commits still running, on a real edge and real LMDB (a
reload of [titanic] and raspyd's stop both stop Titanic while clients wait): by
pykka's stop alone (a stop that did not prepare), and as raspyd stops it, through
its child's prepare_stop (PrepareStop) first."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pykka
import pytest
import zmq
from structlog.testing import capture_logs
from support.net import free_port_base
from support.titanic import (  # noqa: F401  # fixture `titanic`
    TEST_CONFIG,
    TitanicHarness,
    titanic_fixture,
)
from support.wait import wait_until
from support.writer_gate import WriterGate
from support.zmqctx import dealer, recv

from raspy import config as config_mod
from raspy.actors import messages as msgs
from raspy.actors import supervisor
from raspy.actors.titanic_commits import prepare_stop
from raspy.backoff import BackoffPolicy
from raspy.child_set import ChildSet
from raspy.clock import SystemClock
from raspy.config import TitanicConfig
from raspy.cores.supervision import RestartPolicy
from raspy.protocol import mdp, mdp_decode
from raspy.protocol import titanic as tsp
from raspy.stats import Stats
from raspy.storage.store import Table

SVC = b"test.nobody"  # no worker: every request stays pending


@pytest.mark.timeout(30)
def test_a_stop_answers_the_requests_whose_accept_commit_was_still_running(
    titanic: TitanicHarness,
) -> None:
    """A stop handled while accept commits still ran: the requests were stored, but
    the commits' results were told to a stopped actor and no client heard of them;
    the next Titanic ran them and the clients' retries stored them again. The stop
    now waits for those commits and answers each client its UUID."""
    count = 20
    store = titanic.store
    ref = titanic.ref
    assert ref is not None
    sock = dealer(titanic.context, titanic.endpoint)
    try:
        with WriterGate(store) as gate:  # every commit waits at the gate
            for n in range(count):
                body = tsp.encode_request(tsp.Request(SVC, (b"%d" % n,)))
                request = mdp.ClientRequest(
                    mdp.Version.V01, tsp.REQUEST_SERVICE, tuple(body)
                )
                sock.send_multipart(mdp.encode(request))
            stats = titanic.stats
            wait_until(
                lambda: (
                    stats.get("titanic.handed") + stats.get("titanic.via_workers")
                    >= count
                ),
                what="every request handed to Titanic",
            )
            titanic.inspect()  # the turns that took them, and their submits, are over
            stopping = threading.Thread(target=titanic.stop)
            stopping.start()
            wait_until(lambda: not ref.is_alive(), what="Titanic to begin its stop")
            gate.open()
            stopping.join(10)
            assert not stopping.is_alive()
        uuids: list[str] = []
        for _ in range(count):
            reply = mdp_decode.decode_at_client(recv(sock, 5000), mdp.Version.V01)
            status, uuid = reply.body
            assert status == tsp.Status.OK.value
            uuids.append(uuid.decode())
    finally:
        sock.close(linger=0)
    stored = [key.decode() for key, _ in store.scan(Table.TITANIC_REQUESTS)]
    assert sorted(uuids) == sorted(stored)
    titanic.start()  # the next instance has them, pending, and nothing more
    assert titanic.inspect() == {"known": count, "pending": count, "in_flight": 0}


# Titanic's own workers only (no local handler): a request it holds keeps its worker
# busy until answered, and the requests past the two workers wait in the broker.
WORKERS_ONLY = dataclasses.replace(TEST_CONFIG, service_workers=2, handler_capacity=0)
# two at once through the handler, one through the worker, the rest queued behind
SMALL_HANDLER = dataclasses.replace(TEST_CONFIG, service_workers=1, handler_capacity=2)
POLICY = RestartPolicy(
    BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=30.0),
    max_restarts=5,
    window_s=100.0,
)


def _as_child(titanic: TitanicHarness, config: TitanicConfig) -> ChildSet:
    """Titanic restarted with `config` as a supervised part, as raspyd adds it."""
    titanic.stop()

    def start() -> pykka.ActorRef[Any]:
        titanic.start(config)
        assert titanic.ref is not None
        return titanic.ref

    children = ChildSet(lambda: POLICY, SystemClock(), Stats(), lambda child: None)
    children.add("titanic", start, critical=True, prepare_stop=prepare_stop)
    return children


def _broker(titanic: TitanicHarness) -> dict[str, int]:
    stats: dict[str, int] = titanic.edge.ask(msgs.GetStats(), block=True, timeout=5)
    return stats


def _submit(sock: zmq.Socket[bytes], count: int) -> None:
    for n in range(count):
        body = tsp.encode_request(tsp.Request(SVC, (b"%d" % n,)))
        request = mdp.ClientRequest(mdp.Version.V02, tsp.REQUEST_SERVICE, tuple(body))
        sock.send_multipart(mdp.encode(request))


def _accepted(sock: zmq.Socket[bytes], count: int) -> list[str]:
    """The UUIDs of `count` answers to _submit's requests (old instance or next)."""
    uuids: list[str] = []
    for _ in range(count):
        reply = mdp_decode.decode_at_client(recv(sock, 10_000), mdp.Version.V02)
        assert reply.body[0] == tsp.Status.OK.value
        uuids.append(tsp.accepted_uuid(tsp.decode_answer(reply.body)))
    return uuids


def _stop_while_held(
    titanic: TitanicHarness, children: ChildSet, gate: WriterGate, meanwhile: Any
) -> None:
    """Stop Titanic the way raspyd does while its commits wait at the gate; once its
    stop has begun, call `meanwhile`, then let the commits through."""
    ref = titanic.ref
    assert ref is not None
    with capture_logs() as logs:
        stopping = threading.Thread(
            target=children.stop, args=(lambda name: name == "titanic",)
        )
        stopping.start()
        wait_until(
            lambda: (
                not ref.is_alive()
                or any(e["event"] == "titanic_stopping" for e in list(logs))
            ),
            what="Titanic to begin its stop",
        )
        meanwhile()
        gate.open()
        stopping.join(10)
    assert not stopping.is_alive()
    titanic.ref = None


@pytest.mark.timeout(60)
def test_a_stop_through_the_workers_answers_each_request_once_stored(
    titanic: TitanicHarness,
) -> None:
    """Requests held by Titanic's workers while a stop waits for their commits, more
    queued at the broker, and a titanic.reply sent as the stop began. The stop ran
    in on_stop, when pykka had marked the actor stopped: the edge could no longer
    deliver the poll, forgot Titanic's workers and queued their requests again; the
    answers then sent through those workers were refused (unknown_worker), and the
    next instance stored those requests a second time under new UUIDs. Now the stop
    is done first, while the edge still reaches Titanic."""
    held, queued = 2, 3
    count = held + queued
    children = _as_child(titanic, WORKERS_ONLY)
    submitter = dealer(titanic.context, titanic.endpoint)
    poller = dealer(titanic.context, titanic.endpoint)
    try:
        with WriterGate(titanic.store) as gate:
            _submit(submitter, count)
            wait_until(
                lambda: _broker(titanic)["broker.queued"] == queued,
                what="two requests held by the workers, the rest queued",
            )
            wait_until(
                lambda: titanic.stats.get("titanic.via_workers") == held,
                what="Titanic to take the two requests its workers hold",
            )
            titanic.inspect()  # the turns that took them, and their submits, are over

            def poll() -> None:
                requests = _broker(titanic)["broker.requests"]
                query = tsp.encode_reply_query(tsp.ReplyQuery(tsp.new_uuid()))
                request = mdp.ClientRequest(
                    mdp.Version.V02, tsp.REPLY_SERVICE, tuple(query)
                )
                poller.send_multipart(mdp.encode(request))
                wait_until(
                    lambda: _broker(titanic)["broker.requests"] > requests,
                    what="the broker to take the titanic.reply",
                )

            _stop_while_held(titanic, children, gate, poll)
        titanic.start(WORKERS_ONLY)  # the next instance takes what was queued
        uuids = _accepted(submitter, count)
        answer = mdp_decode.decode_at_client(recv(poller, 10_000), mdp.Version.V02)
        assert answer.body == (tsp.Status.UNKNOWN.value,)
    finally:
        submitter.close(linger=0)
        poller.close(linger=0)
    stored = [key.decode() for key, _ in titanic.store.scan(Table.TITANIC_REQUESTS)]
    assert sorted(uuids) == sorted(stored)
    assert len(set(stored)) == count
    assert titanic.inspect() == {"known": count, "pending": count, "in_flight": 0}


@pytest.mark.timeout(60)
def test_a_stop_leaves_the_requests_queued_behind_its_handler_to_the_next_instance(
    titanic: TitanicHarness,
) -> None:
    """More titanic.requests than the handler and the worker take at once, a stop
    while their commits wait. The stop's answers through the handler each handed it
    a queued request, which the edge could not tell the stopped actor: dropped, never
    stored, its client never answered. Now the handler goes first: the queued ones
    wait in the broker and the next instance stores and answers them."""
    count = 5
    children = _as_child(titanic, SMALL_HANDLER)
    submitter = dealer(titanic.context, titanic.endpoint)
    try:
        with WriterGate(titanic.store) as gate:
            _submit(submitter, count)
            wait_until(
                lambda: _broker(titanic)["broker.queued"] == count - 3,
                what="two requests handed, one at the worker, two queued",
            )
            wait_until(
                lambda: (
                    titanic.stats.get("titanic.handed") == 2
                    and titanic.stats.get("titanic.via_workers") == 1
                ),
                what="Titanic to take the three requests",
            )
            titanic.inspect()
            _stop_while_held(titanic, children, gate, lambda: None)
        assert _broker(titanic)["broker.queued"] == count - 3
        titanic.start(SMALL_HANDLER)
        uuids = _accepted(submitter, count)
    finally:
        submitter.close(linger=0)
    stored = [key.decode() for key, _ in titanic.store.scan(Table.TITANIC_REQUESTS)]
    assert sorted(uuids) == sorted(stored)
    assert len(set(stored)) == count
    assert titanic.inspect() == {"known": count, "pending": count, "in_flight": 0}


@pytest.mark.timeout(60)
def test_a_reload_of_titanic_and_raspyds_stop_each_prepare_its_stop(
    tmp_path: Path,
) -> None:
    """Both ways raspyd stops Titanic ask it to do its stop's work first, while it is
    alive (PrepareStop): a reload that changes [titanic], and raspyd's own stop,
    which must not give the prepare up (the edge stops after the parts)."""
    cfg = config_mod.load(
        "[clone]\nenabled = false\n",
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname="testhost",
        network__port_base=free_port_base(),
    )
    rt = supervisor.start(cfg)
    stopped = False
    try:
        with capture_logs() as logs:
            rt.reload(
                dataclasses.replace(
                    cfg, titanic=dataclasses.replace(cfg.titanic, retention_s=60.0)
                )
            )
            wait_until(
                lambda: any(e["event"] == "titanic_started" for e in list(logs)),
                what="the new Titanic started",
            )
            reloaded = [e["event"] for e in logs if e["event"].startswith("titanic_")]
            assert reloaded == [
                "titanic_stopping",
                "titanic_stopped",
                "titanic_started",
            ]
            logs.clear()
            stopped = rt.stop()
        assert stopped
        events = [e["event"] for e in logs]
        assert "component_prepare_stop_failed" not in events
        assert [e for e in events if e.startswith("titanic_")] == [
            "titanic_stopping",
            "titanic_stopped",
        ]
    finally:
        if not stopped:
            rt.stop()


@pytest.mark.timeout(30)
def test_a_request_handed_as_the_stop_was_prepared_is_stored_and_answered(
    titanic: TitanicHarness,
) -> None:
    """The edge may hand Titanic a titanic.request just before its handler is taken
    away, so that it arrives after PrepareStop: the broker no longer holds it, and
    its client does not resend a submit. It is stored and answered by the stop."""
    ref = titanic.ref
    assert ref is not None
    client = dealer(titanic.context, titanic.endpoint, routing_id=b"\x00late")
    try:
        # an MMI question first: its answer says the edge's ROUTER knows the client
        mmi = mdp.ClientRequest(mdp.Version.V02, b"mmi.service", (SVC,))
        client.send_multipart(mdp.encode(mmi))
        recv(client, 5000)
        prepare_stop(ref)
        body = tsp.encode_request(tsp.Request(SVC, (b"late",)))
        request = mdp.ClientRequest(mdp.Version.V02, tsp.REQUEST_SERVICE, tuple(body))
        ref.tell(msgs.LocalRequests(tsp.REQUEST_SERVICE, ((b"\x00late", request),)))
        titanic.stop()
        frames = recv(client, 5000)
    finally:
        client.close(linger=0)
    reply = mdp_decode.decode_at_client(frames, mdp.Version.V02)
    uuid = tsp.accepted_uuid(tsp.decode_answer(reply.body))
    stored = [key.decode() for key, _ in titanic.store.scan(Table.TITANIC_REQUESTS)]
    assert stored == [uuid]
