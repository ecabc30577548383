"""An in-process client of the `<host>.http` service (HttpClientActor) on a real edge,
as a scenario is one: its requests' frames in, the service's replies out; and a
resolver that hangs, for the service's lookups."""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Sequence
from typing import Any

from raspy.actors import messages as msgs
from raspy.actors.http_client import HttpClientActor
from raspy.actors.worker import LocalClient, LocalReply, local_peer_id
from raspy.http_lookup import AddrInfo
from raspy.http_request import HttpRequest, encode_request
from raspy.stats import Stats
from support.edge_fixtures import EdgeHandle
from support.reply_owner import Owner

SERVICE = b"testhost.http"
PATIENCE_S = 10.0


class Asker:
    """An in-process client of the service, as a scenario is one."""

    def __init__(self, edge: EdgeHandle, workers: int = 2, **options: Any) -> None:
        self.edge = edge
        self.stats = Stats()
        self.service = HttpClientActor.start(
            edge.ref, edge.outbox, SERVICE, self.stats, workers=workers, **options
        )
        self.received: queue.SimpleQueue[msgs.MdpFrames] = queue.SimpleQueue()
        self.owner = Owner.start(self.received)
        self.client: LocalClient[None] = LocalClient(
            edge.outbox, local_peer_id("test.http")
        )
        self.client.attach(edge.ref, self.owner, 5.0)
        self._next = 0

    def send(self, request: HttpRequest | tuple[bytes, ...]) -> int:
        frames = (
            encode_request(request) if isinstance(request, HttpRequest) else request
        )
        self._next += 1
        self.client.send(self._next, SERVICE, frames, PATIENCE_S)
        return self._next

    def reply(self, timeout_s: float = 8.0) -> tuple[int, tuple[bytes, Any]]:
        message = self.received.get(timeout=timeout_s)
        outcome = self.client.reply(message.peer_id, message.frames)
        assert isinstance(outcome, LocalReply), outcome
        status, detail = outcome.body
        return outcome.request_id, (status, json.loads(detail))

    def ask(self, request: HttpRequest | tuple[bytes, ...]) -> tuple[bytes, Any]:
        sent = self.send(request)
        got, answer = self.reply()
        assert got == sent
        return answer

    def close(self) -> None:
        self.client.detach(self.edge.ref)
        self.owner.stop(timeout=5)
        self.service.stop(timeout=5)


HOLD_S = 20.0  # a hung lookup is let go by the test long before this


class HangingResolver:
    """Holds every lookup of `hung.test` until `release` is set; any other name is
    127.0.0.1; `nowhere.test` does not exist. Counts the lookups it was given and
    the ones under way."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[str] = []
        self.running = 0
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> Sequence[AddrInfo]:
        with self._lock:
            self.calls.append(host)
            self.running += 1
        try:
            if host == "hung.test":
                self.release.wait(HOLD_S)
            if host == "nowhere.test":
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return socket.getaddrinfo("127.0.0.1", port, type=socket.SOCK_STREAM)
        finally:
            with self._lock:
                self.running -= 1
