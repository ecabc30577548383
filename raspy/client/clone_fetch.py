"""A one-shot Clone snapshot (RFC 12/CHP, docs/protocols.md §6.3): `fetch_snapshot`
asks, reads until KTHXBAI, and asks again on a new DEALER when the server cut its
answer off. Beside it, the checks CloneClient makes too of what its caller gives:
the server's endpoints and the subtree. It never subscribes, so what it returns may
be stale at once, and it never waits longer than its timeout without a word.
"""

from __future__ import annotations

import math
import time
from typing import Final

import zmq

from raspy.errors import ClientTimeout, MalformedMessage, shown
from raspy.library_log import library_logger
from raspy.protocol import clone
from raspy.records import frozen
from raspy.transport.sockets import (
    Context,
    CurveKeys,
    Socket,
    check_endpoint,
    end_own_context,
    make_socket,
    send_if_connected,
)

log = library_logger(component="clone_client")

# fetch_snapshot's asks: the first, and one more on a new DEALER when the first
# answer went silent (a server cuts off a snapshot and says nothing more, §6.3)
SNAPSHOT_ASKS: Final = 2


def check_subtree(subtree: bytes) -> None:
    """A caller's bad subtree is a ValueError (docs/style.md §4), not a protocol error."""
    try:
        clone.check_subtree(subtree)
    except MalformedMessage as exc:
        raise ValueError(f"subtree {shown(subtree)}: {exc.detail}") from exc


def server_endpoints(server: str | clone.Endpoints) -> clone.Endpoints:
    """`tcp://HOST:N` / `HOST:N` (port base) or explicit endpoints; ValueError for
    one ZeroMQ cannot connect to (`*:N`, a host with a space), in the caller's
    thread rather than as the agent thread's failure."""
    endpoints = (
        server if isinstance(server, clone.Endpoints) else clone.Endpoints.parse(server)
    )
    for endpoint in (endpoints.snapshot, endpoints.publisher, endpoints.collector):
        check_endpoint(endpoint)
    return endpoints


@frozen
class Snapshot:
    """A subtree at one point: `seq` is the server's sequence it reflects (§6.3)."""

    seq: int
    items: dict[bytes, bytes]


def fetch_snapshot(
    server: str | clone.Endpoints,
    subtree: bytes = b"",
    *,
    timeout_s: float = 5.0,
    context: Context | None = None,
    curve: CurveKeys | None = None,
) -> Snapshot:
    """ICANHAZ? and read until KTHXBAI. No subscription: the result may be stale at
    once. A server cuts off a snapshot whose peer stalls or takes too long, and
    says nothing more on it (docs/protocols.md §6.3): an answer silent for
    `timeout_s` / SNAPSHOT_ASKS is given up and asked again on a new DEALER (a new
    identity: the first answer's late messages are never read as the next one's),
    at most SNAPSHOT_ASKS times in all; ClientTimeout once the last is silent as
    long, so `timeout_s` is still the most it waits without a word."""
    check_subtree(subtree)
    if not timeout_s < math.inf:  # NaN too: no deadline compares with it
        raise ValueError(f"timeout_s must be a finite number, got {timeout_s!r}")
    endpoints = server_endpoints(server)
    silent_s = timeout_s / SNAPSHOT_ASKS
    ctx: Context = zmq.Context() if context is None else context
    try:
        for ask in range(1, SNAPSHOT_ASKS + 1):
            answer = _ask_snapshot(ctx, endpoints, subtree, silent_s, curve)
            if isinstance(answer, Snapshot):
                return answer
            if ask < SNAPSHOT_ASKS:
                # a snapshot cut off is worth a line; a server that said nothing
                # yet is said by the ClientTimeout, if it still says nothing
                say = log.warning if answer else log.debug
                say(
                    "clone_snapshot_asked_again",
                    peer=endpoints.snapshot,
                    reason="snapshot_stalled" if answer else "no_answer",
                    count=answer,
                    silent_s=silent_s,
                )
        raise ClientTimeout(f"no snapshot from {endpoints.snapshot} in {timeout_s:g} s")
    finally:
        if context is None:
            end_own_context(ctx)


def _ask_snapshot(
    ctx: Context,
    endpoints: clone.Endpoints,
    subtree: bytes,
    silent_s: float,
    curve: CurveKeys | None,
) -> Snapshot | int:
    """One ICANHAZ? on a new DEALER, read until KTHXBAI; or, when the answer stays
    silent for `silent_s`, how many messages it had sent (0: none)."""
    dealer = make_socket(ctx, zmq.DEALER, linger_ms=0, curve=curve)
    try:
        dealer.connect(endpoints.snapshot)
        # unsent: it meets `silent_s` and is asked again
        send_if_connected(dealer, clone.encode_icanhaz(subtree))
        items: dict[bytes, bytes] = {}
        received = 0
        while True:
            if not _poll_in_slices(dealer, silent_s):
                return received
            received += 1
            try:
                msg = clone.decode_kvmsg(dealer.recv_multipart())
            except MalformedMessage as exc:
                log.warning(
                    "clone_message_rejected", peer="snapshot", reason=exc.reason
                )
                continue
            if msg.key == clone.KTHXBAI:
                return Snapshot(msg.seq, items)
            if msg.body:
                items[msg.key] = msg.body
            else:
                items.pop(msg.key, None)
    finally:
        dealer.close(linger=0)


def _poll_in_slices(sock: Socket, timeout_s: float) -> bool:
    """Poll for input until `timeout_s`, half a second at a time, so a Ctrl-C that
    lands just before a poll starts (Python only sets a flag) is seen soon."""
    deadline = time.monotonic() + timeout_s
    while True:
        wait_ms = math.ceil((deadline - time.monotonic()) * 1000)
        if wait_ms <= 0:
            return False
        if sock.poll(min(wait_ms, 500)):
            return True
