"""XpubSender (actors/clone/xpub.py): the Clone publisher's XPUB on real inproc
sockets; a subscriber whose queue is full misses messages, the others do not."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import zmq
from structlog.testing import capture_logs
from support.wait import wait_until

from raspy.actors.clone.xpub import XpubSender
from raspy.cores.clone_pacing import ClonePacing
from raspy.stats import Stats

Context = zmq.Context[zmq.Socket[bytes]]
ENDPOINT = "inproc://clone-xpub-test"
BUDGET = 1024  # bytes: the SNDHWM floor (MIN_HWM) for small messages


@pytest.fixture
def xpub(zmq_context: Context) -> Iterator[zmq.Socket[bytes]]:
    sock = zmq_context.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 1000)
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


def test_a_subscription_sets_the_budget_hwm_and_brings_a_hugz_forward(
    zmq_context: Context, xpub: zmq.Socket[bytes]
) -> None:
    pacing = ClonePacing(3600.0, BUDGET, now=time.monotonic())
    assert pacing.on_turn(time.monotonic()).hugz  # the first; the next in an hour
    sender = XpubSender(xpub, pacing, Stats(), BUDGET)
    sub = _sub(zmq_context, sender, 1)
    try:
        assert xpub.getsockopt(zmq.SNDHWM) == pacing.queue_limit.hwm != 1000
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
    pacing = ClonePacing(3600.0, BUDGET, now=time.monotonic())
    sender = XpubSender(xpub, pacing, stats, BUDGET)
    reader, idle = _sub(zmq_context, sender, 0), _sub(zmq_context, sender, 1)
    sent = [[b"/k", b"%d" % i] for i in range(200)]
    try:
        received = []
        with capture_logs() as logs:
            for frames in sent:
                sender.send(frames)
                wait_until(lambda: reader.poll(0), what="the reader's message")
                received.append(reader.recv_multipart())
        missed = stats.get("clone.subscribers.cut_off")
        idle_got = []
        while idle.poll(0):
            idle_got.append(idle.recv_multipart())
    finally:
        reader.close()
        idle.close()
    assert received == sent
    # counted when it reached its limit; libzmq then skips it until it reads again
    assert missed == 1
    assert 0 < len(idle_got) < len(sent)
    assert idle_got == sent[: len(idle_got)]  # it kept what fit, in order
    cut = [e for e in logs if e["event"] == "clone_subscriber_cut_off"]
    assert [(e["limit_bytes"], e["hwm"]) for e in cut] == [
        (BUDGET, pacing.queue_limit.hwm)
    ]  # logged once, however many it missed
