"""Conformance of raspy's Titanic to RFC 9/TSP, checked as an outside tester would.

The clients here are raw sockets writing MDP frames by hand: an MDP/0.1 REQ client as
zguide's ticlient.py uses (through mdcliapi.py), and an RFC 18 DEALER client. The
worker is a raw MDP/0.1 worker as zguide's mdwrkapi.py is. docs/protocols.md §5.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterator

import pytest
import zmq
from support.titanic import (  # noqa: F401  # fixture `titanic`
    RawWorker,
    TitanicHarness,
    titanic_fixture,
)
from support.wait import wait_until
from support.zmqctx import recv

from raspy.protocol import mdp

Context = zmq.Context[zmq.Socket[bytes]]
SVC = b"audit.echo"
UUID32 = re.compile(rb"[0-9a-f]{32}")


class Mdp01Client:
    """RFC 7 client on a REQ socket: [MDPC01, service, *body] both ways."""

    def __init__(self, context: Context, endpoint: str) -> None:
        self.sock = context.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def call(self, service: bytes, *body: bytes) -> list[bytes]:
        self.sock.send_multipart([b"MDPC01", service, *body])
        header, replied, *reply = recv(self.sock, 5000)
        assert (header, replied) == (b"MDPC01", service)
        return reply

    def close(self) -> None:
        self.sock.close()


class Mdp02Client:
    """RFC 18 client on a DEALER: REQUEST in, exactly one FINAL back (no PARTIAL)."""

    def __init__(self, context: Context, endpoint: str) -> None:
        self.sock = context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def call(self, service: bytes, *body: bytes) -> list[bytes]:
        self.sock.send_multipart([b"MDPC02", b"\x01", service, *body])
        header, command, replied, *reply = recv(self.sock, 5000)
        assert (header, command, replied) == (b"MDPC02", b"\x03", service)
        return reply

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def client(titanic: TitanicHarness) -> Iterator[Mdp01Client]:
    made = Mdp01Client(titanic.context, titanic.endpoint)
    yield made
    made.close()


def stored_reply(client: Mdp01Client, request_id: bytes) -> list[bytes] | None:
    """titanic.reply's answer once it is 200, else None (300: ask again)."""
    answer = client.call(b"titanic.reply", request_id)
    return answer if answer[0] == b"200" else None


def has_a_worker(client: Mdp01Client, service: bytes) -> bool:
    """RFC 8 mmi.service: 200 if the service has a worker, 404 if not."""
    answer = client.call(b"mmi.service", service)
    assert answer in ([b"200"], [b"404"])
    return answer == [b"200"]


def submit(client: Mdp01Client, *body: bytes) -> bytes:
    status, request_id = client.call(b"titanic.request", SVC, *body)
    assert status == b"200"
    return request_id


def test_request_is_answered_200_and_a_uuid_of_32_hex_characters(
    titanic: TitanicHarness, client: Mdp01Client
) -> None:
    """RFC 9 titanic.request: status frame then the UUID, 32 hexadecimal characters
    (§5.2 raspy: lowercase, from UUID4); an RFC 18 client gets the same, as a FINAL."""
    first = submit(client, b"one")
    modern = Mdp02Client(titanic.context, titanic.endpoint)
    try:
        status, second = modern.call(b"titanic.request", SVC, b"two")
    finally:
        modern.close()
    assert status == b"200"
    for request_id in (first, second):
        assert UUID32.fullmatch(request_id)
        assert uuid.UUID(request_id.decode()).version == 4
    assert first != second


@pytest.mark.parametrize(
    "body",
    [[SVC], [b"", b"payload"], [b"s" * 256, b"payload"], [b"mmi.service", SVC]],
    ids=["no-body-frame", "empty-service", "service-over-255", "mmi-service"],
)
def test_malformed_request_is_answered_400_alone(
    client: Mdp01Client, body: list[bytes]
) -> None:
    """RFC 9: titanic.request takes 2 or more frames, the first a service name; §5.3
    raspy: a malformed one gets 400 (the only "do not retry") and no UUID frame, as
    does a target no worker could ever register for (it would be pending for ever)."""
    assert client.call(b"titanic.request", *body) == [b"400"]


def test_reply_is_300_until_a_worker_arriving_later_answers_then_200_with_its_frames(
    titanic: TitanicHarness, client: Mdp01Client
) -> None:
    """RFC 9 Request Execution: the server sends the request when the service is
    available; titanic.reply answers 300 (PENDING) until then and 200 followed by the
    service's reply after; request and reply frames pass unchanged (§5.2)."""
    body = (b"\x00binary\xff", b"", b"last")
    request_id = submit(client, *body)
    assert client.call(b"titanic.reply", request_id) == [b"300"]
    assert client.call(b"titanic.reply", request_id) == [b"300"]
    worker = RawWorker(titanic.context, titanic.endpoint, SVC, mdp.Version.V01)
    try:
        request = worker.request()
        assert request.body == body
        worker.reply(request.client, (b"done", b"", b"\x00\x01"))
        assert wait_until(
            functools.partial(stored_reply, client, request_id),
            what="titanic.reply to answer 200",
        ) == [b"200", b"done", b"", b"\x00\x01"]
    finally:
        worker.close()


def test_reply_is_idempotent_and_close_is_idempotent(
    titanic: TitanicHarness, client: Mdp01Client
) -> None:
    """RFC 9: titanic.reply MUST NOT delete a delivered reply (the same answer each
    time); titanic.close deletes request and reply, answers exactly one frame, and
    MUST answer 200 for a UUID it does not know, so closing twice is fine."""
    request_id = submit(client, b"ping")
    worker = RawWorker(titanic.context, titanic.endpoint, SVC, mdp.Version.V01)
    try:
        request = worker.request()
        worker.reply(request.client, (b"pong",))
        wait_until(
            lambda: client.call(b"titanic.reply", request_id)[0] == b"200",
            what="the reply to be stored",
        )
    finally:
        worker.close()
    for _ in range(3):
        assert client.call(b"titanic.reply", request_id) == [b"200", b"pong"]
    assert client.call(b"titanic.close", request_id) == [b"200"]
    assert client.call(b"titanic.close", request_id) == [b"200"]
    assert client.call(b"titanic.reply", request_id) == [b"400"]


@pytest.mark.parametrize(
    "request_id",
    [uuid.uuid4().hex.encode(), b"0" * 31, b"0" * 33, b"g" * 32, b"", b"\xff" * 32],
    ids=["never-given", "31-chars", "33-chars", "not-hex", "empty", "binary"],
)
def test_unknown_or_malformed_uuid_is_400_for_reply_and_200_for_close(
    client: Mdp01Client, request_id: bytes
) -> None:
    """RFC 9 Status Frames: 400 UNKNOWN for an invalid or unknown UUID (titanic.reply);
    titanic.close is idempotent and MUST answer 200 if the UUID is not known."""
    assert client.call(b"titanic.reply", request_id) == [b"400"]
    assert client.call(b"titanic.close", request_id) == [b"200"]


def test_a_uuid_in_upper_case_names_the_same_request(client: Mdp01Client) -> None:
    """RFC 9: a UUID is hexadecimal characters of either case; §5.2 raspy: accepted
    in either case on input."""
    request_id = submit(client, b"x")
    assert client.call(b"titanic.reply", request_id.upper()) == [b"300"]
    assert client.call(b"titanic.close", request_id.upper()) == [b"200"]
    assert client.call(b"titanic.reply", request_id) == [b"400"]


def test_reply_and_close_with_more_than_one_frame_are_refused_400(
    client: Mdp01Client,
) -> None:
    """RFC 9: titanic.reply and titanic.close take exactly one frame, the UUID; §5.3
    raspy: a malformed request gets 400. The request named is left alone."""
    request_id = submit(client, b"x")
    assert client.call(b"titanic.reply", request_id, b"extra") == [b"400"]
    assert client.call(b"titanic.close", request_id, b"extra") == [b"400"]
    assert client.call(b"titanic.reply", request_id) == [b"300"]


def test_the_three_services_are_registered_for_mmi(client: Mdp01Client) -> None:
    """RFC 9: a Titanic server MUST implement titanic.request, titanic.reply and
    titanic.close; RFC 8: mmi.service answers 200 for a service with a worker."""
    for service in (b"titanic.request", b"titanic.reply", b"titanic.close"):
        wait_until(
            functools.partial(has_a_worker, client, service),
            what=f"mmi.service {service!r} to answer 200",
        )


def test_every_answered_request_is_marked_done_not_only_the_last(
    titanic: TitanicHarness, client: Mdp01Client
) -> None:
    """§5.5 (zguide titanic.py marks only the queue's last line done, so earlier
    requests are sent again and again): each reply is stored with its own request
    and leaves the queue, across a restart too (§5.5.3 reloads only the pending)."""
    bodies = [b"first", b"second", b"third"]
    ids = [submit(client, body) for body in bodies]
    worker = RawWorker(titanic.context, titanic.endpoint, SVC, mdp.Version.V01)
    try:
        for body in bodies:
            request = worker.request()
            assert request.body == (body,)
            worker.reply(request.client, (b"re: " + body,))
        for request_id, body in zip(ids, bodies, strict=True):
            assert wait_until(
                functools.partial(stored_reply, client, request_id),
                what="each reply to be stored",
            ) == [b"200", b"re: " + body]
        assert titanic.inspect() == {"known": 3, "pending": 0, "in_flight": 0}
        titanic.stop()
        titanic.start()
        assert titanic.inspect() == {"known": 3, "pending": 0, "in_flight": 0}
    finally:
        worker.close()
