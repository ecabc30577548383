"""TitanicActor's stop with commits still running, on a real edge and real LMDB
(a reload of [titanic] and raspyd's stop both stop Titanic while clients wait)."""

from __future__ import annotations

import threading

import pytest
from support.titanic import (  # noqa: F401  # fixture `titanic`
    TitanicHarness,
    titanic_fixture,
)
from support.wait import wait_until
from support.writer_gate import WriterGate
from support.zmqctx import dealer, recv

from raspy.protocol import mdp, mdp_decode
from raspy.protocol import titanic as tsp
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
