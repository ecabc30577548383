"""A TCP relay on 127.0.0.1 that a test can disturb: the network between raspy and
a peer (the hub, an MQTT broker) made flaky on purpose.

`stall()` stops moving bytes both ways while the connections stay open (a cable
pulled: nobody is told; held bytes go on at `heal()`), `hold()` drops what clients
send from then on (the peer hears nothing, so acknowledges nothing), `cut()` closes
every connection (a lost link: both ends see it) and ends a hold, so new connections
are relayed normally.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class Relay:
    """Relays `port` (a free one by default) to `target_port`."""

    def __init__(self, target_port: int, port: int = 0) -> None:
        self._target = target_port
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._holding = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target), 5)
            except OSError:
                _shut(client)  # the peer is down: refused, as without the relay
                continue
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
            while not self._flowing.wait(0.05):  # stalled: held, not lost
                if source.fileno() < 0:
                    return
            if outward and self._holding.is_set():
                continue  # never reaches the peer
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            _shut(sock)

    def stall(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    def hold(self) -> None:
        self._holding.set()

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            _shut(sock)
        self._holding.clear()

    def close(self) -> None:
        self._flowing.set()
        _shut(self._listener)  # wakes the accept()
        self.cut()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() or accept() blocked on it
    sock.close()
