"""A TCP relay on 127.0.0.1 that a test can disturb: the network between raspy and
a peer (the hub, an MQTT broker) made flaky on purpose.

`stall()` stops moving bytes both ways while the connections stay open (a cable
pulled: nobody is told; held bytes go on at `heal()`), `hold()` drops what clients
send from then on (the peer hears nothing, so acknowledges nothing), `cut()` closes
every connection (a lost link: both ends see it) and ends a hold, so new connections
are relayed normally. `stop_reading_after(n)`: the next connection reads no more of
what the peer sends once `n` bytes were passed on (a client that stops reading
halfway, as the peer sees it: its sends soon block), until it is closed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Final

# the receive buffer of a connection that stops reading: the peer's sends block soon
_SMALL_RCVBUF: Final = 1024
_CONNECT_TIMEOUT_S: Final = 5.0  # to the peer; none once connected
_PARKED: Final = threading.Event()  # never set: a connection that stops reading waits


class Relay:
    """Relays `port` (a free one by default) to `target_port`."""

    def __init__(self, target_port: int, port: int = 0) -> None:
        self._target = target_port
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._holding = threading.Event()
        self._read_cap: int | None = None  # for the next connection
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
            with self._lock:
                cap, self._read_cap = self._read_cap, None
            try:
                upstream = _connect(self._target, small_buffer=cap is not None)
            except OSError:
                _shut(client)  # the peer is down: refused, as without the relay
                continue
            with self._lock:
                self._open += [client, upstream]
            self._spawn(self._pump, client, upstream, True)
            self._spawn(self._pump, upstream, client, False, cap)

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        outward: bool,
        cap: int | None = None,
    ) -> None:
        passed = 0
        while cap is None or passed < cap:
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
            if cap is not None:
                data = data[: cap - passed]
                passed += len(data)
            try:
                sink.sendall(data)
            except OSError:
                break
        else:  # read no more, until the connection is closed
            while source.fileno() >= 0 and sink.fileno() >= 0:
                _PARKED.wait(0.05)
            return
        for sock in (source, sink):
            _shut(sock)

    def stop_reading_after(self, nbytes: int) -> None:
        """The next connection passes on the first `nbytes` the peer sends, then
        reads nothing more of it until it is closed; later ones are relayed whole."""
        with self._lock:
            self._read_cap = nbytes

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


def _connect(port: int, *, small_buffer: bool) -> socket.socket:
    """A connection to the peer, blocking once made: it lives as long as the relay
    (cut() or close() ends it), where the timeout of its connect, left on it,
    closed a connection idle for 5 s. `small_buffer`: one whose receive buffer is
    small (set before connect, so the window says so), for a connection that stops
    reading."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if small_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SMALL_RCVBUF)
        sock.settimeout(_CONNECT_TIMEOUT_S)
        sock.connect(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.settimeout(None)
    return sock


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() or accept() blocked on it
    sock.close()
