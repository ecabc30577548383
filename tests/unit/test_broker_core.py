"""BrokerCore dialogs and heartbeats with time passed in (docs/protocols.md §2.5-§2.7, §3.3-§3.6)."""

from __future__ import annotations

from support.broker_frames import (
    C1,
    C2,
    L1,
    SVC,
    T0,
    V01,
    V02,
    VMJ,
    W1,
    W2,
    core_fixture,  # noqa: F401  # fixture `core`
    heartbeat,
    ready,
    reply,
    request,
    sends,
)

from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import (
    RequestDropped,
    Send,
    ServiceAvailability,
    WorkerRegistered,
    WorkerRemoved,
)
from raspy.cores.broker_settings import BrokerSettings

# ---------------------------------------------------------------- dialogs


def test_v01_client_and_v01_worker_follow_the_classic_dialog(core: BrokerCore) -> None:
    """docs/protocols.md §2.5 steps 1-4: READY, REQUEST dispatched, REPLY forwarded."""
    assert core.on_frames(W1, ready(V01), T0) == [
        WorkerRegistered(SVC, W1, V01),
        ServiceAvailability(SVC, True),
    ]
    assert core.on_frames(C1, request(V01, b"hello"), T0 + 1) == [
        Send(W1, [b"", b"MDPW01", b"\x02", C1, b"", b"hello"])
    ]
    assert core.on_frames(W1, reply(V01, C1, b"hello"), T0 + 2) == [
        Send(C1, [b"", b"MDPC01", SVC, b"hello"])
    ]


def test_v02_partials_are_forwarded_at_once_and_final_ends_the_request(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §3.3: PARTIAL forwarded as client PARTIAL, FINAL as FINAL."""
    core.on_frames(W1, ready(V02), T0)
    assert core.on_frames(C1, request(V02, b"q"), T0) == [
        Send(W1, [b"MDPW02", b"\x02", C1, b"", b"q"])
    ]
    assert core.on_frames(W1, reply(V02, C1, b"p1", final=False), T0) == [
        Send(C1, [b"MDPC02", b"\x02", SVC, b"p1"])
    ]
    assert core.on_frames(W1, reply(V02, C1, b"f", final=True), T0) == [
        Send(C1, [b"MDPC02", b"\x03", SVC, b"f"])
    ]
    # the worker is idle again: the next request goes to it at once
    assert core.on_frames(C2, request(V02, b"q2"), T0) == [
        Send(W1, [b"MDPW02", b"\x02", C2, b"", b"q2"])
    ]


def test_v01_client_gets_one_reply_with_all_partial_bodies_of_a_v02_worker(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §3.6 raspy: PARTIAL bodies buffered, then one 0.1 REPLY."""
    core.on_frames(W1, ready(V02), T0)
    assert core.on_frames(C1, request(V01, b"q"), T0) == [
        Send(W1, [b"MDPW02", b"\x02", C1, b"", b"q"])
    ]
    assert core.on_frames(W1, reply(V02, C1, b"a", b"b", final=False), T0) == []
    assert core.on_frames(W1, reply(V02, C1, b"c", final=False), T0) == []
    assert core.on_frames(W1, reply(V02, C1, b"d", final=True), T0) == [
        Send(C1, [b"", b"MDPC01", SVC, b"a", b"b", b"c", b"d"])
    ]


def test_v02_client_gets_a_final_from_a_v01_worker_reply(core: BrokerCore) -> None:
    """docs/protocols.md §3.6: a worker REPLY becomes one client FINAL with the same body."""
    core.on_frames(W1, ready(V01), T0)
    assert core.on_frames(C1, request(V02, b"q"), T0) == [
        Send(W1, [b"", b"MDPW01", b"\x02", C1, b"", b"q"])
    ]
    assert core.on_frames(W1, reply(V01, C1, b"x", b"y"), T0) == [
        Send(C1, [b"MDPC02", b"\x03", SVC, b"x", b"y"])
    ]


def test_majortomo_client_is_served_by_an_rfc18_worker_in_its_own_dialect(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §3.4, §3.6: replies to majortomo carry no service frame."""
    core.on_frames(W1, ready(V02), T0)
    assert core.on_frames(C1, [b"", b"MDPC02", b"\x02", SVC, b"q"], T0) == [
        Send(W1, [b"MDPW02", b"\x02", C1, b"", b"q"])
    ]
    assert core.on_frames(W1, reply(V02, C1, b"p", final=False), T0) == [
        Send(C1, [b"", b"MDPC02", b"\x03", b"p"])
    ]
    assert core.on_frames(W1, reply(V02, C1, b"f"), T0) == [
        Send(C1, [b"", b"MDPC02", b"\x04", b"f"])
    ]


def test_rfc18_client_is_served_by_a_majortomo_worker(core: BrokerCore) -> None:
    """docs/protocols.md §3.4, §3.5: the worker is always answered in its dialect."""
    core.on_frames(W1, [b"", b"MDPW02", b"\x01", SVC], T0)
    assert core.on_frames(C1, request(V02, b"q"), T0) == [
        Send(W1, [b"", b"MDPW02", b"\x02", C1, b"", b"q"])
    ]
    assert core.on_frames(W1, [b"", b"MDPW02", b"\x04", C1, b"", b"f"], T0) == [
        Send(C1, [b"MDPC02", b"\x03", SVC, b"f"])
    ]


def test_requests_wait_for_a_worker_and_go_out_oldest_first(core: BrokerCore) -> None:
    """docs/protocols.md §2.5 steps 1, 2, 4; a DEALER client may queue several requests."""
    assert core.on_frames(C1, request(V01, b"1"), T0) == []
    assert core.on_frames(C1, request(V01, b"2"), T0) == []
    assert core.on_frames(W1, ready(V01), T0 + 1) == [
        WorkerRegistered(SVC, W1, V01),
        ServiceAvailability(SVC, True),
        Send(W1, [b"", b"MDPW01", b"\x02", C1, b"", b"1"]),
    ]
    # the worker's next request goes out first, then the reply
    assert core.on_frames(W1, reply(V01, C1, b"r1"), T0 + 2) == [
        Send(W1, [b"", b"MDPW01", b"\x02", C1, b"", b"2"]),
        Send(C1, [b"", b"MDPC01", SVC, b"r1"]),
    ]


def test_dispatch_picks_the_worker_idle_longest(core: BrokerCore) -> None:
    """docs/protocols.md §2.5 step 2: least recently used idle worker first."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(W2, ready(V02), T0 + 1)
    assert sends(core.on_frames(C1, request(V02, b"a"), T0 + 2))[0].peer == W1
    core.on_frames(W1, reply(V02, C1, b"r"), T0 + 3)
    assert sends(core.on_frames(C2, request(V02, b"b"), T0 + 4))[0].peer == W2
    assert sends(core.on_frames(C2, request(V02, b"c"), T0 + 4))[0].peer == W1


# ---------------------------------------------------------------- heartbeats


def test_broker_heartbeats_a_worker_it_sent_nothing_for_one_interval(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §2.6 raspy: HEARTBEAT when nothing was sent for one interval."""
    core.on_frames(W1, ready(V01), T0)
    assert core.next_deadline() == T0 + 2.5
    assert core.on_tick(T0 + 2.4) == []
    assert core.on_tick(T0 + 2.5) == [Send(W1, [b"", b"MDPW01", b"\x04"])]
    assert core.next_deadline() == T0 + 5.0


def test_broker_heartbeats_busy_workers_too_in_their_dialect(core: BrokerCore) -> None:
    """docs/protocols.md §2.6 raspy: idle or busy, each worker in its own dialect."""
    core.on_frames(W1, [b"", b"MDPW02", b"\x01", SVC], T0)
    core.on_frames(C1, request(V02, b"q"), T0 + 1)
    core.on_frames(W1, heartbeat(VMJ), T0 + 2)
    assert core.on_tick(T0 + 3.5) == [Send(W1, [b"", b"MDPW02", b"\x05"])]


def test_sending_a_request_postpones_the_next_heartbeat(core: BrokerCore) -> None:
    """docs/protocols.md §2.6: re-arm the heartbeat from the time something was sent."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"q"), T0 + 2)
    core.on_frames(W1, reply(V02, C1, b"r"), T0 + 2.2)
    assert core.on_tick(T0 + 2.5) == []
    assert core.on_tick(T0 + 4.5) == [Send(W1, [b"MDPW02", b"\x05"])]


def test_broker_expires_worker_after_three_missed_heartbeats(core: BrokerCore) -> None:
    """docs/protocols.md §2.6: liveness 3 x 2.5 s; expiry is silent (no DISCONNECT)."""
    core.on_frames(W1, ready(V01), T0)
    core.on_frames(W1, heartbeat(V01), T0 + 2)
    assert core.on_tick(T0 + 2.5) == [Send(W1, [b"", b"MDPW01", b"\x04"])]
    assert core.on_tick(T0 + 5.0) == [Send(W1, [b"", b"MDPW01", b"\x04"])]
    assert core.on_tick(T0 + 9.4) == [Send(W1, [b"", b"MDPW01", b"\x04"])]
    assert core.on_tick(T0 + 9.5) == [
        WorkerRemoved(SVC, W1, "expired"),
        ServiceAvailability(SVC, False),
    ]
    assert core.has_workers(SVC) is False
    assert core.next_deadline() is None
    assert core.stats()["expired_workers"] == 1


def test_a_worker_that_heartbeats_is_never_expired(core: BrokerCore) -> None:
    """docs/protocols.md §2.5 step 5: HEARTBEAT refreshes the worker's deadline."""
    core.on_frames(W1, ready(V02), T0)
    for step in range(1, 20):
        now = T0 + step * 2.5
        core.on_frames(W1, heartbeat(V02), now)
        assert core.on_tick(now) == [Send(W1, [b"MDPW02", b"\x05"])]
    assert core.services() == [SVC]


def test_busy_worker_that_never_heartbeats_lives_until_busy_timeout(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §2.6 raspy: request start + busy_timeout_s (900 s).

    The lost request is older than request_ttl_s by then, so it is dropped.
    """
    core.on_frames(W1, ready(V01), T0)
    core.on_frames(C1, request(V01, b"long job"), T0 + 1)
    assert WorkerRemoved(SVC, W1, "expired") not in core.on_tick(T0 + 900.9)
    assert core.on_tick(T0 + 901) == [
        WorkerRemoved(SVC, W1, "expired"),
        ServiceAvailability(SVC, False),
        RequestDropped(SVC, C1, "expired"),
    ]


def test_one_heartbeat_crossing_the_request_keeps_the_busy_timeout(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §2.6 raspy: one HEARTBEAT may have crossed the REQUEST in flight."""
    core.on_frames(W1, ready(V01), T0)
    core.on_frames(C1, request(V01, b"job"), T0 + 1)
    core.on_frames(W1, heartbeat(V01), T0 + 1.1)
    assert WorkerRemoved(SVC, W1, "expired") not in core.on_tick(T0 + 100)


def test_busy_worker_that_heartbeats_while_busy_expires_after_liveness(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §2.6 raspy: once seen heartbeating while busy, liveness applies."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"job"), T0 + 1)
    core.on_frames(W1, heartbeat(V02), T0 + 2)
    core.on_frames(W1, heartbeat(V02), T0 + 4)
    assert core.next_deadline() is not None
    assert core.on_tick(T0 + 11.4) == [Send(W1, [b"MDPW02", b"\x05"])]
    assert core.on_tick(T0 + 11.5) == [
        WorkerRemoved(SVC, W1, "expired"),
        ServiceAvailability(SVC, False),
    ]
    assert core.stats()["queued"] == 1


def test_a_partial_refreshes_a_busy_worker_deadline() -> None:
    """docs/protocols.md §3.3: a PARTIAL keeps the worker busy and refreshes its deadline."""
    settings = BrokerSettings(busy_timeout_s=10.0)
    core = BrokerCore(settings)
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"job"), T0)
    core.on_frames(W1, reply(V02, C1, b"p", final=False), T0 + 9)
    assert WorkerRemoved(SVC, W1, "expired") not in core.on_tick(T0 + 12)
    assert WorkerRemoved(SVC, W1, "expired") in core.on_tick(T0 + 16.5)


def test_local_workers_are_never_heartbeated_or_expired(core: BrokerCore) -> None:
    """broker brief: peers with the 0xff prefix are in-process actors."""
    core.on_frames(L1, ready(V02), T0)
    assert core.next_deadline() is None
    assert core.on_tick(T0 + 10_000) == []
    assert core.on_frames(C1, request(V01, b"hi"), T0 + 10_001) == [
        Send(L1, [b"MDPW02", b"\x02", C1, b"", b"hi"])
    ]
    assert core.on_tick(T0 + 20_000) == []
    assert core.on_frames(L1, reply(V02, C1, b"hi"), T0 + 20_001) == [
        Send(C1, [b"", b"MDPC01", SVC, b"hi"])
    ]
