"""A flaky network between a second board and the hub: TCP relays on 127.0.0.1.

`BoardLink` relays a whole port base (raspyd's N..N+3: MDP, snapshot, publisher,
collector) from its own base to the hub's, so a raspy-poller given `link.endpoint`
reaches the hub only through it. `stall()` stops moving bytes both ways while the
connections stay open (a cable pulled: nobody is told), `cut()` closes every
connection (a router reboot: both ends see the loss), `heal()` moves bytes again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Final

from support.net import free_port_base

_SPAN: Final = 4  # raspyd's ports from its base


class _Relay:
    """One listening port relayed to one target port."""

    def __init__(self, port: int, target_port: int, flowing: threading.Event) -> None:
        self._target = target_port
        self._flowing = flowing
        self._listener = socket.create_server(("127.0.0.1", port))
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]  # a bound method
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
                _shut(client)  # the hub is down: refused, as without the relay
                continue
            with self._lock:
                self._open += [client, upstream]
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
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
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            _shut(sock)

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        _shut(self._listener)
        self.cut()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)


class BoardLink:
    """Relays `hub_port_base`..+3 from a free base of its own."""

    def __init__(self, hub_port_base: int) -> None:
        self.port_base = free_port_base(_SPAN)
        self._flowing = threading.Event()
        self._flowing.set()
        self._relays = [
            _Relay(self.port_base + offset, hub_port_base + offset, self._flowing)
            for offset in range(_SPAN)
        ]

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port_base}"

    def stall(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    def cut(self) -> None:
        for relay in self._relays:
            relay.cut()

    def close(self) -> None:
        self._flowing.set()
        for relay in self._relays:
            relay.close()

    def __enter__(self) -> BoardLink:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
