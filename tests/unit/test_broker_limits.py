"""BrokerCore's memory budget (issue 18): queues in bytes, caps on services and workers."""

from __future__ import annotations

import pytest
from support.broker_frames import (
    C1,
    C2,
    L1,
    SVC,
    T0,
    V01,
    V02,
    W1,
    W2,
    ready,
    reply,
    request,
)

from raspy import config
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_book import MAX_SERVICE_BYTES
from raspy.cores.broker_output import (
    Rejected,
    RequestDropped,
    Send,
    ServiceAvailability,
    WorkerRegistered,
)
from raspy.cores.broker_settings import BrokerSettings
from raspy.cores.broker_state import FRAME_OVERHEAD_BYTES, REQUEST_OVERHEAD_BYTES
from raspy.errors import ConfigError
from raspy.protocol import mdp

W3 = b"\x00\x80\x00\x00\x13"
# what one request of a 100-byte body from C1 is charged (Pending.size)
SIZE_100 = REQUEST_OVERHEAD_BYTES + len(C1) + 100 + FRAME_OVERHEAD_BYTES


def test_a_request_is_charged_its_bytes_and_the_objects_around_it() -> None:
    """Issue 18: the budgets bound memory, so a tiny request still costs its overhead."""
    core = BrokerCore()
    core.on_frames(C1, request(V01, b"x" * 100), T0)
    assert core.stats()["queued_bytes"] == SIZE_100


def test_a_service_queue_is_bounded_in_bytes() -> None:
    """Issue 18: over queue_bytes_per_service a new request is dropped, counted."""
    core = BrokerCore(BrokerSettings(queue_bytes_per_service=2 * SIZE_100))
    assert core.on_frames(C1, request(V01, b"x" * 100), T0) == []
    assert core.on_frames(C1, request(V01, b"x" * 100), T0) == []
    assert core.on_frames(C2, request(V01, b"x" * 100), T0) == [
        RequestDropped(SVC, C2, "queue_full")
    ]
    stats = core.stats()
    assert (stats["queued"], stats["queued_bytes"]) == (2, 2 * SIZE_100)
    assert stats["dropped.queue_full"] == 1


def test_all_queues_together_are_bounded_in_bytes() -> None:
    """Issue 18: over queue_bytes_total a request to any service is dropped."""
    core = BrokerCore(BrokerSettings(queue_bytes_total=2 * SIZE_100))
    core.on_frames(C1, request(V01, b"x" * 100, service=b"a"), T0)
    core.on_frames(C1, request(V01, b"x" * 100, service=b"b"), T0)
    assert core.on_frames(C2, request(V01, b"x" * 100, service=b"c"), T0) == [
        RequestDropped(b"c", C2, "queue_total_full")
    ]
    assert core.stats()["services"] == 0
    assert core.stats()["dropped.queue_total_full"] == 1
    # the refused service left nothing behind: a worker for it finds no request
    assert core.on_frames(W1, ready(V02, b"c"), T0) == [
        WorkerRegistered(b"c", W1, V02),
        ServiceAvailability(b"c", True),
    ]


def test_dispatched_and_expired_requests_give_their_bytes_back() -> None:
    """Issue 18: a request leaves the budget when it goes to a worker or expires."""
    core = BrokerCore(BrokerSettings(queue_bytes_total=SIZE_100))
    core.on_frames(C1, request(V01, b"x" * 100), T0)
    core.on_frames(W1, ready(V02), T0)
    assert core.stats()["queued_bytes"] == 0
    core.on_frames(C1, request(V01, b"x" * 100, service=b"other"), T0)
    core.on_tick(T0 + 30)
    assert core.stats()["queued_bytes"] == 0
    assert core.on_frames(C2, request(V01, b"x" * 100, service=b"other"), T0 + 30) == []


def test_the_request_count_is_a_backstop_for_tiny_requests() -> None:
    """Issue 18: a generous count per service as well as the bytes."""
    core = BrokerCore(BrokerSettings(max_queue_per_service=1))
    core.on_frames(C1, request(V01, b""), T0)
    assert core.on_frames(C1, request(V01, b""), T0) == [
        RequestDropped(SVC, C1, "queue_full")
    ]


def test_a_request_to_one_service_too_many_is_dropped_and_counted() -> None:
    """Issue 18, docs/protocols.md §2.5.8: MDP has no error reply; the client's own
    timeout tells it, as for an expired request. Known services still queue."""
    core = BrokerCore(BrokerSettings(max_services=2))
    core.on_frames(C1, request(V01, b"1", service=b"a"), T0)
    core.on_frames(W1, ready(V02, b"b"), T0)
    assert core.on_frames(C2, request(V01, b"1", service=b"c"), T0) == [
        RequestDropped(b"c", C2, "too_many_services")
    ]
    assert core.on_frames(C2, request(V01, b"2", service=b"a"), T0) == []
    assert core.stats()["dropped.too_many_services"] == 1
    assert core.stats()["queued"] == 2


def test_a_worker_over_the_worker_cap_gets_disconnect() -> None:
    """Issue 18: a worker over max_workers is rejected (counted) and told DISCONNECT,
    in its own dialect; it is never registered."""
    core = BrokerCore(BrokerSettings(max_workers=1))
    core.on_frames(W1, ready(V02), T0)
    assert core.on_frames(W2, ready(V01), T0) == [
        Rejected(W2, "too_many_workers", "", 4),
        Send(W2, mdp.disconnect_frames(V01)),
    ]
    assert core.stats()["rejected.too_many_workers"] == 1
    assert core.stats()["workers"] == 1


def test_a_worker_for_one_service_too_many_gets_disconnect() -> None:
    """Issue 18: a READY that would create a service over max_services is refused;
    a worker for a known service is not."""
    core = BrokerCore(BrokerSettings(max_services=1))
    core.on_frames(W1, ready(V02, b"a"), T0)
    assert core.on_frames(W2, ready(V02, b"b"), T0) == [
        Rejected(W2, "too_many_services", "", 3),
        Send(W2, mdp.disconnect_frames(V02)),
    ]
    assert core.on_frames(W3, ready(V02, b"a"), T0) == [WorkerRegistered(b"a", W3, V02)]


def test_a_forgotten_worker_frees_its_place() -> None:
    """Issue 18: the cap counts registered workers, not every one ever seen."""
    core = BrokerCore(BrokerSettings(max_workers=1))
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(W1, mdp.encode(mdp.Disconnect(V02)), T0)
    assert core.on_frames(W2, ready(V02), T0) == [
        WorkerRegistered(SVC, W2, V02),
        ServiceAvailability(SVC, True),
    ]


def test_in_process_workers_are_never_refused() -> None:
    """Issue 18: raspyd's own services come up whatever outside workers did."""
    core = BrokerCore(BrokerSettings(max_workers=1, max_services=1))
    core.on_frames(W1, ready(V02, b"outside"), T0)
    assert core.on_frames(L1, ready(V02), T0) == [
        WorkerRegistered(SVC, L1, V02),
        ServiceAvailability(SVC, True),
    ]
    assert core.stats()["workers"] == 2


def test_a_queue_that_a_worker_keeps_draining_does_not_expire() -> None:
    """Issue 18, docs/protocols.md §2.5.8: a pipelined burst longer than the TTL to
    serve is served whole; the TTL counts from the queue's last dispatch too."""
    core = BrokerCore(BrokerSettings(request_ttl_s=30.0))
    core.on_frames(W1, ready(V02), T0)
    for index in range(4):
        core.on_frames(C1, request(V01, b"%d" % index), T0)
    now = T0
    for index in range(4):
        now += 20.0  # each reply takes 20 s: the last request waits 60 s in all
        dropped = [o for o in core.on_tick(now) if isinstance(o, RequestDropped)]
        assert dropped == []
        outputs = core.on_frames(W1, reply(V02, C1, b"%d" % index), now)
        assert [type(out) for out in outputs] == [Send] * (2 if index < 3 else 1)
    assert core.stats()["replies"] == 4


def test_a_queue_behind_a_stuck_worker_still_expires() -> None:
    """docs/protocols.md §2.5.8: no dispatch for request_ttl_s drops what waits."""
    core = BrokerCore(BrokerSettings(request_ttl_s=30.0))
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V01, b"running"), T0)
    core.on_frames(C2, request(V01, b"waiting"), T0 + 1)
    dropped = [o for o in core.on_tick(T0 + 31) if isinstance(o, RequestDropped)]
    assert dropped == [RequestDropped(SVC, C2, "expired")]


def test_a_config_whose_broker_caps_let_nothing_in_is_refused() -> None:
    """docs/style.md §4: one ConfigError naming each key (0 would refuse everything)."""
    text = "[limits]\nmax_workers = 0\nbroker_queue_bytes_total = 0\n"
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspyd.toml")
    assert caught.value.problems == [
        "raspyd.toml: limits.broker_queue_bytes_total: expected 1..17179869184, got 0",
        "raspyd.toml: limits.max_workers: expected 1..1000000, got 0",
    ]


def test_a_service_name_over_255_bytes_is_rejected() -> None:
    """Issue 18: names are held as long as their service; a request with a longer one
    is dropped unanswered, a READY with one is told DISCONNECT; both counted."""
    core = BrokerCore()
    long_name = b"s" * (MAX_SERVICE_BYTES + 1)
    assert core.on_frames(C1, request(V01, b"x", service=long_name), T0) == [
        Rejected(C1, "service_too_long", "", 4)
    ]
    assert core.on_frames(W1, ready(V02, long_name), T0) == [
        Rejected(W1, "service_too_long", "", 3),
        Send(W1, mdp.disconnect_frames(V02)),
    ]
    assert core.stats()["rejected.service_too_long"] == 2
    assert core.stats()["services"] == 0
    name = b"s" * MAX_SERVICE_BYTES
    assert core.on_frames(C1, request(V01, b"x", service=name), T0) == []
