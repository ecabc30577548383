"""RFC 9/TSP across a SIGKILL of the real raspyd, with raw zguide-style peers.

The client is an MDP/0.1 REQ socket (zguide ticlient.py through mdcliapi.py), the
worker a raw MDP/0.1 worker (zguide mdwrkapi.py). What Titanic answered before the
kill (a request stored, a reply stored, a close) holds after it (docs/protocols.md
§5.4, §5.6), and a pending request reaches a worker that arrives only after.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq
from support.daemon import serving_titanic
from support.net import free_port_base
from support.titanic import RawWorker
from support.wait import wait_until
from support.zmqctx import checked_context, recv

from raspy.protocol import mdp

Context = zmq.Context[zmq.Socket[bytes]]
SVC = b"e2e.spec.echo"


def call(context: Context, endpoint: str, service: bytes, *body: bytes) -> list[bytes]:
    """One request on a fresh REQ socket, as mdcliapi.py sends it."""
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart([b"MDPC01", service, *body])
        header, replied, *reply = recv(sock, 5000)
        assert (header, replied) == (b"MDPC01", service)
        return reply
    finally:
        sock.close()


@pytest.mark.timeout(90)
def test_stored_requests_replies_and_closes_survive_sigkill(tmp_path: Path) -> None:
    """RFC 9: titanic.request stores persistently, titanic.reply keeps a delivered
    reply, titanic.close deletes; §5.6: accepted means stored, and a request is
    executed once a worker for its service shows up, whenever that is."""
    data_dir, port_base = tmp_path / "data", free_port_base()
    with checked_context() as context:
        daemon = serving_titanic(data_dir, port_base)
        try:
            endpoint = daemon.endpoint
            ids = {}
            for name in (b"answered", b"closed", b"waiting"):  # dispatched oldest first
                status, request_id = call(
                    context, endpoint, b"titanic.request", SVC, name
                )
                assert status == b"200"
                ids[name] = request_id
            worker = RawWorker(context, endpoint, SVC, mdp.Version.V01)
            try:
                request = worker.request()
                assert request.body == (b"answered",)
                worker.reply(request.client, (b"reply to answered",))
                wait_until(
                    lambda: (
                        call(context, endpoint, b"titanic.reply", ids[b"answered"])
                        == [b"200", b"reply to answered"]
                    ),
                    what="the first reply to be stored",
                )
            finally:
                worker.close()
            assert call(context, endpoint, b"titanic.close", ids[b"closed"]) == [b"200"]
        finally:
            daemon.kill()
        daemon = serving_titanic(data_dir, port_base)
        try:
            endpoint = daemon.endpoint
            assert call(context, endpoint, b"titanic.reply", ids[b"answered"]) == [
                b"200",
                b"reply to answered",
            ]
            assert call(context, endpoint, b"titanic.reply", ids[b"closed"]) == [b"400"]
            assert call(context, endpoint, b"titanic.reply", ids[b"waiting"]) == [
                b"300"
            ]
            worker = RawWorker(context, endpoint, SVC, mdp.Version.V01)
            try:
                request = worker.request()
                assert request.body == (b"waiting",)  # the older, closed one is gone
                worker.reply(request.client, (b"late",))
                wait_until(
                    lambda: (
                        call(context, endpoint, b"titanic.reply", ids[b"waiting"])
                        == [b"200", b"late"]
                    ),
                    what="the reply of the waiting request",
                )
            finally:
                worker.close()
        finally:
            daemon.kill()
