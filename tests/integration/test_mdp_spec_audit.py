"""Conformance audit of the broker over real sockets: RFC 7, RFC 18, RFC 8 and the
majortomo dialect, checked by raw DEALER/REQ peers that write every frame themselves
(tests/support/mdp_spec.py). Timers are in tests/integration/test_mdp_spec_clock.py.
"""

from __future__ import annotations

import json

import pytest
import zmq
from structlog.testing import capture_logs
from support.edge_fixtures import EdgeHandle
from support.mdp_spec import (
    DIALECTS,
    V01,
    V02,
    VMJ,
    Context,
    Dealers,
    client_final,
    client_partial,
    client_request,
    clocked_edge,
    disconnect,
    final,
    heartbeat,
    mmi_service,
    nothing_within,
    partial,
    ready,
    received_before_answer,
    registered,
    split_request,
    wait_status,
    worker_command,
)
from support.wait import wait_until
from support.zmqctx import recv

from raspy.actors.messages import GetStats
from raspy.cores.broker_settings import BrokerSettings


@pytest.fixture
def broker_settings() -> BrokerSettings:
    """Heartbeats are test_mdp_spec_clock's: an hour's interval keeps them out of the
    checks here, where a HEARTBEAT the broker owes a worker after 2.5 s would come
    before the answer that shows it was sent nothing else."""
    return BrokerSettings(heartbeat_interval_s=3600.0)


def _registered(
    edge: EdgeHandle, dealers: Dealers, dialect: str, service: bytes
) -> zmq.Socket[bytes]:
    return registered(edge.context, edge.endpoint, dealers, dialect, service)


def _stats(edge: EdgeHandle) -> dict[str, int]:
    stats = edge.ref.ask(GetStats(), timeout=5)
    assert isinstance(stats, dict)
    return stats


# ---------------------------------------------------------------- client sub-protocol
def test_rfc7_req_socket_client_is_served_without_writing_frame_0(
    edge: EdgeHandle, dealers: Dealers
) -> None:
    """RFC 7 MDP/Client: a REQ socket makes frame 0 itself and strips it from the REPLY."""
    worker = _registered(edge, dealers, V01, b"req")
    client = edge.context.socket(zmq.REQ)
    client.setsockopt(zmq.LINGER, 0)
    try:
        client.connect(edge.endpoint)
        client.send_multipart([b"MDPC01", b"req", b"ping"])
        address, body = split_request(V01, recv(worker))
        assert body == [b"ping"]
        worker.send_multipart(final(V01, address, b"pong"))
        assert recv(client) == [b"MDPC01", b"req", b"pong"]
    finally:
        client.close()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_request_reaches_worker_as_one_address_frame_then_empty_then_body(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """RFC 7 / RFC 18 Request and Reply Processing: precisely one client address frame,
    followed by an empty frame; body frames (empty ones too) keep count and order."""
    worker = _registered(edge, dealers, dialect, b"layout")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(dialect, b"layout", b"a", b"", b"c"))
    address, body = split_request(dialect, recv(worker))
    assert body == [b"a", b"", b"c"]
    worker.send_multipart(final(dialect, address, b"", b"z"))
    assert recv(client) == client_final(dialect, b"layout", b"", b"z")


@pytest.mark.parametrize("dialect", [V02, VMJ])
def test_rfc18_partials_are_forwarded_in_order_and_nothing_follows_the_final(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """RFC 18 MDP/Client: zero or more PARTIAL then one FINAL; after FINAL the broker
    sends the client nothing more. A PARTIAL after the FINAL is a valid but unexpected
    command: the worker gets DISCONNECT (RFC 18 Opening and Closing)."""
    worker = _registered(edge, dealers, dialect, b"stream")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(dialect, b"stream", b"q"))
    address, _ = split_request(dialect, recv(worker))
    worker.send_multipart(partial(dialect, address, b"p1"))
    worker.send_multipart(partial(dialect, address, b"p2", b"p2b"))
    worker.send_multipart(final(dialect, address, b"end"))
    assert recv(client) == client_partial(dialect, b"stream", b"p1")
    assert recv(client) == client_partial(dialect, b"stream", b"p2", b"p2b")
    assert recv(client) == client_final(dialect, b"stream", b"end")
    worker.send_multipart(partial(dialect, address, b"late"))
    assert recv(worker) == disconnect(dialect)  # the late PARTIAL has been taken
    assert received_before_answer(client, dialect) == []


def test_one_dealer_client_may_have_several_requests_queued(
    edge: EdgeHandle, dealers: Dealers
) -> None:
    """docs/protocols.md §2.5: the broker must not assume one request per client; RFC 7
    SHOULD: requests for a service nobody registered are queued."""
    client = dealers.open(edge.endpoint)
    for n in (b"1", b"2", b"3"):
        client.send_multipart(client_request(V02, b"later", n))
    assert mmi_service(edge.context, edge.endpoint, b"later") == b"404"
    worker = dealers.open(edge.endpoint)
    worker.send_multipart(ready(V01, b"later"))
    for n in (b"1", b"2", b"3"):
        address, body = split_request(V01, recv(worker))
        assert body == [n]
        worker.send_multipart(final(V01, address, n + n))
        assert recv(client) == client_final(V02, b"later", n + n)


_TWO_DIALECTS_ONE_DEALER = {
    # (the older request's dialect, the newer one's): what the client reads, in order
    "0.1_then_0.2": (
        (V01, V02),
        [
            client_partial(V02, b"both", b"n1"),
            client_final(V02, b"both", b"n2"),
            client_final(V01, b"both", b"o1", b"o2"),
        ],
    ),
    "0.2_then_0.1": (
        (V02, V01),
        [
            client_partial(V02, b"both", b"o1"),
            client_final(V01, b"both", b"n1", b"n2"),
            client_final(V02, b"both", b"o2"),
        ],
    ),
}


@pytest.mark.parametrize(
    ("dialects", "expected"),
    _TWO_DIALECTS_ONE_DEALER.values(),
    ids=_TWO_DIALECTS_ONE_DEALER.keys(),
)
def test_one_dealer_with_a_01_and_a_02_request_outstanding_gets_each_in_its_dialect(
    edge: EdgeHandle,
    dealers: Dealers,
    dialects: tuple[str, str],
    expected: list[list[bytes]],
) -> None:
    """docs/protocols.md §2.5: a DEALER client may have several requests at once;
    §3.5: the broker records a client's dialect per request, not per peer, and answers
    each in the dialect it came in; §3.6: the 0.1 request gets its worker's PARTIAL
    and FINAL bodies in one REPLY, the 0.2 one a PARTIAL then a FINAL. Both requests
    are at a worker at once and are answered interleaved, the newer one first."""
    older = _registered(edge, dealers, V02, b"both")
    newer = _registered(edge, dealers, V02, b"both")
    client = dealers.open(edge.endpoint)
    for dialect in dialects:
        client.send_multipart(client_request(dialect, b"both", dialect.encode()))
    older_address, older_body = split_request(V02, recv(older))  # §2.5.2: LRU
    newer_address, newer_body = split_request(V02, recv(newer))
    assert newer_address == older_address  # one client
    assert [older_body, newer_body] == [[dialect.encode()] for dialect in dialects]
    # each step is taken before the next (the worker's own question is answered
    # after it), so the client's messages come in one order
    for worker, frames in [
        (older, partial(V02, older_address, b"o1")),
        (newer, partial(V02, newer_address, b"n1")),
        (newer, final(V02, newer_address, b"n2")),
        (older, final(V02, older_address, b"o2")),
    ]:
        worker.send_multipart(frames)
        assert received_before_answer(worker) == []
    assert [recv(client) for _ in expected] == expected
    assert received_before_answer(client, V02) == []  # nothing more for either


# ---------------------------------------------------------------- mixing versions
def test_workers_of_every_dialect_share_one_service_and_are_used_least_recent_first(
    edge: EdgeHandle, dealers: Dealers
) -> None:
    """docs/protocols.md §3.6: one namespace across versions, each peer answered in its
    own dialect; §2.5.2: the oldest request goes to the worker idle longest."""
    workers = {d: _registered(edge, dealers, d, b"mix") for d in DIALECTS}
    clients = {d: dealers.open(edge.endpoint) for d in DIALECTS}
    # one request per client dialect; worker dialects in READY order (LRU)
    pairs = [(V02, V01), (VMJ, V02), (V01, VMJ)]
    addresses = []
    for client_dialect, worker_dialect in pairs:
        clients[client_dialect].send_multipart(
            client_request(client_dialect, b"mix", client_dialect.encode())
        )
        address, body = split_request(worker_dialect, recv(workers[worker_dialect]))
        assert body == [client_dialect.encode()]
        addresses.append(address)
    for (_, worker_dialect), address in zip(pairs, addresses, strict=True):
        worker = workers[worker_dialect]
        if worker_dialect != V01:
            worker.send_multipart(partial(worker_dialect, address, b"part"))
        worker.send_multipart(final(worker_dialect, address, b"done"))
    # §3.6: a 0.1 client gets the PARTIAL bodies and the FINAL body in one REPLY
    assert recv(clients[V01]) == client_final(V01, b"mix", b"part", b"done")
    assert recv(clients[V02]) == client_final(V02, b"mix", b"done")  # 0.1 worker
    assert recv(clients[VMJ]) == client_partial(VMJ, b"mix", b"part")
    assert recv(clients[VMJ]) == client_final(VMJ, b"mix", b"done")


# ---------------------------------------------------------------- MMI (RFC 8)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_mmi_service_answers_200_for_a_worker_of_any_version_and_404_after_it_left(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """RFC 8 mmi.service: 200 with at least one registered worker, 404 with none
    (docs/protocols.md §4: any version counts)."""
    worker = _registered(edge, dealers, dialect, b"present")
    worker.send_multipart(disconnect(dialect))
    wait_status(edge.context, edge.endpoint, b"present", b"404")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_mmi_replies_in_the_client_dialect_200_404_and_501(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """RFC 8: mmi.service 200/404; any other mmi.* name 501; the reply names the MMI
    service asked for (docs/protocols.md §4 table; majortomo has no service frame)."""
    _registered(edge, dealers, V02, b"known")
    client = dealers.open(edge.endpoint)
    for service, body, status in [
        (b"mmi.service", b"known", b"200"),
        (b"mmi.service", b"unknown", b"404"),
        (b"mmi.foo", b"x", b"501"),
        (b"mmi.", b"x", b"501"),
    ]:
        client.send_multipart(client_request(dialect, service, body))
        assert recv(client) == client_final(dialect, service, status)


def test_any_unimplemented_mmi_name_gets_501_however_long(
    edge: EdgeHandle, dealers: Dealers
) -> None:
    """RFC 8: any unimplemented service in the mmi. namespace MUST result in a reply
    501; the broker's cap on service names (memory for names it keeps) does not apply
    to a name it answers itself and never stores."""
    client = dealers.open(edge.endpoint)
    name = b"mmi." + b"x" * 300
    client.send_multipart(client_request(V01, name, b"x"))
    assert recv(client) == client_final(V01, name, b"501")


def test_mmi_service_reads_the_first_body_frame_and_answers_one_frame(
    edge: EdgeHandle, dealers: Dealers
) -> None:
    """docs/protocols.md §4 raspy: the name is the first body frame; the reply body is
    exactly one frame."""
    _registered(edge, dealers, V01, b"first")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V01, b"mmi.service", b"first", b"other"))
    assert recv(client) == client_final(V01, b"mmi.service", b"200")
    client.send_multipart(client_request(V01, b"mmi.service", b"other", b"first"))
    assert recv(client) == client_final(V01, b"mmi.service", b"404")


def test_mmi_service_counts_a_busy_worker(edge: EdgeHandle, dealers: Dealers) -> None:
    """RFC 8: "registered" - a worker running a request is still registered."""
    worker = _registered(edge, dealers, V02, b"busy")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V02, b"busy", b"work"))
    address, _ = split_request(V02, recv(worker))
    assert mmi_service(edge.context, edge.endpoint, b"busy") == b"200"
    worker.send_multipart(final(V02, address, b"ok"))
    assert recv(client) == client_final(V02, b"busy", b"ok")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("service", [b"mmi.service", b"mmi.mine"])
def test_ready_for_an_mmi_service_gets_disconnect_and_is_not_registered(
    edge: EdgeHandle, dealers: Dealers, dialect: str, service: bytes
) -> None:
    """RFC 8 Namespace: the broker MUST disconnect workers that register mmi.* names;
    the request then stays an MMI one (501 for an unimplemented name)."""
    worker = dealers.open(edge.endpoint)
    worker.send_multipart(ready(dialect, service))
    assert recv(worker) == disconnect(dialect)
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V02, b"mmi.mine", b"x"))
    assert recv(client) == client_final(V02, b"mmi.mine", b"501")
    assert received_before_answer(worker, dialect) == []  # nothing after DISCONNECT


def test_mmi_prefix_is_case_sensitive(edge: EdgeHandle, dealers: Dealers) -> None:
    """RFC 8 namespace is the bytes "mmi." (docs/protocols.md §1.8: names compare byte
    for byte): "MMI.x" is an ordinary service a worker may register."""
    worker = _registered(edge, dealers, V02, b"MMI.x")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V02, b"MMI.x", b"hi"))
    address, _ = split_request(V02, recv(worker))
    worker.send_multipart(final(V02, address, b"ho"))
    assert recv(client) == client_final(V02, b"MMI.x", b"ho")


def test_mmi_workers_counts_each_version_on_one_service(
    edge: EdgeHandle, dealers: Dealers
) -> None:
    """docs/protocols.md §3.6: services are one namespace across versions (raspy's
    mmi.workers extension shows the count per version)."""
    for dialect in DIALECTS:
        _registered(edge, dealers, dialect, b"counted")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V02, b"mmi.workers", b"counted"))
    reply = recv(client)
    assert reply[:4] == client_final(V02, b"mmi.workers", b"200")
    table = json.loads(reply[4])
    assert table["counted"]["versions"] == {"0.1": 1, "0.2": 1, "majortomo": 1}


# ---------------------------------------------------------------- connection rules
@pytest.mark.parametrize("dialect", DIALECTS)
def test_disconnect_before_ready_is_ignored_and_ready_still_registers(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """RFC 7: the worker MAY send DISCONNECT at any time, including before READY;
    docs/protocols.md §2.8: from an unknown peer it is ignored (no answer)."""
    worker = dealers.open(edge.endpoint)
    worker.send_multipart(disconnect(dialect))
    worker.send_multipart(ready(dialect, b"late"))
    wait_status(edge.context, edge.endpoint, b"late", b"200")
    assert received_before_answer(worker, dialect) == []  # no DISCONNECT for it


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_disconnected_worker_gets_nothing_more_and_its_request_goes_elsewhere(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """RFC 7: after a worker's DISCONNECT the broker MUST send it no further commands;
    raspy sends the request it was running to another worker of the service."""
    leaving = _registered(edge, dealers, dialect, b"hand")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V02, b"hand", b"job"))
    split_request(dialect, recv(leaving))
    leaving.send_multipart(disconnect(dialect))
    staying = dealers.open(edge.endpoint)
    staying.send_multipart(ready(V02, b"hand"))
    address, body = split_request(V02, recv(staying))
    assert body == [b"job"]
    staying.send_multipart(final(V02, address, b"done"))
    assert recv(client) == client_final(V02, b"hand", b"done")
    # `staying` got the job, so the broker had taken the DISCONNECT
    assert received_before_answer(leaving, dialect) == []


@pytest.mark.parametrize("dialect", [V02, VMJ])
def test_a_request_whose_client_got_a_partial_is_not_sent_to_the_next_worker(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """RFC 18: a reply is PARTIALs then one FINAL, one stream per request.
    docs/protocols.md §3.7 raspy: once the client has a PARTIAL, a worker that leaves
    before its FINAL loses the request (dropped.partial_lost); the next worker never
    gets it, where it used to, so that the client read the first worker's PARTIAL
    followed by the second worker's whole stream. The client asks again on a new
    socket (Lazy Pirate) and gets one clean stream."""
    leaving = _registered(edge, dealers, V02, b"stream")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(dialect, b"stream", b"job"))
    address, _ = split_request(V02, recv(leaving))
    staying = _registered(edge, dealers, V02, b"stream")
    leaving.send_multipart(partial(V02, address, b"p1"))
    assert recv(client) == client_partial(dialect, b"stream", b"p1")
    leaving.send_multipart(disconnect(V02))

    def _settled() -> dict[str, int]:
        stats = edge.ref.ask(GetStats(), timeout=5)
        assert isinstance(stats, dict)
        lost = stats.get("broker.dropped.partial_lost", 0)
        return stats if lost or stats.get("broker.redispatched", 0) else {}

    stats = wait_until(_settled, what="the broker to take the DISCONNECT")
    assert received_before_answer(staying) == [], "it got the streamed request"
    assert stats.get("broker.dropped.partial_lost") == 1
    assert stats.get("broker.redispatched") == 0
    assert received_before_answer(client, dialect) == []

    again = dealers.open(edge.endpoint)  # the client's retry, on a new socket
    again.send_multipart(client_request(dialect, b"stream", b"job"))
    address, body = split_request(V02, recv(staying))
    assert body == [b"job"]
    staying.send_multipart(partial(V02, address, b"p1"))
    staying.send_multipart(final(V02, address, b"f"))
    assert recv(again) == client_partial(dialect, b"stream", b"p1")
    assert recv(again) == client_final(dialect, b"stream", b"f")
    assert received_before_answer(again, dialect) == []


def test_a_reply_over_the_limits_fails_its_request_instead_of_looping(
    edge: EdgeHandle, dealers: Dealers
) -> None:
    """docs/protocols.md §2.8, §3.6: a worker whose reply is over the broker's limits is
    disconnected, and the request fails (its next worker would answer the same way): it
    is not sent again to the worker that comes back with a new READY, which made a
    worker and the broker loop on it for as long as its queue kept moving."""
    worker = _registered(edge, dealers, V02, b"big")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V02, b"big", b"job"))
    address, _ = split_request(V02, recv(worker))
    worker.send_multipart(final(V02, address, *[b"x"] * 70))  # > 64 frames
    assert recv(worker) == disconnect(V02)
    again = dealers.open(edge.endpoint)  # RFC 7: a new socket and READY
    again.send_multipart(ready(V02, b"big"))
    wait_status(edge.context, edge.endpoint, b"big", b"200")
    assert received_before_answer(again) == []  # not given the failed request
    assert received_before_answer(client) == []
    stats = edge.ref.ask(GetStats(), timeout=5)
    assert isinstance(stats, dict)
    assert stats.get("broker.dropped.reply_overflow") == 1


def _unexpected_cases() -> list[tuple[str, str]]:
    return [
        (dialect, case)
        for dialect in DIALECTS
        for case in (
            "second_ready",
            "second_ready_busy",
            "reply_while_idle",
            "reply_to_other",
            "request",
        )
    ]


@pytest.mark.parametrize(("dialect", "case"), _unexpected_cases())
def test_valid_but_unexpected_command_gets_disconnect_then_silence(
    edge: EdgeHandle, dealers: Dealers, dialect: str, case: str
) -> None:
    """RFC 7 / RFC 18: the broker MUST answer a valid but unexpected command with
    DISCONNECT and then send nothing more; the worker is forgotten (docs/protocols.md
    §2.7, §2.8) and a reply it sent is not forwarded."""
    worker = _registered(edge, dealers, dialect, b"strict")
    client = dealers.open(edge.endpoint)
    # the client a stray reply or REQUEST names: one the ROUTER knows, so that one
    # sent on would arrive (its question and answer made it known)
    client_id = b"other-client"
    other = dealers.open(edge.endpoint, routing_id=client_id)
    assert received_before_answer(other) == []
    if case == "second_ready":
        worker.send_multipart(ready(dialect, b"strict"))
    elif case == "reply_while_idle":
        worker.send_multipart(final(dialect, client_id, b"stray"))
    elif case == "request":
        worker.send_multipart(worker_command(dialect, "request", client_id, b"", b"x"))
    elif case == "second_ready_busy":  # crashes zguide's broker (§2.9)
        client.send_multipart(client_request(V02, b"strict", b"job"))
        split_request(dialect, recv(worker))
        worker.send_multipart(ready(dialect, b"strict"))
    else:
        client.send_multipart(client_request(V02, b"strict", b"job"))
        split_request(dialect, recv(worker))
        worker.send_multipart(final(dialect, client_id, b"stray"))
    assert recv(worker) == disconnect(dialect)
    wait_status(edge.context, edge.endpoint, b"strict", b"404")
    worker.send_multipart(heartbeat(dialect))  # from an unknown peer now
    assert recv(worker) == disconnect(dialect)
    assert received_before_answer(client) == []
    assert received_before_answer(other) == []


@pytest.mark.parametrize(
    ("registered", "switched"), [(V01, V02), (V02, VMJ), (VMJ, V01)]
)
def test_a_worker_that_switches_dialect_gets_disconnect_in_its_own(
    edge: EdgeHandle, dealers: Dealers, registered: str, switched: str
) -> None:
    """docs/protocols.md §3.5: the dialect never changes for a registered worker; one
    that switches is sent DISCONNECT in the dialect it registered with."""
    worker = _registered(edge, dealers, registered, b"fickle")
    worker.send_multipart(heartbeat(switched))
    assert recv(worker) == disconnect(registered)
    wait_status(edge.context, edge.endpoint, b"fickle", b"404")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("command", ["heartbeat", "final", "partial"])
def test_command_from_an_unknown_peer_gets_disconnect_in_its_dialect(
    edge: EdgeHandle, dealers: Dealers, dialect: str, command: str
) -> None:
    """RFC 7: HEARTBEAT is valid only after READY; docs/protocols.md §2.7-§2.8: the
    broker answers HEARTBEAT, REPLY, PARTIAL or FINAL from an unknown peer with
    DISCONNECT, and forwards no reply (majortomo forwards it, §9.2)."""
    if dialect == V01 and command == "partial":
        command = "final"
    client_id = b"known-client"
    client = dealers.open(edge.endpoint, routing_id=client_id)
    client.send_multipart(client_request(V02, b"mmi.service", b"x"))
    recv(client)  # the client is known to the ROUTER: a forwarded reply would arrive
    stranger = dealers.open(edge.endpoint)
    if command == "heartbeat":
        stranger.send_multipart(heartbeat(dialect))
    else:
        fake = worker_command(dialect, command, client_id, b"", b"x")
        stranger.send_multipart(fake)
    assert recv(stranger) == disconnect(dialect)  # the broker has taken it
    assert received_before_answer(client) == []


# ---------------------------------------------------------------- invalid input (§2.8)
_INVALID_FROM_WORKER = {
    V01: [
        [b"", b"MDPW01"],  # short: no command
        [b"", b"MDPW01", b"\x09"],  # command not in the table
        [b"", b"MDPW01", b"\x04\x00"],  # command longer than one byte
        [b"", b"MDPW01", b"\x06"],  # an 0.2 command under the 0.1 header
        [b"", b"MDPW01", b"\x04", b"extra"],  # HEARTBEAT with extra frames
        [b"", b"MDPW01", b"\x05", b"extra"],  # DISCONNECT with extra frames
        [b"", b"MDPW01", b"\x03", b"C", b"x", b"body"],  # not empty after address
        [b"", b"MDPW01", b"\x03", b"C", b""],  # REPLY with no body frame
    ],
    V02: [
        [b"MDPW02"],
        [b"MDPW02", b"\x07"],
        [b"MDPW02", b"\x05", b"extra"],
        [b"MDPW02", b"\x06", b"extra"],
        [b"MDPW02", b"\x04", b"C", b"x", b"body"],
        [b"MDPW02", b"\x03", b"C", b""],
    ],
    VMJ: [
        [b"", b"MDPW02", b"\x00"],
        [b"", b"MDPW02", b"\x05", b"extra"],
        [b"", b"MDPW02", b"\x04", b"C"],
    ],
}


def _invalid_cases() -> list[tuple[str, list[bytes]]]:
    return [(d, frames) for d, rows in _INVALID_FROM_WORKER.items() for frames in rows]


@pytest.mark.parametrize(("dialect", "garbage"), _invalid_cases())
def test_invalid_message_from_a_registered_worker_disconnects_it(
    edge: EdgeHandle, dealers: Dealers, dialect: str, garbage: list[bytes]
) -> None:
    """docs/protocols.md §2.8 (RFC 7: treat the peer as invalid): the message is
    dropped, a registered sender gets DISCONNECT in its dialect and is forgotten."""
    worker = _registered(edge, dealers, dialect, b"garbled")
    worker.send_multipart(garbage)
    assert recv(worker) == disconnect(dialect)
    wait_status(edge.context, edge.endpoint, b"garbled", b"404")


_INVALID_FROM_ANYONE = [
    [b""],
    [b"", b"MDPX01", b"svc", b"x"],  # bad_header
    [b"HELLO"],
    [b"MDPC01", b"svc", b"x"],  # bad_envelope: 0.1 without frame 0
    [b"MDPW01", b"\x01", b"svc"],
    [b"", b"MDPC01", b"svc"],  # request without body
    [b"", b"MDPC01", b"", b"x"],  # empty service name
    [b"MDPC02", b"\x01", b"svc"],
    [b"MDPC02", b"\x02", b"svc", b"x"],  # a client sending PARTIAL
    [b"MDPC02", b"\x03", b"svc", b"x"],  # a client sending FINAL
    [b"MDPC02", b"\x01", b"", b"x"],
    [b"", b"MDPC02", b"\x01", b"svc", b"x"],  # RFC 18 byte in majortomo framing
    [b"", b"MDPW01", b"\x01"],  # READY without service
    [b"", b"MDPW01", b"\x01", b"svc", b"extra"],  # READY with extra frames
    [b"MDPW02", b"\x01", b""],  # READY with empty service
    [b"", b"MDPC01", b"mmi.service"],  # MMI request without body (§4)
]


@pytest.mark.parametrize("garbage", _INVALID_FROM_ANYONE)
def test_invalid_message_from_an_unknown_peer_is_dropped_unanswered(
    edge: EdgeHandle, dealers: Dealers, garbage: list[bytes]
) -> None:
    """docs/protocols.md §2.8 and §3.3: invalid input is dropped and counted, never
    answered (no amplification), and the broker keeps serving."""
    attacker = dealers.open(edge.endpoint)
    attacker.send_multipart(garbage)
    # the broker reads the attacker's messages in order: its question after the
    # garbage is answered first, or the garbage was
    assert received_before_answer(attacker) == []
    worker = _registered(edge, dealers, V02, b"svc")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V01, b"svc", b"fine"))
    address, _ = split_request(V02, recv(worker))
    worker.send_multipart(final(V02, address, b"ok"))
    assert recv(client) == client_final(V01, b"svc", b"ok")
    assert received_before_answer(worker) == []
    stats = edge.ref.ask(GetStats(), timeout=5)
    assert isinstance(stats, dict)
    assert sum(v for k, v in stats.items() if k.startswith("broker.rejected.")) == 1


def test_majortomo_dialect_is_invalid_input_when_refused_by_config(
    zmq_context: Context,
) -> None:
    """docs/protocols.md §3.5: delimited MDPC02/MDPW02 is the majortomo dialect only if
    enabled, else invalid: dropped unanswered, while RFC 18 peers are still served."""
    made = Dealers(zmq_context)
    with clocked_edge(zmq_context, BrokerSettings(accept_majortomo=False)) as broker:
        try:
            outsider = made.open(broker.endpoint)
            outsider.send_multipart(ready(VMJ, b"dialect"))
            outsider.send_multipart(client_request(VMJ, b"mmi.service", b"dialect"))
            worker = made.open(broker.endpoint)
            worker.send_multipart(ready(V02, b"rfc"))
            wait_status(zmq_context, broker.endpoint, b"rfc", b"200")
            assert mmi_service(zmq_context, broker.endpoint, b"dialect") == b"404"
            # an RFC 18 question is answered: after both refused messages, first
            assert received_before_answer(outsider, V02) == []
            assert broker.stats()["broker.rejected.bad_envelope"] == 2
        finally:
            made.close_all()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_network_peer_posing_with_the_in_process_prefix_is_rejected(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """A DEALER may choose its routing id; one starting with 0xff (the in-process
    prefix) must not pass for an in-process peer: its READY registers nothing and
    its DISCONNECT removes nothing, and it is counted as rejected.local_id. Its log
    line shows the id in hex: `local:echo` would name raspyd's own part."""
    worker = _registered(edge, dealers, V02, b"echo")
    poser = dealers.open(edge.endpoint, routing_id=b"\xffecho")
    with capture_logs() as logs:
        poser.send_multipart(ready(dialect, b"posed"))
        poser.send_multipart(disconnect(dialect))
        wait_until(
            lambda: _stats(edge).get("broker.rejected.local_id") == 2,
            what="the broker to take both of the poser's messages",
        )
        assert mmi_service(edge.context, edge.endpoint, b"posed") == b"404"
        assert mmi_service(edge.context, edge.endpoint, b"echo") == b"200"
        assert received_before_answer(worker) == []
        # no per-peer proof for the poser: the broker answers nothing from an id
        # with the in-process prefix, a question included, so no answer can mark
        # the end of what it sent it; a short wait once both messages were taken
        assert nothing_within(poser, 50)
    rejected = [e for e in logs if e["event"] == "frame_rejected"]
    assert [(e["peer"], e["reason"]) for e in rejected] == [("ff6563686f", "local_id")]
