"""bench_abuse.py's probes: the attacks a client on loopback can make on raspyd (floods
of requests, big frames, many workers, Titanic requests, Clone subscribers that read
slowly or not at all), each bounded by a count and by its deadline."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import zmq

from raspy.protocol import clone, titanic

Context = zmq.Context[zmq.Socket[bytes]]
Socket = zmq.Socket[bytes]


@dataclass(frozen=True, slots=True)
class Target:
    """The raspyd under attack."""

    pid: int
    mdp: str
    clone: clone.Endpoints


Probe = Callable[[Context, Target, float], str]  # -> what was sent


class ThreadStuck(RuntimeError):
    """A probe's thread did not end: it still owns a socket, so nobody else may
    close it, nor destroy or terminate the context under it."""


def _sender(context: Context, endpoint: str) -> Socket:
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDTIMEO, 1000)  # a stuck daemon ends the probe, not the run
    sock.connect(endpoint)
    return sock


def _pipeline(
    context: Context,
    endpoint: str,
    messages: Iterator[list[bytes]],
    deadline: float,
) -> int:
    """Send until the messages or the time run out; the number sent."""
    sock = _sender(context, endpoint)
    sent = 0
    try:
        for frames in messages:
            if sent % 256 == 0 and time.monotonic() > deadline:
                break
            try:
                sock.send_multipart(frames)
            except zmq.Again:
                break
            sent += 1
    finally:
        sock.close()
    return sent


def distinct_services(context: Context, target: Target, deadline: float) -> str:
    """300,000 requests, each to a service nobody serves, as fast as possible."""
    count = 300_000
    messages = ([b"", b"MDPC01", b"abuse.%d" % i, b"x"] for i in range(count))
    sent = _pipeline(context, target.mdp, messages, deadline)
    return f"{sent:,} requests to distinct services"


def big_requests(context: Context, target: Target, deadline: float) -> str:
    """3,000 requests of 1000 KiB to one service nobody serves."""
    body = b"x" * (1000 * 1024)
    messages = ([b"", b"MDPC01", b"abuse.big", body] for _ in range(3000))
    sent = _pipeline(context, target.mdp, messages, deadline)
    return f"{sent:,} x 1000 KiB requests to one service"


def long_service_names(context: Context, target: Target, deadline: float) -> str:
    """3,000 requests, each to its own service with a 1000 KiB name."""
    name = b"n" * (1000 * 1024 - 8)
    messages = ([b"", b"MDPC01", name + b"%08d" % i, b"x"] for i in range(3000))
    sent = _pipeline(context, target.mdp, messages, deadline)
    return f"{sent:,} requests to services with 1000 KiB names"


def big_frames(context: Context, target: Target, deadline: float) -> str:
    """50 MB frames, each on a new connection (libzmq drops the one that sent it)."""
    body = b"x" * (50 * 1000 * 1000)
    sent = 0
    for _ in range(20):
        if time.monotonic() > deadline:
            break
        sock = _sender(context, target.mdp)
        sock.setsockopt(zmq.LINGER, 2000)
        try:
            sock.send_multipart([b"", b"MDPC01", b"abuse.huge", body])
            sent += 1
        except zmq.Again:
            pass
        finally:
            sock.close()
    return f"{sent} x 50 MB frames"


def many_workers(context: Context, target: Target, deadline: float) -> str:
    """Up to 8,000 workers, each with its own service name (as many as this process
    has file descriptors for)."""
    context.set(zmq.MAX_SOCKETS, 20_000)
    sockets = []
    try:
        for index in range(8000):
            if index % 100 == 0 and time.monotonic() > deadline:
                break
            try:
                sock = context.socket(zmq.DEALER)
            except zmq.ZMQError:  # out of file descriptors here: enough
                break
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(target.mdp)
            sock.send_multipart([b"MDPW02", b"\x01", b"abuse.worker.%d" % index])
            sockets.append(sock)
        time.sleep(2.0)  # let the broker read every READY
    finally:
        for sock in sockets:
            sock.close()
    return f"{len(sockets):,} workers, one service each"


def titanic_flood(context: Context, target: Target, deadline: float) -> str:
    """200,000 titanic.request of 1 KiB for a service nobody serves."""
    body = titanic.encode_request(titanic.Request(b"abuse.later", (b"x" * 1024,)))
    request = [b"", b"MDPC01", titanic.REQUEST_SERVICE, *body]
    sock = _sender(context, target.mdp)
    sent = accepted = 0
    try:
        while sent < 200_000 and time.monotonic() < deadline:
            try:
                sock.send_multipart(request)
            except zmq.Again:
                break
            sent += 1
            while sock.poll(0):
                frames = sock.recv_multipart()
                accepted += frames[3:4] == [b"200"]
    finally:
        sock.close()
    return f"{sent:,} x 1 KiB titanic.request ({accepted:,} seen accepted)"


def _publish_updates(
    context: Context, target: Target, deadline: float, count: int
) -> int:
    """KVSETs of 16 KiB over 100 keys through the collector; the number sent."""
    pub = context.socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.connect(target.clone.collector)
    if not pub.poll(5000):  # §1.6: the collector's subscription proves it listens
        pub.close()
        return 0
    pub.recv()
    body = b"v" * (16 * 1024)
    sent = 0
    try:
        while sent < count and time.monotonic() < deadline:
            key = b"/abuse/k%d" % (sent % 100)
            pub.send_multipart(
                clone.encode_kvmsg(clone.KvMsg(key, 0, uuid.uuid4().bytes, (), body))
            )
            sent += 1
            if sent % 500 == 0:
                time.sleep(0.05)  # a steady writer, not one burst
    finally:
        pub.close()
    return sent


def _subscriber(context: Context, target: Target) -> Socket:
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(target.clone.publisher)
    time.sleep(0.5)  # §1.6: the subscription reaches the publisher
    return sub


def never_reading_subscriber(context: Context, target: Target, deadline: float) -> str:
    """A Clone subscriber that never reads while 20,000 updates of 16 KiB go out."""
    sub = _subscriber(context, target)
    try:
        sent = _publish_updates(context, target, deadline, 20_000)
    finally:
        sub.close()
    return f"{sent:,} x 16 KiB updates, 1 subscriber never reading"


def slow_reading_subscriber(context: Context, target: Target, deadline: float) -> str:
    """A Clone subscriber reading 80 messages a second while updates go out."""
    stop_reading = threading.Event()
    subscribed = threading.Event()
    read = [0]

    def reader() -> None:  # owns its SUB: made, read and closed on this thread
        sub = _subscriber(context, target)
        try:
            subscribed.set()
            while not stop_reading.wait(1 / 80):
                if sub.poll(0):
                    sub.recv_multipart()
                    read[0] += 1
        finally:
            sub.close()

    thread = threading.Thread(target=reader, name="slow-reader", daemon=True)
    thread.start()
    try:
        if not subscribed.wait(10):
            raise SystemExit("bench_abuse: the slow reader did not subscribe")
        sent = _publish_updates(context, target, deadline, 20_000)
    finally:
        stop_reading.set()
        thread.join(timeout=5)
        if thread.is_alive():
            raise ThreadStuck(
                "the slow reader did not stop within 5 s; its socket and the context "
                "are left open"
            )
    return f"{sent:,} x 16 KiB updates, 1 subscriber read {read[0]:,}"


PROBES: dict[str, Probe] = {
    "distinct_services": distinct_services,
    "big_requests": big_requests,
    "long_service_names": long_service_names,
    "big_frames": big_frames,
    "many_workers": many_workers,
    "titanic_flood": titanic_flood,
    "never_reading_subscriber": never_reading_subscriber,
    "slow_reading_subscriber": slow_reading_subscriber,
}
