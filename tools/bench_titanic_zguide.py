"""The reference for tools/bench_titanic.py: zguide's titanic.py design, in Python 3.

zguide's own titanic.py is Python 2 (cPickle, print statements) and cannot run here;
this process does what it does (docs/protocols.md §5.5, "What zguide does"), written
for this bench: three synchronous MDP/0.1 workers in threads (`titanic.request`,
`titanic.reply`, `titanic.close`, one request at a time each); a request is pickled to
`<dir>/<uuid>.req` (not fsynced) and its UUID handed to the main thread over an inproc
pipe, which appends `-<uuid>` to `<dir>/queue` and then walks the whole queue: for each
pending line, `mmi.service`, then the request with a 1 s timeout and one try; a reply
is pickled to `<dir>/<uuid>.rep` and a line marked `+` the way titanic.py does it:
seeking back from the end of the file after readlines(), which marks the last line,
so earlier requests are sent again on every pass (the bug docs/protocols.md §5.5
measured; kept, since it is what the reference does). Bounded: it stops on SIGTERM or
after `max_seconds`.

Run (by the bench):  python tools/bench_titanic_zguide.py ENDPOINT DIR MAX_SECONDS
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import time
import uuid as uuid_mod
from collections.abc import Callable
from pathlib import Path

import zmq

_HEARTBEAT_S = 2.5
_W01 = b"MDPW01"
_C01 = b"MDPC01"
Context = zmq.Context[zmq.Socket[bytes]]


def _worker(
    ctx: Context,
    endpoint: str,
    service: bytes,
    handle: Callable[[list[bytes]], list[bytes]],
    stop: threading.Event,
) -> None:
    """A synchronous MDP/0.1 worker (REQUEST in, REPLY out, heartbeats when idle)."""
    sock = ctx.socket(zmq.DEALER)  # this thread's: closed here, whatever happens
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        sock.send_multipart([b"", _W01, b"\x01", service])
        next_heartbeat = time.monotonic() + _HEARTBEAT_S
        while not stop.is_set():
            if sock.poll(200):
                frames = sock.recv_multipart()
                if len(frames) >= 6 and frames[2] == b"\x02":
                    client, body = frames[3], frames[5:]
                    reply = handle(body)
                    sock.send_multipart([b"", _W01, b"\x03", client, b"", *reply])
            if time.monotonic() >= next_heartbeat:
                sock.send_multipart([b"", _W01, b"\x04"])
                next_heartbeat = time.monotonic() + _HEARTBEAT_S
        # last words only (DISCONNECT): the broker forgets a silent worker anyway
        with contextlib.suppress(zmq.ZMQError):
            sock.send_multipart([b"", _W01, b"\x05"], zmq.NOBLOCK)
    finally:
        sock.close(linger=100)


class _Client:
    """zguide's mdcliapi with timeout 1 s and one try: a new socket after a timeout."""

    def __init__(self, ctx: Context, endpoint: str) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self._sock = self._connect()

    def _connect(self) -> zmq.Socket[bytes]:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self._endpoint)
        return sock

    def send(self, service: bytes, body: list[bytes]) -> list[bytes] | None:
        self._sock.send_multipart([b"", _C01, service, *body])
        if self._sock.poll(1000):
            return self._sock.recv_multipart()[3:]
        self._sock.close(linger=0)
        self._sock = self._connect()
        return None

    def close(self) -> None:
        self._sock.close(linger=0)


def run(endpoint: str, folder: Path, max_seconds: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ctx: Context = zmq.Context()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    pipe_in = ctx.socket(zmq.PAIR)
    pipe_in.bind("inproc://titanic-pipe")
    pipe_out = ctx.socket(zmq.PAIR)
    pipe_out.connect("inproc://titanic-pipe")
    pipe_lock = threading.Lock()

    def on_request(body: list[bytes]) -> list[bytes]:
        uuid = uuid_mod.uuid4().hex
        with (folder / f"{uuid}.req").open("wb") as f:
            pickle.dump(body, f)
        with pipe_lock:
            pipe_out.send(uuid.encode())
        return [b"200", uuid.encode()]

    def on_reply(body: list[bytes]) -> list[bytes]:
        uuid = body[0].decode()
        rep, req = folder / f"{uuid}.rep", folder / f"{uuid}.req"
        if rep.exists():
            with rep.open("rb") as f:
                stored: list[bytes] = pickle.load(f)  # noqa: S301 (our own files)
            return [b"200", *stored]
        return [b"300"] if req.exists() else [b"400"]

    def on_close(body: list[bytes]) -> list[bytes]:
        uuid = body[0].decode()
        for name in (f"{uuid}.req", f"{uuid}.rep"):
            (folder / name).unlink(missing_ok=True)
        return [b"200"]

    handlers = {
        b"titanic.request": on_request,
        b"titanic.reply": on_reply,
        b"titanic.close": on_close,
    }
    threads = [
        threading.Thread(
            target=_worker, args=(ctx, endpoint, service, handle, stop), daemon=True
        )
        for service, handle in handlers.items()
    ]
    for thread in threads:
        thread.start()
    client = _Client(ctx, endpoint)
    queue = folder / "queue"
    queue.touch()
    deadline = time.monotonic() + max_seconds
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            if pipe_in.poll(1000):
                uuid = pipe_in.recv().decode()
                with queue.open("a") as f:
                    f.write(f"-{uuid}\n")
            _dispatch(client, folder, queue)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        client.close()
        pipe_in.close(linger=0)
        if any(thread.is_alive() for thread in threads):
            # a stuck worker owns its socket and may still use pipe_out: neither is
            # closed from here, and term() would wait for them for ever
            raise SystemExit("bench_titanic_zguide: a worker thread did not stop")
        pipe_out.close(linger=0)
        ctx.term()


def _dispatch(client: _Client, folder: Path, queue: Path) -> None:
    """The brute-force dispatcher: every pending line of the queue, every time."""
    with queue.open("r+b") as f:
        for line in f.readlines():
            if line[:1] == b"-":
                uuid = line[1:].rstrip().decode()
                if _deliver(client, folder, uuid):
                    # titanic.py's arithmetic: back from where readlines() left off
                    here = f.tell()
                    f.seek(here - len(line))
                    f.write(b"+")
                    f.seek(here)


def _deliver(client: _Client, folder: Path, uuid: str) -> bool:
    request_file = folder / f"{uuid}.req"
    if not request_file.exists():
        return True  # closed meanwhile
    with request_file.open("rb") as f:
        request: list[bytes] = pickle.load(f)  # noqa: S301 (our own files)
    service, body = request[0], request[1:]
    answer = client.send(b"mmi.service", [service])
    if not answer or answer[0] != b"200":
        return False
    reply = client.send(service, body)
    if reply is None:
        return False
    with (folder / f"{uuid}.rep").open("wb") as f:
        pickle.dump(reply, f)
    return True


if __name__ == "__main__":
    run(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]))
    os._exit(0)
