"""XpubSender (actors/clone/xpub.py): the Clone publisher's XPUB on real sockets. A
subscriber whose queue stays full is cut off and misses messages, the others do not;
one that keeps up is never cut off, however fast a burst goes out."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import zmq
from structlog.testing import capture_logs
from support.wait import wait_until

from raspy.actors.clone.xpub import XpubSender
from raspy.cores.clone_pacing import (
    FULL_SUBSCRIBER_WAIT_S,
    MAX_SUBSCRIBER_LAG_S,
    MIN_HWM,
    ClonePacing,
    publisher_hwm,
)
from raspy.stats import Stats

Context = zmq.Context[zmq.Socket[bytes]]
ENDPOINT = "inproc://clone-xpub-test"
BUDGET = 1024  # bytes: the SNDHWM floor (MIN_HWM) for small messages
HWM = publisher_hwm(BUDGET, 64)


@pytest.fixture
def xpub(zmq_context: Context) -> Iterator[zmq.Socket[bytes]]:
    sock = zmq_context.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HWM)  # as the Clone loop binds it
    sock.setsockopt(zmq.XPUB_VERBOSER, 1)
    sock.setsockopt(zmq.XPUB_NODROP, 1)
    sock.bind(ENDPOINT)
    yield sock
    sock.close()


def _sub(context: Context, sender: XpubSender, rcvhwm: int) -> zmq.Socket[bytes]:
    """A SUB to everything, once the sender has read its subscription. Over inproc
    its queue holds SNDHWM + `rcvhwm` messages, no limit with `rcvhwm` 0."""
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, rcvhwm)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(ENDPOINT)
    wait_until(lambda: sender.socket.poll(0), what="the subscription notice")
    sender.on_notices(zmq.POLLIN)
    return sub


def _queued(sub: zmq.Socket[bytes]) -> list[list[bytes]]:
    """Every message waiting on `sub` now, in order."""
    messages = []
    while sub.poll(0):
        messages.append(sub.recv_multipart())
    return messages


def _flush(sender: XpubSender, at: float | None = None) -> None:
    """Turn as the Clone loop does until nothing waits (a full subscriber is cut
    off within FULL_SUBSCRIBER_WAIT_S); `at`: the time each turn is given, fixed
    (the loop's clock, passed in), else now."""

    def flushed() -> bool:
        sender.flush(time.monotonic() if at is None else at)
        return not sender.waiting

    wait_until(flushed, what="the waiting messages sent")


def test_a_subscription_brings_a_hugz_forward_and_leaves_the_hwm_as_bound(
    zmq_context: Context, xpub: zmq.Socket[bytes]
) -> None:
    """The SNDHWM is never set on the live socket (libzmq 4.3 crashes if a pipe is
    half closed then): a subscription changes nothing but the next HUGZ."""
    pacing = ClonePacing(3600.0, BUDGET)
    assert pacing.on_turn(time.monotonic()).hugz  # the first; the next in an hour
    sender = XpubSender(xpub, pacing, Stats(), HWM)
    sub = _sub(zmq_context, sender, 1)
    try:
        assert xpub.getsockopt(zmq.SNDHWM) == HWM == MIN_HWM
        wait_until(  # at most one early HUGZ per MIN_HUGZ_GAP_S
            lambda: pacing.on_turn(time.monotonic()).hugz,
            what="a HUGZ brought forward by the subscription",
            timeout_s=1.0,
        )
    finally:
        sub.close()


def test_a_full_subscriber_misses_messages_and_the_others_get_every_one(
    zmq_context: Context, xpub: zmq.Socket[bytes]
) -> None:
    stats = Stats()
    pacing = ClonePacing(3600.0, BUDGET)
    sender = XpubSender(xpub, pacing, stats, HWM)
    reader, idle = _sub(zmq_context, sender, 0), _sub(zmq_context, sender, 1)
    sent = [[b"/k", b"%d" % i] for i in range(200)]
    try:
        received = []
        with capture_logs() as logs:
            for frames in sent:
                sender.send(frames)
                _flush(sender)
                wait_until(lambda: reader.poll(0), what="the reader's message")
                received.append(reader.recv_multipart())
        missed = stats.get("clone.subscribers.cut_off")
        idle_got = _queued(idle)
    finally:
        reader.close()
        idle.close()
    assert received == sent
    # counted when it reached its limit; libzmq then skips it until it reads again
    assert missed == 1
    assert 0 < len(idle_got) <= HWM + 1  # over inproc: SNDHWM + its RCVHWM
    assert idle_got == sent[: len(idle_got)]  # it kept what fit, in order
    cut = [e for e in logs if e["event"] == "clone_subscriber_cut_off"]
    assert [(e["limit_bytes"], e["hwm"]) for e in cut] == [
        (BUDGET, HWM)
    ]  # logged once, however many it missed


def test_a_burst_to_a_subscriber_that_keeps_up_cuts_nobody_off(
    zmq_context: Context,
) -> None:
    """A burst of thousands through a queue of MIN_HWM over TCP: the socket hears of
    the subscriber's reads late, so its queue looks full now and then; the sender
    waits instead of cutting it off, and every message arrives, in order."""
    pub = zmq_context.socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, HWM)
    pub.setsockopt(zmq.XPUB_VERBOSER, 1)
    pub.setsockopt(zmq.XPUB_NODROP, 1)
    pub.bind("tcp://127.0.0.1:*")
    stats, budget = Stats(), 8 * 1024 * 1024  # what waits is far under a queue's worth
    sender = XpubSender(pub, ClonePacing(3600.0, budget), stats, HWM)
    sub = zmq_context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(pub.getsockopt_string(zmq.LAST_ENDPOINT))
    sent = [[b"/k", b"%d" % i] for i in range(3000)]
    try:
        wait_until(lambda: pub.poll(0), what="the subscription notice")
        sender.on_notices(zmq.POLLIN)
        received: list[list[bytes]] = []
        # the turns' clock stands still: the test is of order and room, not of the
        # timed cut-offs, which a reader descheduled on a loaded machine could reach
        turn_at = time.monotonic()
        for frames in sent:
            sender.send(frames)
            sender.flush(turn_at)
            received += _queued(sub)  # a reader that keeps up, between two turns
        _flush(sender, at=turn_at)

        def all_received() -> bool:
            received.extend(_queued(sub))
            return len(received) >= len(sent)

        wait_until(all_received, what="every message of the burst")
    finally:
        sub.close()
        pub.close()
    assert stats.get("clone.subscribers.cut_off") == 0
    assert received == sent


def test_every_subscriber_that_fills_is_cut_off_and_counted(
    zmq_context: Context, xpub: zmq.Socket[bytes]
) -> None:
    """After a cut-off the sender is back on XPUB_NODROP: the next subscriber that
    fills is noticed (and counted) too, not dropped from silently."""
    stats = Stats()
    sender = XpubSender(xpub, ClonePacing(3600.0, BUDGET), stats, HWM)
    reader, first = _sub(zmq_context, sender, 0), _sub(zmq_context, sender, 1)
    second = None
    try:
        for index in range(100):
            sender.send([b"/k", b"%d" % index])
            _flush(sender)
        assert stats.get("clone.subscribers.cut_off") == 1
        second = _sub(zmq_context, sender, 1)
        for index in range(100, 200):
            sender.send([b"/k", b"%d" % index])
            _flush(sender)
        assert stats.get("clone.subscribers.cut_off") == 2
    finally:
        for sub in (reader, first, second):
            if sub is not None:
                sub.close()


def _waits(sender: XpubSender) -> bool:
    """sender.waiting, read afresh (mypy keeps a narrowed property across calls)."""
    return sender.waiting


def test_a_reader_slower_than_the_publisher_is_cut_off_once_it_lags_too_far(
    zmq_context: Context, xpub: zmq.Socket[bytes]
) -> None:
    """A reader that takes a little now and then is waited for, but only until what
    waits for it is MAX_SUBSCRIBER_LAG_S old: it never holds the others up longer."""
    stats, budget = Stats(), 8 * 1024 * 1024  # the time binds, not the bytes
    sender = XpubSender(xpub, ClonePacing(3600.0, budget), stats, HWM)
    reader, slow = _sub(zmq_context, sender, 0), _sub(zmq_context, sender, 1)
    started = time.monotonic()
    try:
        for index in range(200):
            sender.send([b"/k", b"%d" % index])
        assert _waits(sender)  # `slow` is full
        _queued(slow)  # it reads what it has, and room comes back
        sender.flush(started + MAX_SUBSCRIBER_LAG_S - FULL_SUBSCRIBER_WAIT_S / 2)
        assert _waits(sender)  # some went out, it is full again: no cut-off yet
        assert stats.get("clone.subscribers.cut_off") == 0
        _queued(slow)
        sender.flush(started + MAX_SUBSCRIBER_LAG_S + 0.9)  # progress made, too late
        # it read on, but the oldest waiting message (the burst took milliseconds)
        # is older than the lag allows
        assert not _waits(sender)
        assert stats.get("clone.subscribers.cut_off") == 1
        received = _queued(reader)
    finally:
        reader.close()
        slow.close()
    assert received == [[b"/k", b"%d" % index] for index in range(200)]


def test_at_stop_what_waits_goes_out_at_once_and_the_full_one_is_cut_off(
    zmq_context: Context, xpub: zmq.Socket[bytes]
) -> None:
    """The Clone loop's close flushes with stopping=True: no wait is left to run."""
    stats, budget = Stats(), 8 * 1024 * 1024
    sender = XpubSender(xpub, ClonePacing(3600.0, budget), stats, HWM)
    reader, idle = _sub(zmq_context, sender, 0), _sub(zmq_context, sender, 1)
    sent = [[b"/k", b"%d" % index] for index in range(100)]
    try:
        for frames in sent:
            sender.send(frames)
        assert _waits(sender)
        sender.flush(time.monotonic(), stopping=True)
        assert not _waits(sender)
        received = _queued(reader)
    finally:
        reader.close()
        idle.close()
    assert received == sent
    assert stats.get("clone.subscribers.cut_off") == 1
