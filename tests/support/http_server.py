"""A real HTTP server on 127.0.0.1 (an ephemeral port, its own threads) that records
what it is sent and answers by path: what a phone's push service or a webhook is to
the `<host>.http` service in its tests. Never a fixed port, never another address."""

from __future__ import annotations

import queue
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

BIG_BYTES: Final = 100 * 1024  # /big answers this much, over the 64 KiB read
DRIP_S: Final = 0.02  # /drip sends a byte this often: no read ever waits long
HOLD_S: Final = 30.0  # /silent holds its request at most this long (then the test ends)


@dataclass(frozen=True)
class Received:
    """A request as the server got it; header names in lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # the base's name
        """Quiet: the tests read what was received instead."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.put(Received(self.command, self.path, headers, body))
        path = self.path.split("?", 1)[0]
        if path == "/silent":  # reads the request, never answers
            self.server.stopping.wait(HOLD_S)
            self.close_connection = True
            return
        if path == "/drip":  # an answer a byte at a time, for ever
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self.server.stopping.wait(DRIP_S):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:  # the client hung up
                    break
            self.close_connection = True
            return
        status, extra, answer = _ANSWERS.get(path, (404, {}, b"no such topic\nhere"))
        if path.startswith("/echo/"):  # a 404 that quotes what it was asked
            answer = f"no such path: {self.path}".encode()
        if path == "/elsewhere":  # a 307 to the URL its query names (`?to=URL`)
            status, extra = 307, {"Location": self.path.split("?to=", 1)[1]}
        if path == "/loop":
            extra = {"Location": f"/loop?{self.server.hops}"}
            self.server.hops += 1
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = _serve


_ANSWERS: Final[dict[str, tuple[int, dict[str, str], bytes]]] = {
    "/ok": (200, {}, b'{"id":"x1"}'),
    "/empty": (204, {}, b""),
    "/fail": (500, {}, b"<html>\n  <b>Internal\tServer Error</b>\n</html>"),
    "/moved": (302, {"Location": "/ok"}, b""),
    "/see-other": (303, {"Location": "/ok?from=303"}, b""),
    "/keep": (307, {"Location": "/ok"}, b""),
    "/loop": (302, {}, b""),  # Location: /loop?N, a new one each time
    "/to-ftp": (302, {"Location": "ftp://127.0.0.1/x"}, b""),
    "/big": (200, {}, b"x" * BIG_BYTES),
    "/long-error": (400, {}, ("bad " * 100).encode()),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: queue.SimpleQueue[Received] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.hops = 0


@dataclass
class HttpServer:
    """The running server: its base URL and what it was sent, in order."""

    url: str
    server: _Server

    def take(self, timeout_s: float = 5.0) -> Received:
        """The next request it received (waits for it)."""
        return self.server.received.get(timeout=timeout_s)

    def taken(self) -> list[Received]:
        """Every request received and not taken yet (no wait)."""
        found: list[Received] = []
        while not self.server.received.empty():
            found.append(self.server.received.get_nowait())
        return found


@contextmanager
def http_server(tls: ssl.SSLContext | None = None) -> Iterator[HttpServer]:
    """A server on 127.0.0.1, https with `tls` (a server context); stopped after."""
    server = _Server()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    host, port = server.server_address[:2]
    scheme = "https" if tls is not None else "http"
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="test-http", daemon=True
    )
    thread.start()
    try:
        yield HttpServer(f"{scheme}://{host!s}:{port}", server)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port on 127.0.0.1 bound by no listener: a connection to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound, never listening: nobody else takes it
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def self_signed(folder: Path, names: str = "IP:127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `names` (its subjectAltName: 127.0.0.1, or a host name as
    `DNS:notify.test`) that is its own issuer, and its key (openssl CLI, an EC key:
    a few milliseconds): trusted by a client given it as its CA file, refused by one
    that checks against the system's store."""
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=raspy test", "-addext", f"subjectAltName={names}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key
