"""Interop (docs/protocols.md §3.4, §9.2): majortomo's client and worker against our broker."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from majortomo import Client as MajortomoClient
from majortomo import Worker as MajortomoWorker
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until
from support.zmqctx import dealer, recv

from raspy.actors.worker import EchoWorkerActor

pytestmark = pytest.mark.interop


def _service_ready(edge: EdgeHandle, service: bytes) -> bool:
    probe = dealer(edge.context, edge.endpoint)
    try:
        probe.send_multipart([b"MDPC02", b"\x01", b"mmi.service", service])
        return recv(probe)[-1] == b"200"
    finally:
        probe.close()


def test_majortomo_client_is_served_by_in_process_worker(edge: EdgeHandle) -> None:
    """The majortomo dialect: its REQUEST 0x02 and its FINAL 0x04 without service frame."""
    EchoWorkerActor.start(edge.ref, edge.outbox, b"echo", "echo")
    wait_until(lambda: _service_ready(edge, b"echo"), what="echo worker")
    client = MajortomoClient(edge.endpoint, zmq_context=edge.context, zmq_linger=0)
    try:
        client.connect()
        client.send(b"echo", b"hello", b"there")
        assert client.recv_all_as_list(timeout=3) == [b"hello", b"there"]
    finally:
        client.close()  # type: ignore[no-untyped-call]  # majortomo is typed by comments only


Answer = Callable[[MajortomoWorker, bytes, list[bytes]], None]


@contextmanager
def _majortomo_worker(edge: EdgeHandle, answer: Answer, last: bytes) -> Iterator[None]:
    """majortomo's worker of `upper`, registered, on a thread of its own: `answer`
    replies to each request; it ends after the request whose first frame is `last`
    (no flag to set: a flag set while it is between two requests was missed)."""
    worker = MajortomoWorker(
        edge.endpoint, b"upper", zmq_context=edge.context, zmq_linger=0
    )

    def serve() -> None:
        worker.connect()
        try:
            while True:
                try:
                    client_address, body = worker.wait_for_request()
                except Exception:  # noqa: BLE001  # majortomo raises on broker DISCONNECT/timeouts
                    return
                answer(worker, client_address, body)
                if body[0] == last:
                    return
        finally:
            worker.close()  # type: ignore[no-untyped-call]  # majortomo is typed by comments only

    thread = threading.Thread(target=serve, name="majortomo-worker")
    thread.start()
    try:
        wait_until(lambda: _service_ready(edge, b"upper"), what="majortomo worker")
        yield
    finally:
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_majortomo_worker_serves_rfc7_and_rfc18_clients(edge: EdgeHandle) -> None:
    """A majortomo worker registers (READY with delimiter) and answers clients of both versions."""

    def upper(
        worker: MajortomoWorker, client_address: bytes, body: list[bytes]
    ) -> None:
        worker.send_reply_partial(client_address, [body[0].upper()])
        worker.send_reply_final(client_address, [b"done"])

    client = dealer(edge.context, edge.endpoint)
    try:
        with _majortomo_worker(edge, upper, last=b"xyz"):
            client.send_multipart([b"MDPC02", b"\x01", b"upper", b"abc"])
            assert recv(client) == [b"MDPC02", b"\x02", b"upper", b"ABC"]
            assert recv(client) == [b"MDPC02", b"\x03", b"upper", b"done"]
            client.send_multipart([b"", b"MDPC01", b"upper", b"xyz"])
            assert recv(client) == [b"", b"MDPC01", b"upper", b"XYZ", b"done"]
    finally:
        client.close()


def test_a_majortomo_workers_final_without_a_body_ends_every_clients_reply(
    edge: EdgeHandle,
) -> None:
    """majortomo's worker may end a stream with a FINAL of no body frame
    (`send_reply_final(client, [])`): the broker refused it as short, the stream never
    ended, and the client's resends ran the handler again. A client of RFC 7 or 18,
    whose reply needs a body frame, gets one empty frame; majortomo's gets none."""
    handled: list[bytes] = []

    def upper_then_nothing(
        worker: MajortomoWorker, client_address: bytes, body: list[bytes]
    ) -> None:
        handled.append(body[0])
        if body[0] != b"none":
            worker.send_reply_partial(client_address, [body[0].upper()])
        worker.send_reply_final(client_address, [])

    client = dealer(edge.context, edge.endpoint)
    majortomo = MajortomoClient(edge.endpoint, zmq_context=edge.context, zmq_linger=0)
    try:
        with _majortomo_worker(edge, upper_then_nothing, last=b"def"):
            client.send_multipart([b"MDPC02", b"\x01", b"upper", b"abc"])
            assert recv(client) == [b"MDPC02", b"\x02", b"upper", b"ABC"]
            assert recv(client) == [b"MDPC02", b"\x03", b"upper", b""]
            client.send_multipart([b"MDPC02", b"\x01", b"upper", b"none"])
            assert recv(client) == [b"MDPC02", b"\x03", b"upper", b""]
            client.send_multipart([b"", b"MDPC01", b"upper", b"xyz"])
            assert recv(client) == [b"", b"MDPC01", b"upper", b"XYZ"]
            client.send_multipart([b"", b"MDPC01", b"upper", b"none"])
            assert recv(client) == [b"", b"MDPC01", b"upper", b""]
            majortomo.connect()
            majortomo.send(b"upper", b"def")
            assert majortomo.recv_all_as_list(timeout=3) == [b"DEF"]
        assert handled == [b"abc", b"none", b"xyz", b"none", b"def"]  # each once
    finally:
        client.close()
        majortomo.close()  # type: ignore[no-untyped-call]  # majortomo is typed by comments only
