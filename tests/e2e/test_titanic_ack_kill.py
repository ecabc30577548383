"""RFC 9/TSP "accepted means stored" under a SIGKILL the moment an answer arrives.

A raw MDP/0.1 DEALER client (frames as RFC 7 gives them) pipelines titanic.requests
for a service nobody serves, and the real raspyd is killed as soon as the Nth `200`
is read, while it is still storing and answering the rest (docs/protocols.md §5.5.1:
the request and its queue entry are committed durably before `200` goes out).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq
from support.daemon import Daemon, serving_titanic
from support.net import free_port_base
from support.zmqctx import checked_context, dealer, recv

Context = zmq.Context[zmq.Socket[bytes]]
NOBODY = b"e2e.ack.nobody"  # no worker ever serves it: every request stays pending
SENT = 1000
KILL_AT = 20  # the kill comes with most of the requests still on their way


def acknowledged(reply: list[bytes]) -> bytes:
    """The UUID of a `200` answer to titanic.request (RFC 7 client REPLY)."""
    assert reply[:4] == [b"", b"MDPC01", b"titanic.request", b"200"], reply
    (request_id,) = reply[4:]
    return request_id


def acknowledged_until_killed(context: Context, daemon: Daemon) -> list[bytes]:
    """Every UUID answered `200`: SIGKILL once the KILL_AT-th is read, then the
    answers that had already arrived (sent before the kill) count too."""
    client = dealer(context, daemon.endpoint)
    try:
        for n in range(SENT):
            client.send_multipart(
                [b"", b"MDPC01", b"titanic.request", NOBODY, b"body %d" % n]
            )
        ids = [acknowledged(recv(client, 5000)) for _ in range(KILL_AT)]
        daemon.kill()
        while client.poll(0):
            ids.append(acknowledged(client.recv_multipart()))
        return ids
    finally:
        client.close()


def reply_status(context: Context, endpoint: str, request_id: bytes) -> list[bytes]:
    """titanic.reply for one UUID on a REQ socket, as zguide's ticlient asks it."""
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart([b"MDPC01", b"titanic.reply", request_id])
        header, service, *body = recv(sock, 5000)
        assert (header, service) == (b"MDPC01", b"titanic.reply")
        return body
    finally:
        sock.close()


@pytest.mark.timeout(90)
def test_every_request_answered_200_before_a_sigkill_is_pending_after_it(
    tmp_path: Path,
) -> None:
    """RFC 9: titanic.request stores the request persistently before it answers;
    docs/protocols.md §5.5.1 and §5.6: `200` comes only after the durable commit, so
    every acknowledged UUID answers `300` to titanic.reply after a restart on the
    same data dir (pending: nobody serves its target), never `400`."""
    data_dir, port_base = tmp_path / "data", free_port_base()
    with checked_context() as context:
        daemon = serving_titanic(data_dir, port_base)
        try:
            ids = acknowledged_until_killed(context, daemon)
        finally:
            daemon.kill()
        assert len(set(ids)) == len(ids) >= KILL_AT
        daemon = serving_titanic(data_dir, port_base)
        try:
            answers = {
                request_id: reply_status(context, daemon.endpoint, request_id)
                for request_id in ids
            }
        finally:
            daemon.kill()
    not_pending = {key: body for key, body in answers.items() if body != [b"300"]}
    assert not_pending == {}, f"of {len(ids)} acknowledged"
