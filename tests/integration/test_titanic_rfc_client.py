"""Foreign Titanic clients against raspy's Titanic (docs/protocols.md §5.4, §9.4).

One is written here from RFC 9's client flow over an MDP/0.1 REQ socket (what zguide's
ticlient.py does with mdcliapi.py); the other is majortomo's own client.
"""

from __future__ import annotations

import pytest
import zmq
from majortomo import Client as MajortomoClient
from support.titanic import (  # noqa: F401  # fixture `titanic`
    RawWorker,
    TitanicHarness,
    titanic_fixture,
)
from support.wait import wait_until
from support.zmqctx import recv

from raspy.protocol import mdp

SVC = b"rfc.echo"


class Rfc7Client:
    """An MDP/0.1 client on a REQ socket (RFC 7 §client; zguide mdcliapi.py)."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self.sock = ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def send(self, service: bytes, *body: bytes) -> list[bytes]:
        # REQ adds the empty frame; the reply is [MDPC01, service, *body]
        self.sock.send_multipart([b"MDPC01", service, *body])
        header, replied_service, *reply = recv(self.sock, 3000)
        assert (header, replied_service) == (b"MDPC01", service)
        return reply

    def close(self) -> None:
        self.sock.close(linger=0)


def service_call(
    client: Rfc7Client, service: bytes, *body: bytes
) -> list[bytes] | None:
    """RFC 9 client flow: 200 → the rest of the reply; 300 → None; 400/500 fail."""
    status, *rest = client.send(service, *body)
    assert status[:3] in (b"200", b"300"), f"{service!r} answered {status!r}"
    return rest if status[:3] == b"200" else None


def test_rfc9_client_flow_over_mdp01_request_poll_reply_close(
    titanic: TitanicHarness,
) -> None:
    """§5.4 client flow: titanic.request → poll titanic.reply until 200 → close."""
    client = Rfc7Client(titanic.context, titanic.endpoint)
    worker = RawWorker(titanic.context, titanic.endpoint, SVC, mdp.Version.V01)
    try:
        accepted = service_call(client, b"titanic.request", SVC, b"Hello world")
        assert accepted is not None
        (uuid,) = accepted
        assert service_call(client, b"titanic.reply", uuid) is None  # 300 pending
        request = worker.request()
        assert request.body == (b"Hello world",)
        worker.reply(request.client, request.body)
        reply = wait_until(
            lambda: service_call(client, b"titanic.reply", uuid),
            what="titanic.reply to answer 200",
        )
        assert reply == [b"Hello world"]
        assert service_call(client, b"titanic.close", uuid) == []
        assert client.send(b"titanic.reply", uuid) == [b"400"]
    finally:
        worker.close()
        client.close()


@pytest.mark.interop
def test_majortomo_client_submits_polls_and_closes(titanic: TitanicHarness) -> None:
    """§3.4 majortomo dialect clients reach Titanic like any service."""
    client = MajortomoClient(
        titanic.endpoint, zmq_context=titanic.context, zmq_linger=0
    )
    worker = RawWorker(titanic.context, titanic.endpoint, SVC, mdp.Version.MAJORTOMO)
    try:
        client.connect()

        def call(service: bytes, *body: bytes) -> list[bytes]:
            client.send(service, *body)
            frames: list[bytes] = client.recv_all_as_list(timeout=3)
            return frames

        status, uuid = call(b"titanic.request", SVC, b"one", b"two")
        assert status == b"200"
        request = worker.request()
        worker.reply(request.client, (b"partial",), final=False)
        worker.reply(request.client, (b"final",))
        reply = wait_until(
            lambda: (frames := call(b"titanic.reply", uuid))[0] == b"200" and frames,
            what="titanic.reply to answer 200",
        )
        assert reply == [b"200", b"partial", b"final"]
        assert call(b"titanic.close", uuid) == [b"200"]
        assert call(b"titanic.close", uuid) == [b"200"]
    finally:
        worker.close()
        client.close()  # type: ignore[no-untyped-call]  # majortomo ships no types
