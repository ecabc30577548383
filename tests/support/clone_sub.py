"""A raw Clone subscriber to a running raspyd's publisher, live once a HUGZ came
(§6.3: only then is the subscription in place): for the tests that compare what was
published with what a killed raspyd had stored."""

from __future__ import annotations

import zmq

from raspy.protocol import clone


def subscribed(
    context: zmq.Context[zmq.Socket[bytes]], port_base: int
) -> zmq.Socket[bytes]:
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", port_base)
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoints.publisher)
    for _ in range(100):
        assert sub.poll(5000), "no HUGZ"
        if sub.recv_multipart()[0] == clone.HUGZ:
            return sub
    raise AssertionError("no HUGZ among the first 100 messages")
