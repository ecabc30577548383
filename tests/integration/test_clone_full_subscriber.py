"""A Clone subscriber whose queue is full (issue 18), against a real server: the
updates held back for it go out to the others by themselves, with no other traffic
to turn the server's loop, and the full one is cut off and counted once."""

from __future__ import annotations

import zmq
from support.clock import FakeClock
from support.clonesrv import clone_server, next_update, subscriber

from raspy.config import CloneConfig
from raspy.protocol import clone
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]
# over inproc a subscriber's queue is the server's SNDHWM plus its own RCVHWM: no
# kernel buffers between them, so a subscriber that never reads fills it exactly
INPROC = clone.Endpoints(
    "inproc://full-sub-snapshot", "inproc://full-sub-pub", "inproc://full-sub-collector"
)
QUIET = CloneConfig(hugz_interval_s=3600.0)  # after the first, no HUGZ turns the loop
UPDATES = 300  # more than the default queue of 119 updates


def _never_reading(context: Context, endpoint: str) -> zmq.Socket[bytes]:
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 1)
    sub.setsockopt(zmq.SUBSCRIBE, b"/full/")
    sub.setsockopt(zmq.SUBSCRIBE, clone.HUGZ)
    sub.connect(endpoint)
    assert sub.poll(5000), "no HUGZ for the new subscription"
    sub.recv_multipart()  # from now on it reads nothing
    return sub


def test_updates_held_for_a_full_subscriber_go_out_by_themselves(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    with clone_server(
        zmq_context, store, clock, config=QUIET, endpoints=INPROC
    ) as server:
        reader = subscriber(zmq_context, server.endpoints.publisher, b"/full/")
        idle = _never_reading(zmq_context, server.endpoints.publisher)
        try:
            for index in range(UPDATES):
                server.publisher.set(b"/full/%03d" % index, b"v%d" % index)
            keys = [next_update(reader, timeout_ms=10_000)[0] for _ in range(UPDATES)]
        finally:
            reader.close()
            idle.close()
        assert keys == [b"/full/%03d" % index for index in range(UPDATES)]
        assert server.counter("clone.subscribers.cut_off") == 1
