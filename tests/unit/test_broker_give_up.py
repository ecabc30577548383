"""BrokerCore and an in-process client's patience: a request still queued when its
sender stopped waiting is dropped (`abandoned`), never dispatched later.

A household's case: the web face, a scenario or the MQTT bridge switches a pump on a
board that is frozen or rebooting; the sender reports "no answer" after its timeout.
The command must not run when the board comes back seconds later.
"""

from __future__ import annotations

from collections.abc import Sequence

from support.broker_frames import (
    C1,
    L1,
    SVC,
    T0,
    V02,
    W1,
    W2,
    disconnect,
    ready,
    request,
    sends,
)

from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import RequestDropped, Send
from raspy.cores.broker_settings import BrokerSettings
from raspy.protocol import mdp

PATIENCE_S = 5.0
CLIENT = L1 + b"/r1"


def _dropped(outputs: Sequence[object]) -> list[RequestDropped]:
    return [out for out in outputs if isinstance(out, RequestDropped)]


def _worker_request(client: bytes, *body: bytes) -> Send:
    return Send(W1, mdp.worker_request_frames(V02, client, body))


def test_a_request_queued_past_its_give_up_is_not_sent_to_a_worker_that_comes() -> None:
    core = BrokerCore(BrokerSettings(request_ttl_s=30.0))
    core.on_frames(CLIENT, request(V02, b"on"), T0, T0 + PATIENCE_S)
    # the board registers 6 s later, well within the TTL but after its sender gave up
    outputs = core.on_frames(W1, ready(V02), T0 + 6)
    assert _dropped(outputs) == [RequestDropped(SVC, CLIENT, "abandoned")]
    assert [out.peer for out in sends(outputs)] == []
    assert core.stats()["dropped.abandoned"] == 1
    assert core.stats()["queued"] == 0


def test_a_worker_that_comes_in_time_gets_the_request() -> None:
    core = BrokerCore(BrokerSettings(request_ttl_s=30.0))
    core.on_frames(CLIENT, request(V02, b"on"), T0, T0 + PATIENCE_S)
    outputs = core.on_frames(W1, ready(V02), T0 + 4)
    assert sends(outputs) == [_worker_request(CLIENT, b"on")]
    assert _dropped(outputs) == []


def test_the_tick_drops_it_at_its_give_up_before_the_ttl() -> None:
    core = BrokerCore(BrokerSettings(request_ttl_s=30.0))
    core.on_frames(CLIENT, request(V02, b"on"), T0, T0 + PATIENCE_S)
    assert core.next_deadline() == T0 + PATIENCE_S
    assert _dropped(core.on_tick(T0 + PATIENCE_S - 0.1)) == []
    assert _dropped(core.on_tick(T0 + PATIENCE_S)) == [
        RequestDropped(SVC, CLIENT, "abandoned")
    ]


def test_a_request_read_after_its_give_up_is_dropped_even_with_an_idle_worker() -> None:
    core = BrokerCore()
    core.on_frames(W1, ready(V02), T0)
    outputs = core.on_frames(CLIENT, request(V02, b"on"), T0 + 2, T0 + 1)
    assert outputs == [RequestDropped(SVC, CLIENT, "abandoned")]
    # the worker is still idle: the next request goes straight to it
    later = L1 + b"/r2"
    assert sends(core.on_frames(later, request(V02, b"off"), T0 + 2, T0 + 7)) == [
        _worker_request(later, b"off")
    ]


def test_a_request_whose_worker_went_away_is_not_sent_again_past_its_give_up() -> None:
    core = BrokerCore(BrokerSettings(request_ttl_s=30.0))
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(CLIENT, request(V02, b"toggle"), T0, T0 + PATIENCE_S)
    core.on_frames(W1, disconnect(V02), T0 + 1)  # re-queued
    outputs = core.on_frames(W2, ready(V02), T0 + 8)
    assert sends(outputs) == []
    assert _dropped(outputs) == [RequestDropped(SVC, CLIENT, "abandoned")]


def test_a_network_clients_request_keeps_the_ttl() -> None:
    """A network client's patience is not on the wire: only the TTL applies."""
    core = BrokerCore(BrokerSettings(request_ttl_s=30.0))
    core.on_router_frames(C1, request(V02, b"on"), T0)
    outputs = core.on_frames(W1, ready(V02), T0 + 29)
    assert sends(outputs) == [_worker_request(C1, b"on")]
    core2 = BrokerCore(BrokerSettings(request_ttl_s=30.0))
    core2.on_router_frames(C1, request(V02, b"on"), T0)
    assert _dropped(core2.on_tick(T0 + 30)) == [RequestDropped(SVC, C1, "expired")]
