"""Multipart send and receive for hot paths, without pyzmq's per-frame Python layers.

`Socket.send_multipart` ORs IntFlag enums for every frame, which costs about three
times the send itself (measured: 21 µs against 7 µs for a six-frame message), and
`recv_multipart` goes through two Python layers and a getsockopt per frame. The fast
path calls the compiled socket methods (`zmq.backend.Socket`, not public API) with
plain int flags, but only where a feature check at import finds them as expected on
a pyzmq release we have tested; anywhere else the public calls are used. Same
semantics either way: a message goes out whole or not at all (libzmq checks the
high-water mark on the first frame only).

`drain` reads what is queued. Raising and catching zmq.Again costs about three times
as much as asking ZMQ_EVENTS, and a loop that reads until Again pays it once per
wake-up: twice per MDP request when the load is light, where one message is all there
is. So after the first message it asks ZMQ_EVENTS, and only a burst (more queued) is
read until Again, which then costs less than asking after every message.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Final, Protocol

import zmq

Socket = zmq.Socket[bytes]
RecvFrames = Callable[[Socket], list[bytes]]
Drain = Callable[[Socket, Callable[[list[bytes]], object], int], int]


class SendFrames(Protocol):
    def __call__(
        self, sock: Socket, frames: Sequence[bytes], *, block: bool = False
    ) -> None: ...


# pyzmq majors whose zmq.backend.Socket the fast path was measured and tested on
TESTED_PYZMQ_MAJORS: Final = range(25, 28)
_MORE: Final = int(zmq.SNDMORE)
_MORE_NOBLOCK: Final = int(zmq.SNDMORE) | int(zmq.NOBLOCK)
_NOBLOCK: Final = int(zmq.NOBLOCK)
_EVENTS: Final = int(zmq.EVENTS)
_POLLIN: Final = int(zmq.POLLIN)


def compiled_socket_class(version: tuple[int, ...] | None = None) -> type | None:
    """pyzmq's compiled socket base class if it is safe to call directly, else None.

    Safe means: a tested major version, `zmq.Socket` derives from it, and it has
    `send`, `recv` and `get` of its own (the sugar layer wraps them in Python).
    """
    major = (version or zmq.pyzmq_version_info())[0]
    if major not in TESTED_PYZMQ_MAJORS:
        return None
    try:
        base = importlib.import_module("zmq.backend").Socket
    except (ImportError, AttributeError):
        return None
    if not (isinstance(base, type) and issubclass(zmq.Socket, base)):
        return None
    if not all(callable(base.__dict__.get(name)) for name in ("send", "recv", "get")):
        return None
    return base


def fast_calls(base: type) -> tuple[SendFrames, RecvFrames]:
    """send_frames/recv_frames over the compiled methods of `base`."""
    send = base.__dict__["send"]
    recv = base.__dict__["recv"]

    def send_frames(
        sock: Socket, frames: Sequence[bytes], *, block: bool = False
    ) -> None:
        more, last = (_MORE, 0) if block else (_MORE_NOBLOCK, _NOBLOCK)
        final = len(frames) - 1
        for index in range(final):
            send(sock, frames[index], more)
        send(sock, frames[final], last)

    def recv_frames(sock: Socket) -> list[bytes]:
        # a zmq.Frame (copy=False) only to read `more`, cheaper than getsockopt
        # (RCVMORE) per frame; `.bytes` then copies the data out, as copy=True would
        frame = recv(sock, _NOBLOCK, False)
        frames: list[bytes] = [frame.bytes]
        while frame.more:
            frame = recv(sock, _NOBLOCK, False)
            frames.append(frame.bytes)
        return frames

    return send_frames, recv_frames


def fast_drain(base: type) -> Drain:
    """drain() over the compiled methods of `base` (see fast_calls)."""
    recv = base.__dict__["recv"]
    get = base.__dict__["get"]

    def drain(sock: Socket, handle: Callable[[list[bytes]], object], limit: int) -> int:
        count = 0
        while count < limit:
            try:
                frame = recv(sock, _NOBLOCK, False)
            except zmq.Again:  # a burst ended (or a handler took what the poll saw)
                return count
            frames: list[bytes] = [frame.bytes]
            while frame.more:
                frame = recv(sock, _NOBLOCK, False)
                frames.append(frame.bytes)
            count += 1
            handle(frames)
            if count == 1 and not get(sock, _EVENTS) & _POLLIN:
                return count
        return count

    return drain


def public_drain(
    sock: Socket, handle: Callable[[list[bytes]], object], limit: int
) -> int:
    count = 0
    while count < limit:
        try:
            frames = sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return count
        count += 1
        handle(frames)
        if count == 1 and not sock.getsockopt(zmq.EVENTS) & _POLLIN:  # type: ignore[operator]  # EVENTS is an int
            return count
    return count


def public_send_frames(
    sock: Socket, frames: Sequence[bytes], *, block: bool = False
) -> None:
    sock.send_multipart(frames, 0 if block else zmq.NOBLOCK)


def public_recv_frames(sock: Socket) -> list[bytes]:
    return sock.recv_multipart(zmq.NOBLOCK)


_BASE: Final = compiled_socket_class()
FAST_PATH: Final = _BASE is not None

send_frames: SendFrames
recv_frames: RecvFrames
# send_frames(sock, frames, *, block=False): one message; without `block`, zmq.Again
# when the peer is full. recv_frames(sock): one whole message without blocking;
# zmq.Again when there is none.
# drain(sock, handle, limit): handle(frames) for each message already queued, at most
# `limit` of them, without waiting; returns how many were handled.
drain: Drain
if _BASE is not None:
    send_frames, recv_frames = fast_calls(_BASE)
    drain = fast_drain(_BASE)
else:
    send_frames, recv_frames = public_send_frames, public_recv_frames
    drain = public_drain
