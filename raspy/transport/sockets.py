"""Socket factory for client/ and actors/: every socket gets a bounded LINGER.

Contexts are made by the caller and passed in; never zmq.Context.instance() here.
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Sequence
from typing import Final

import zmq
from zmq.utils import z85

from raspy.library_log import library_logger
from raspy.records import frozen

Context = zmq.Context[zmq.Socket[bytes]]
Socket = zmq.Socket[bytes]

DEFAULT_LINGER_MS: Final = 500
# the most between two attempts to connect to a peer that is away: ZeroMQ tries every
# RECONNECT_IVL (100 ms) for ever unless told a maximum, and with one doubles the wait
# up to it. A board's long-lived sockets use it: a hub off for hours then costs one
# attempt per socket every 2 s, not ten a second, and one back is found within 2 s
RECONNECT_MAX_MS: Final = 2000
# the least LINGER a ROUTER closes with. libzmq 4.3.5 aborts the process (EAGAIN,
# session_base_t::clean_pipes) when a peer's connection ends just after its session
# let go of the pipe with a message half written to the peer: a slow peer's, with
# LINGER 0 at once when the socket closes, so peers that leave as raspyd stops (a
# burst) hit it. With a LINGER the pipe stays readable until the timer, and a leave
# before then is cleaned up; only one at that very instant is still exposed. 100 and
# 500 ms were too short on a loaded machine: peers still leaving then, with many small
# frames half sent (tests/integration/test_router_close_leaves.py). It costs a stop
# only with a deaf peer's snapshot still queued
ROUTER_MIN_LINGER_MS: Final = 1000
_CURVE_KEY_BYTES: Final = 40  # Z85 text form of a 32-byte key (docs/protocols.md §8.1)


@frozen
class CurveKeys:
    """CURVE keys of one socket, Z85 text as bytes (docs/protocols.md §8.2).

    With `server_key` set the socket is a CURVE client of that server; without it,
    the socket is a CURVE server.
    """

    public_key: bytes
    secret_key: bytes
    server_key: bytes | None = None

    def __post_init__(self) -> None:
        keys = {"public_key": self.public_key, "secret_key": self.secret_key}
        if self.server_key is not None:
            keys["server_key"] = self.server_key
        for name, key in keys.items():
            if len(key) != _CURVE_KEY_BYTES:
                raise ValueError(
                    f"{name}: expected {_CURVE_KEY_BYTES} Z85 bytes, got {len(key)}"
                )
            if not _is_z85(key):  # else libzmq's EINVAL at the socket, naming nothing
                raise ValueError(f"{name}: not a Z85 key (ZeroMQ's key text)")


def _is_z85(key: bytes) -> bool:
    """Does `key` decode as Z85: its alphabet, and no group past 2**32?"""
    try:
        z85.decode(key)
    except (KeyError, ValueError, struct.error):
        return False
    return True


def make_socket(
    context: Context,
    socket_type: int,
    *,
    linger_ms: int = DEFAULT_LINGER_MS,
    curve: CurveKeys | None = None,
    reconnect_max_ms: int | None = None,
) -> Socket:
    """A new socket of `socket_type` with LINGER set, CURVE keys and the most
    between reconnect attempts (RECONNECT_IVL_MAX; None: ZeroMQ's none) if given.

    Set options before connect() or bind(): CURVE applies only to later connections.
    """
    sock: Socket = context.socket(socket_type)
    try:
        sock.setsockopt(zmq.LINGER, linger_ms)
        if reconnect_max_ms is not None:
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, reconnect_max_ms)
        if curve is not None:
            sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.public_key)
            sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret_key)
            if curve.server_key is None:
                sock.setsockopt(zmq.CURVE_SERVER, 1)
            else:
                sock.setsockopt(zmq.CURVE_SERVERKEY, curve.server_key)
    except BaseException:  # an option's value past its C type too: OverflowError
        sock.close(linger=0)
        raise
    return sock


def router_linger_ms(linger_ms: int) -> int:
    """The LINGER a ROUTER is made and closed with: at least ROUTER_MIN_LINGER_MS
    (why there); a negative (infinite) one is kept."""
    return linger_ms if linger_ms < 0 else max(linger_ms, ROUTER_MIN_LINGER_MS)


def connect_socket(
    context: Context,
    socket_type: int,
    endpoint: str,
    *,
    linger_ms: int = DEFAULT_LINGER_MS,
    curve: CurveKeys | None = None,
    reconnect_max_ms: int | None = None,
) -> Socket:
    """make_socket() then connect(endpoint). A bad endpoint closes the socket (left
    open, it would hold the context's term() for ever) and raises ZMQError, or
    ValueError for text that is not UTF-8."""
    sock = make_socket(
        context,
        socket_type,
        linger_ms=linger_ms,
        curve=curve,
        reconnect_max_ms=reconnect_max_ms,
    )
    try:
        sock.connect(endpoint)
    except UnicodeEncodeError as exc:
        sock.close(linger=0)
        raise ValueError(f"endpoint {endpoint!a} is not UTF-8 text") from exc
    except BaseException:
        sock.close(linger=0)
        raise
    return sock


# what libzmq connects to over TCP: tcp://HOST:PORT, HOST a name, an IPv4 address or
# an [IPv6] one (a source address before `;` allowed); other transports by scheme
_TCP_ENDPOINT: Final = re.compile(
    r"tcp://(?:[^;/]+;)?"
    r"(?:\[[0-9A-Fa-f:.%]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)"
    r":[0-9]{1,5}"
)
_OTHER_TRANSPORTS: Final = ("ipc://", "inproc://")
# how long a client's close() waits for its own context to end (it takes
# milliseconds unless a socket was left open)
_END_CONTEXT_S: Final = 1.0


def check_endpoint(endpoint: str) -> None:
    """ValueError, naming `endpoint`, unless it reads as an address to connect to
    (`tcp://HOST:PORT`, or ipc:// and inproc://): a caller's mistake (`HOST:PORT`, no
    port) is said at once in its own thread, not as a ZMQError from a socket's first
    use, perhaps on an I/O thread. Only the text is read: nothing is resolved or
    reached (a socket tried and closed could still knock at a CURVE hub)."""
    if endpoint.startswith(_OTHER_TRANSPORTS) and endpoint.partition("://")[2]:
        return
    match = _TCP_ENDPOINT.fullmatch(endpoint)
    if match is None or not 0 < int(endpoint.rpartition(":")[2]) < 65536:
        raise ValueError(f"endpoint {endpoint!a}: expected e.g. tcp://HOST:PORT")


def end_own_context(
    context: zmq.Context[zmq.Socket[bytes]], timeout_s: float = _END_CONTEXT_S
) -> None:
    """term() a context a client made for itself, waiting at most `timeout_s`. A
    Ctrl-C that lands while pyzmq makes a socket leaves a socket whose Python object
    never came back, which no one can close: term() would wait for it for ever, and
    the script would hang at its exit. It is left to its daemon thread then."""
    if term_within(context, timeout_s) is not None:
        library_logger(component="zmq").warning(
            "zmq_context_left_open", timeout_s=timeout_s
        )


def term_within(
    context: zmq.Context[zmq.Socket[bytes]], timeout_s: float
) -> threading.Thread | None:
    """Terminate `context` on a thread of its own, waiting at most `timeout_s`: None
    once it is done, else the thread still inside term(). A socket some owner never
    closed keeps term() waiting for ever, and the context must then be left alone
    (closing sockets under a running term() aborts libzmq)."""
    terminating = threading.Thread(target=context.term, name="ctx-term", daemon=True)
    terminating.start()
    terminating.join(timeout_s)
    return terminating if terminating.is_alive() else None


def send_if_connected(sock: Socket, frames: Sequence[bytes]) -> bool:
    """Send `frames` without blocking; False if `sock` had no connection to queue
    them on. libzmq drops a connection whose handshake was refused (a CURVE key the
    server does not know) and makes no other: a send after that (a thread slowed by
    load comes to it late) would block for ever, and its thread with it. An unsent
    request meets its caller's timeout, as an unanswered one does."""
    try:
        sock.send_multipart(frames, zmq.NOBLOCK)
    except zmq.Again:
        return False
    return True


def monitor_event(monitor: Socket, flags: int = 0) -> tuple[int, int]:
    """One event of a socket's monitor (zmq_socket_monitor): (event, value).

    Read here, not by zmq.utils.monitor, which imports zmq.asyncio and so asyncio:
    a tenth of a client tool's start-up CPU. zmq.Again with NOBLOCK and nothing to
    read; RuntimeError for a message that is not a monitor event (as pyzmq's)."""
    frames = monitor.recv_multipart(flags)
    if len(frames) != 2 or len(frames[0]) != 6:
        raise RuntimeError(f"not a monitor event: {len(frames)} frame(s)")
    event, value = struct.unpack("=Hi", frames[0])  # 16-bit event, 32-bit value
    return int(event), int(value)
