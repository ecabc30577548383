"""The MQTT bridge actor on a test's edge, Clone server and store (no raspyd), with
its statistics at hand, and a TCP relay that can cut its connection to the broker."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import pykka

from raspy.actors.mqtt import MqttBridgeActor, Started
from raspy.actors.mqtt.events import GetLinkStats
from raspy.actors.worker import PeerLinks
from raspy.clock import SystemClock
from raspy.config import MqttConfig
from raspy.stats import Stats
from raspy.storage.store import Store
from support.clonesrv import CloneServer
from support.edge_fixtures import EdgeHandle


class Bridge:
    """A bridge actor on the edge, the Clone server and the store."""

    def __init__(self, edge: EdgeHandle, server: CloneServer, store: Store) -> None:
        self.edge, self.server, self.store = edge, server, store
        self.ref: pykka.ActorRef[Any] | None = None
        self.stats = Stats()

    def start(self, port: int, base: str, subtrees: tuple[str, ...]) -> None:
        config = MqttConfig(
            enabled=True,
            port=port,
            base_topic=base,
            discovery_prefix="",
            subtrees=subtrees,
        )
        links = PeerLinks(
            self.edge.ref,
            self.edge.outbox,
            self.server.ref,
            self.store,
            SystemClock(),
            self.stats,
        )
        self.ref = MqttBridgeActor.start(config, "pi", links)
        self.ref.ask(Started(), timeout=5)  # subscribed

    def link_stats(self) -> dict[str, object]:
        assert self.ref is not None
        stats = self.ref.ask(GetLinkStats(), timeout=5)
        assert isinstance(stats, dict)
        return stats

    def set(self, *items: tuple[str, bytes]) -> None:
        for key, body in items:
            self.server.publisher.set(key.encode(), body)

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=True, timeout=10)


class CutRelay:
    """A TCP relay on 127.0.0.1 to a broker. `hold()` drops what clients send from
    then on (the broker hears nothing, so acknowledges nothing), `cut()` closes every
    connection (a lost link) and relays new ones normally again."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._holding = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self._target), 5)
            with self._lock:
                self._open += [client, upstream]
            self._spawn(self._pump, client, upstream, True)
            self._spawn(self._pump, upstream, client, False)

    def _pump(self, source: socket.socket, sink: socket.socket, outward: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                break
            if not data:
                break
            if outward and self._holding.is_set():
                continue  # never reaches the broker
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            _shut(sock)

    def hold(self) -> None:
        self._holding.set()

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            _shut(sock)
        self._holding.clear()

    def close(self) -> None:
        _shut(self._listener)  # wakes the accept()
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() or accept() blocked on it
    sock.close()
