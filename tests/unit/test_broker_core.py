"""BrokerCore scenarios with time passed in (protocols.md §2.5-§2.8, §3.3-§3.6, §4)."""

from __future__ import annotations

import json

import pytest

from raspy.config import BrokerConfig
from raspy.cores.broker import (
    LOCAL_PREFIX,
    BrokerCore,
    BrokerOutput,
    BrokerSettings,
    Rejected,
    RequestDropped,
    Send,
    ServiceAvailability,
    WorkerRegistered,
    WorkerRemoved,
)
from raspy.protocol import mdp
from raspy.protocol.frames import FrameLimits

V01 = mdp.Version.V01
V02 = mdp.Version.V02
VMJ = mdp.Version.MAJORTOMO
C1 = b"\x00\x80\x00\x00\x01"
C2 = b"\x00\x80\x00\x00\x02"
W1 = b"\x00\x80\x00\x00\x11"
W2 = b"\x00\x80\x00\x00\x12"
L1 = LOCAL_PREFIX + b"echo-actor"
SVC = b"echo"
T0 = 1000.0


def ready(version: mdp.Version, service: bytes = SVC) -> list[bytes]:
    return mdp.encode(mdp.Ready(version, service))


def request(version: mdp.Version, *body: bytes, service: bytes = SVC) -> list[bytes]:
    return mdp.encode(mdp.ClientRequest(version, service, body))


def reply(
    version: mdp.Version, client: bytes, *body: bytes, final: bool = True
) -> list[bytes]:
    return mdp.encode(mdp.WorkerReply(version, client, body, final))


def heartbeat(version: mdp.Version) -> list[bytes]:
    return mdp.encode(mdp.Heartbeat(version))


def disconnect(version: mdp.Version) -> list[bytes]:
    return mdp.encode(mdp.Disconnect(version))


def sends(outputs: list[BrokerOutput]) -> list[Send]:
    return [out for out in outputs if isinstance(out, Send)]


@pytest.fixture
def core() -> BrokerCore:
    return BrokerCore(BrokerSettings())


# ---------------------------------------------------------------- dialogs


def test_v01_client_and_v01_worker_follow_the_classic_dialog(core: BrokerCore) -> None:
    """protocols.md §2.5 steps 1-4: READY, REQUEST dispatched, REPLY forwarded."""
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
    """protocols.md §3.3: PARTIAL forwarded as client PARTIAL, FINAL as FINAL."""
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
    """protocols.md §3.6 raspy: PARTIAL bodies buffered, then one 0.1 REPLY."""
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
    """protocols.md §3.6: a worker REPLY becomes one client FINAL with the same body."""
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
    """protocols.md §3.4, §3.6: replies to majortomo carry no service frame."""
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
    """protocols.md §3.4, §3.5: the worker is always answered in its dialect."""
    core.on_frames(W1, [b"", b"MDPW02", b"\x01", SVC], T0)
    assert core.on_frames(C1, request(V02, b"q"), T0) == [
        Send(W1, [b"", b"MDPW02", b"\x02", C1, b"", b"q"])
    ]
    assert core.on_frames(W1, [b"", b"MDPW02", b"\x04", C1, b"", b"f"], T0) == [
        Send(C1, [b"MDPC02", b"\x03", SVC, b"f"])
    ]


def test_requests_wait_for_a_worker_and_go_out_oldest_first(core: BrokerCore) -> None:
    """protocols.md §2.5 steps 1, 2, 4; a DEALER client may queue several requests."""
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
    """protocols.md §2.5 step 2: least recently used idle worker first."""
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
    """protocols.md §2.6 raspy: HEARTBEAT when nothing was sent for one interval."""
    core.on_frames(W1, ready(V01), T0)
    assert core.next_deadline() == T0 + 2.5
    assert core.on_tick(T0 + 2.4) == []
    assert core.on_tick(T0 + 2.5) == [Send(W1, [b"", b"MDPW01", b"\x04"])]
    assert core.next_deadline() == T0 + 5.0


def test_broker_heartbeats_busy_workers_too_in_their_dialect(core: BrokerCore) -> None:
    """protocols.md §2.6 raspy: idle or busy, each worker in its own dialect."""
    core.on_frames(W1, [b"", b"MDPW02", b"\x01", SVC], T0)
    core.on_frames(C1, request(V02, b"q"), T0 + 1)
    core.on_frames(W1, heartbeat(VMJ), T0 + 2)
    assert core.on_tick(T0 + 3.5) == [Send(W1, [b"", b"MDPW02", b"\x05"])]


def test_sending_a_request_postpones_the_next_heartbeat(core: BrokerCore) -> None:
    """protocols.md §2.6: re-arm the heartbeat from the time something was sent."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"q"), T0 + 2)
    core.on_frames(W1, reply(V02, C1, b"r"), T0 + 2.2)
    assert core.on_tick(T0 + 2.5) == []
    assert core.on_tick(T0 + 4.5) == [Send(W1, [b"MDPW02", b"\x05"])]


def test_broker_expires_worker_after_three_missed_heartbeats(core: BrokerCore) -> None:
    """protocols.md §2.6: liveness 3 x 2.5 s; expiry is silent (no DISCONNECT)."""
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
    """protocols.md §2.5 step 5: HEARTBEAT refreshes the worker's deadline."""
    core.on_frames(W1, ready(V02), T0)
    for step in range(1, 20):
        now = T0 + step * 2.5
        core.on_frames(W1, heartbeat(V02), now)
        assert core.on_tick(now) == [Send(W1, [b"MDPW02", b"\x05"])]
    assert core.services() == [SVC]


def test_busy_worker_that_never_heartbeats_lives_until_busy_timeout(
    core: BrokerCore,
) -> None:
    """protocols.md §2.6 raspy: request start + busy_timeout_s (900 s).

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
    """protocols.md §2.6 raspy: one HEARTBEAT may have crossed the REQUEST in flight."""
    core.on_frames(W1, ready(V01), T0)
    core.on_frames(C1, request(V01, b"job"), T0 + 1)
    core.on_frames(W1, heartbeat(V01), T0 + 1.1)
    assert WorkerRemoved(SVC, W1, "expired") not in core.on_tick(T0 + 100)


def test_busy_worker_that_heartbeats_while_busy_expires_after_liveness(
    core: BrokerCore,
) -> None:
    """protocols.md §2.6 raspy: once seen heartbeating while busy, liveness applies."""
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
    """protocols.md §3.3: a PARTIAL keeps the worker busy and refreshes its deadline."""
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


# ---------------------------------------------------------------- re-dispatch


def test_request_of_an_expired_worker_is_sent_to_another_worker(
    core: BrokerCore,
) -> None:
    """Issue 3: a request whose worker dies before replying is sent again."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"job"), T0)
    core.on_frames(W1, heartbeat(V02), T0 + 1)
    core.on_frames(W1, heartbeat(V02), T0 + 2)
    core.on_frames(W2, ready(V01), T0 + 8)
    assert core.on_tick(T0 + 9.5) == [
        WorkerRemoved(SVC, W1, "expired"),
        Send(W2, [b"", b"MDPW01", b"\x02", C1, b"", b"job"]),
    ]
    assert core.stats()["redispatched"] == 1


def test_request_of_a_disconnected_worker_goes_first_to_the_next_worker(
    core: BrokerCore,
) -> None:
    """Issue 3: re-dispatch after DISCONNECT; the lost request goes to the front."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"first"), T0)
    core.on_frames(C2, request(V02, b"second"), T0 + 1)
    assert core.on_frames(W1, disconnect(V02), T0 + 2) == [
        WorkerRemoved(SVC, W1, "disconnect"),
        ServiceAvailability(SVC, False),
    ]
    assert core.on_frames(W2, ready(V02), T0 + 3) == [
        WorkerRegistered(SVC, W2, V02),
        ServiceAvailability(SVC, True),
        Send(W2, [b"MDPW02", b"\x02", C1, b"", b"first"]),
    ]


def test_v01_client_buffer_restarts_when_the_request_is_re_dispatched(
    core: BrokerCore,
) -> None:
    """broker.py docstring: a 0.1 client never sees PARTIALs of a failed attempt."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V01, b"job"), T0)
    core.on_frames(W1, reply(V02, C1, b"old", final=False), T0)
    core.on_frames(W1, disconnect(V02), T0)
    core.on_frames(W2, ready(V02), T0)
    assert core.on_frames(W2, reply(V02, C1, b"new"), T0) == [
        Send(C1, [b"", b"MDPC01", SVC, b"new"])
    ]


def test_v02_client_sees_the_whole_stream_of_the_second_attempt(
    core: BrokerCore,
) -> None:
    """broker.py docstring: PARTIALs already forwarded are not re-sent."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"job"), T0)
    assert core.on_frames(W1, reply(V02, C1, b"p1", final=False), T0) == [
        Send(C1, [b"MDPC02", b"\x02", SVC, b"p1"])
    ]
    core.on_frames(W1, disconnect(V02), T0)
    assert core.on_frames(W2, ready(VMJ), T0) == [
        WorkerRegistered(SVC, W2, VMJ),
        ServiceAvailability(SVC, True),
        Send(W2, [b"", b"MDPW02", b"\x02", C1, b"", b"job"]),
    ]
    assert core.on_frames(W2, reply(VMJ, C1, b"p1", final=False), T0) == [
        Send(C1, [b"MDPC02", b"\x02", SVC, b"p1"])
    ]
    assert core.on_frames(W2, reply(VMJ, C1, b"f"), T0) == [
        Send(C1, [b"MDPC02", b"\x03", SVC, b"f"])
    ]


def test_nothing_is_sent_to_a_worker_after_its_disconnect(core: BrokerCore) -> None:
    """protocols.md §2.4: after DISCONNECT the broker sends nothing more to it."""
    core.on_frames(W1, ready(V01), T0)
    core.on_frames(W1, disconnect(V01), T0 + 1)
    assert core.on_frames(C1, request(V01, b"x"), T0 + 2) == []
    for step in range(1, 50):
        assert sends(core.on_tick(T0 + step)) == []
    assert core.on_frames(W1, disconnect(V01), T0 + 60) == []


def test_a_worker_that_comes_back_after_expiry_is_told_to_disconnect(
    core: BrokerCore,
) -> None:
    """protocols.md §2.6 raspy: its next message comes from an unknown peer."""
    core.on_frames(W1, ready(V02), T0)
    core.on_tick(T0 + 7.5)
    assert core.on_frames(W1, heartbeat(V02), T0 + 8) == [
        Rejected(W1, "unknown_worker", "Heartbeat", 2),
        Send(W1, [b"MDPW02", b"\x06"]),
    ]


# ---------------------------------------------------------------- §2.8 table


@pytest.mark.parametrize(
    ("frames", "disconnect_frames"),
    [
        pytest.param(heartbeat(V01), [b"", b"MDPW01", b"\x05"], id="v01-heartbeat"),
        pytest.param(reply(V01, C1, b"x"), [b"", b"MDPW01", b"\x05"], id="v01-reply"),
        pytest.param(
            reply(V02, C1, b"x", final=False), [b"MDPW02", b"\x06"], id="v02-partial"
        ),
        pytest.param(reply(V02, C1, b"x"), [b"MDPW02", b"\x06"], id="v02-final"),
        pytest.param(heartbeat(VMJ), [b"", b"MDPW02", b"\x06"], id="mj-heartbeat"),
        pytest.param(reply(VMJ, C1, b"x"), [b"", b"MDPW02", b"\x06"], id="mj-final"),
    ],
)
def test_unknown_peer_heartbeat_or_reply_gets_disconnect_in_its_dialect(
    core: BrokerCore, frames: list[bytes], disconnect_frames: list[bytes]
) -> None:
    """protocols.md §2.8: HEARTBEAT, REPLY, PARTIAL or FINAL from an unknown peer."""
    outputs = core.on_frames(W1, frames, T0)
    assert sends(outputs) == [Send(W1, disconnect_frames)]
    assert [type(out) for out in outputs] == [Rejected, Send]


def test_request_command_from_an_unknown_peer_gets_disconnect(
    core: BrokerCore,
) -> None:
    """protocols.md §2.8: a valid but unexpected worker command from an unknown peer."""
    frames = mdp.encode(mdp.WorkerRequest(V02, C1, (b"x",)))
    assert core.on_frames(W1, frames, T0) == [
        Rejected(W1, "unknown_worker", "WorkerRequest", 5),
        Send(W1, [b"MDPW02", b"\x06"]),
    ]


def test_disconnect_from_an_unknown_peer_is_ignored(core: BrokerCore) -> None:
    """protocols.md §2.8: DISCONNECT from an unknown peer is allowed, ignored."""
    assert core.on_frames(W1, disconnect(V02), T0) == []


@pytest.mark.parametrize("version", list(mdp.Version))
def test_ready_for_an_mmi_service_is_refused(
    core: BrokerCore, version: mdp.Version
) -> None:
    """protocols.md §2.8, §4: RFC 8 MUST; DISCONNECT and do not register."""
    outputs = core.on_frames(W1, ready(version, b"mmi.service"), T0)
    assert outputs == [
        Rejected(W1, "mmi_ready", "", len(ready(version))),
        Send(W1, mdp.encode(mdp.Disconnect(version))),
    ]
    assert core.services() == []


def test_second_ready_from_a_registered_worker_disconnects_it(
    core: BrokerCore,
) -> None:
    """protocols.md §2.7, §2.8: READY from a registered worker: DISCONNECT, forget."""
    core.on_frames(W1, ready(V01), T0)
    assert core.on_frames(W1, ready(V01, b"other"), T0 + 1) == [
        Rejected(W1, "unexpected_ready", "", 4),
        Send(W1, [b"", b"MDPW01", b"\x05"]),
        WorkerRemoved(SVC, W1, "protocol_error"),
        ServiceAvailability(SVC, False),
    ]


def test_reply_from_an_idle_worker_is_not_forwarded(core: BrokerCore) -> None:
    """protocols.md §2.8: REPLY from an idle worker: DISCONNECT, forget."""
    core.on_frames(W1, ready(V02), T0)
    assert core.on_frames(W1, reply(V02, C1, b"x"), T0) == [
        Rejected(W1, "unexpected_reply", "", 5),
        Send(W1, [b"MDPW02", b"\x06"]),
        WorkerRemoved(SVC, W1, "protocol_error"),
        ServiceAvailability(SVC, False),
    ]


def test_reply_for_another_client_is_not_forwarded_and_the_request_survives(
    core: BrokerCore,
) -> None:
    """protocols.md §2.8: REPLY for another client: DISCONNECT, forget; re-queued."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(W2, ready(V02), T0)
    core.on_frames(C1, request(V02, b"q"), T0)
    assert core.on_frames(W1, reply(V02, C2, b"x"), T0) == [
        Rejected(W1, "unexpected_reply", "", 5),
        Send(W1, [b"MDPW02", b"\x06"]),
        WorkerRemoved(SVC, W1, "protocol_error"),
        Send(W2, [b"MDPW02", b"\x02", C1, b"", b"q"]),
    ]


def test_request_command_sent_by_a_worker_disconnects_it(core: BrokerCore) -> None:
    """protocols.md §2.8: REQUEST (0x02) sent by a worker: DISCONNECT, forget."""
    core.on_frames(W1, ready(V01), T0)
    frames = mdp.encode(mdp.WorkerRequest(V01, C1, (b"x",)))
    assert core.on_frames(W1, frames, T0) == [
        Rejected(W1, "unexpected_request", "", 6),
        Send(W1, [b"", b"MDPW01", b"\x05"]),
        WorkerRemoved(SVC, W1, "protocol_error"),
        ServiceAvailability(SVC, False),
    ]


def test_invalid_message_from_a_registered_worker_disconnects_it(
    core: BrokerCore,
) -> None:
    """protocols.md §2.8 raspy: DISCONNECT a registered worker that sends garbage."""
    core.on_frames(W1, ready(V01), T0)
    outputs = core.on_frames(W1, [b"", b"MDPW01", b"\x09"], T0)
    assert outputs == [
        Rejected(W1, "bad_command", "MDPW01 command '\\t'", 3),
        Send(W1, [b"", b"MDPW01", b"\x05"]),
        WorkerRemoved(SVC, W1, "protocol_error"),
        ServiceAvailability(SVC, False),
    ]


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param([], "short", id="empty"),
        pytest.param([b""], "short", id="delimiter-only"),
        pytest.param([b"", b"MDPX01", SVC, b"x"], "bad_header", id="bad-header"),
        pytest.param([b"MDPC01", SVC, b"x"], "bad_envelope", id="bad-envelope"),
        pytest.param([b"", b"MDPC01", SVC], "short", id="request-without-body"),
        pytest.param([b"", b"MDPC01", b"", b"x"], "bad_service", id="empty-service"),
        pytest.param([b"", b"MDPW01", b"\x01\x01"], "bad_command", id="long-command"),
        pytest.param([b"MDPW02", b"\x01"], "short", id="ready-without-service"),
        pytest.param([b"MDPW02", b"\x01", SVC, b""], "extra_frames", id="ready-extra"),
        pytest.param([b"MDPW02", b"\x05", b""], "extra_frames", id="heartbeat-extra"),
        pytest.param(
            [b"MDPW02", b"\x04", C1, b"x", b"y"], "bad_envelope", id="reply-envelope"
        ),
        pytest.param([b"MDPC02", b"\x03", SVC, b"x"], "bad_command", id="client-final"),
        pytest.param([b"x"] * 65, "too_many_frames", id="too-many-frames"),
    ],
)
def test_invalid_input_from_an_unknown_peer_is_only_rejected(
    core: BrokerCore, frames: list[bytes], reason: str
) -> None:
    """protocols.md §2.8 raspy: never answer an unknown peer's garbage."""
    outputs = core.on_frames(C1, frames, T0)
    assert [(type(out), getattr(out, "reason", None)) for out in outputs] == [
        (Rejected, reason)
    ]
    assert core.stats()[f"rejected.{reason}"] == 1


def test_oversized_frame_is_rejected_by_the_limits() -> None:
    """Issue 3: an oversized frame is logged with its reason, counted and dropped."""
    core = BrokerCore(BrokerSettings(limits=FrameLimits(max_frame_bytes=4)))
    assert core.on_frames(C1, request(V02, b"12345"), T0) == [
        Rejected(C1, "frame_too_large", "6 > 4", 4)
    ]


def test_worker_that_switches_dialect_is_disconnected_in_its_own(
    core: BrokerCore,
) -> None:
    """protocols.md §3.5: DISCONNECT in the dialect it registered with."""
    core.on_frames(W1, ready(V02), T0)
    assert core.on_frames(W1, heartbeat(VMJ), T0) == [
        Rejected(W1, "dialect_changed", "majortomo", 3),
        Send(W1, [b"MDPW02", b"\x06"]),
        WorkerRemoved(SVC, W1, "protocol_error"),
        ServiceAvailability(SVC, False),
    ]


# ---------------------------------------------------------------- MMI


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        pytest.param(
            [b"", b"MDPC01", b"mmi.service", b"echo"],
            [b"", b"MDPC01", b"mmi.service", b"200"],
            id="v01-200",
        ),
        pytest.param(
            [b"MDPC02", b"\x01", b"mmi.service", b"echo"],
            [b"MDPC02", b"\x03", b"mmi.service", b"200"],
            id="v02-200",
        ),
        pytest.param(
            [b"", b"MDPC02", b"\x02", b"mmi.service", b"echo"],
            [b"", b"MDPC02", b"\x04", b"200"],
            id="majortomo-200",
        ),
        pytest.param(
            [b"", b"MDPC01", b"mmi.foo", b"x"],
            [b"", b"MDPC01", b"mmi.foo", b"501"],
            id="v01-501",
        ),
        pytest.param(
            [b"MDPC02", b"\x01", b"mmi.service", b"nobody"],
            [b"MDPC02", b"\x03", b"mmi.service", b"404"],
            id="v02-404",
        ),
        pytest.param(
            [b"", b"MDPC02", b"\x02", b"mmi.service", b"nobody"],
            [b"", b"MDPC02", b"\x04", b"404"],
            id="majortomo-404",
        ),
        pytest.param(
            [b"", b"MDPC01", b"mmi.service", b"echo", b"nobody"],
            [b"", b"MDPC01", b"mmi.service", b"200"],
            id="first-body-frame-is-the-name",
        ),
        pytest.param(
            [b"", b"MDPC02", b"\x02", b"mmi.x", b""],
            [b"", b"MDPC02", b"\x04", b"501"],
            id="majortomo-501",
        ),
        pytest.param(
            [b"MDPC02", b"\x01", b"mmi.foo", b"x"],
            [b"MDPC02", b"\x03", b"mmi.foo", b"501"],
            id="v02-501",
        ),
        pytest.param(
            [b"", b"MDPC01", b"mmi.service", b"nobody"],
            [b"", b"MDPC01", b"mmi.service", b"404"],
            id="v01-404",
        ),
        pytest.param(
            [b"", b"MDPC01", b"mmi.services", b"x" * 256],
            [b"", b"MDPC01", b"mmi.services", b"400"],
            id="v01-services-400",
        ),
    ],
)
def test_mmi_requests_get_the_documented_replies(
    core: BrokerCore, frames: list[bytes], expected: list[bytes]
) -> None:
    """protocols.md §4 table: 200/404/501 in all three dialects, one body frame."""
    core.on_frames(W1, ready(V01), T0)
    assert core.on_frames(C1, frames, T0) == [Send(C1, expected)]


def test_mmi_service_counts_busy_and_local_workers_but_not_expired_ones(
    core: BrokerCore,
) -> None:
    """protocols.md §4 raspy: registered, not expired workers, idle or busy."""
    ask = request(V01, b"echo", service=b"mmi.service")
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"job"), T0)
    assert core.on_frames(C2, ask, T0) == [
        Send(C2, [b"", b"MDPC01", b"mmi.service", b"200"])
    ]
    core.on_tick(T0 + 901)
    assert core.on_frames(C2, ask, T0 + 901) == [
        Send(C2, [b"", b"MDPC01", b"mmi.service", b"404"])
    ]
    core.on_frames(L1, ready(V02), T0 + 902)
    assert core.on_frames(C2, ask, T0 + 902) == [
        Send(C2, [b"", b"MDPC01", b"mmi.service", b"200"])
    ]


def test_mmi_services_lists_services_with_live_workers(core: BrokerCore) -> None:
    """mmi.py docstring: mmi.services, a raspy extension."""
    core.on_frames(W1, ready(V02, b"kitchen.echo"), T0)
    core.on_frames(W2, ready(V01, b"attic.onewire"), T0)
    core.on_frames(C1, request(V02, b"q", service=b"queued.only"), T0)
    assert core.on_frames(C2, request(V02, b"", service=b"mmi.services"), T0) == [
        Send(
            C2,
            [
                b"MDPC02",
                b"\x03",
                b"mmi.services",
                b"200",
                b"attic.onewire",
                b"kitchen.echo",
            ],
        )
    ]
    assert core.on_frames(C2, request(V01, b"k*", service=b"mmi.services"), T0) == [
        Send(C2, [b"", b"MDPC01", b"mmi.services", b"200", b"kitchen.echo"])
    ]


def test_mmi_workers_counts_idle_busy_and_versions(core: BrokerCore) -> None:
    """mmi.py docstring: mmi.workers, a raspy extension."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(W2, ready(VMJ), T0)
    core.on_frames(L1, ready(V01), T0)
    core.on_frames(C1, request(V02, b"job"), T0)
    [out] = core.on_frames(C2, request(V02, b"", service=b"mmi.workers"), T0)
    assert isinstance(out, Send)
    assert out.frames[:4] == [b"MDPC02", b"\x03", b"mmi.workers", b"200"]
    assert json.loads(out.frames[4]) == {
        "echo": {"idle": 2, "busy": 1, "versions": {"0.1": 1, "0.2": 1, "majortomo": 1}}
    }


# ---------------------------------------------------------------- bounds


def test_a_request_beyond_the_queue_bound_is_dropped() -> None:
    """Issue 3: queues are bounded; what is refused is reported, never silent."""
    core = BrokerCore(BrokerSettings(max_queue_per_service=2))
    assert core.on_frames(C1, request(V01, b"1"), T0) == []
    assert core.on_frames(C1, request(V01, b"2"), T0) == []
    assert core.on_frames(C2, request(V01, b"3"), T0) == [
        RequestDropped(SVC, C2, "queue_full")
    ]
    assert core.stats()["queued"] == 2
    assert core.stats()["dropped.queue_full"] == 1


def test_a_request_waiting_longer_than_its_ttl_is_dropped(core: BrokerCore) -> None:
    """protocols.md §2.5 step 8 raspy: drop after request_ttl_s (30 s), counted."""
    core.on_frames(C1, request(V01, b"1"), T0)
    core.on_frames(C2, request(V01, b"2"), T0 + 10)
    assert core.next_deadline() == T0 + 30
    assert core.on_tick(T0 + 29.9) == []
    assert core.on_tick(T0 + 30) == [RequestDropped(SVC, C1, "expired")]
    assert core.next_deadline() == T0 + 40
    assert core.on_tick(T0 + 40) == [RequestDropped(SVC, C2, "expired")]
    assert core.next_deadline() is None
    assert core.stats()["queued"] == 0


def test_an_expired_request_is_not_dispatched_even_before_the_tick(
    core: BrokerCore,
) -> None:
    """protocols.md §2.5 step 8: past its TTL, a queued copy is only a duplicate."""
    core.on_frames(C1, request(V01, b"old"), T0)
    core.on_frames(C2, request(V01, b"new"), T0 + 20)
    assert core.on_frames(W1, ready(V01), T0 + 31) == [
        WorkerRegistered(SVC, W1, V01),
        ServiceAvailability(SVC, True),
        RequestDropped(SVC, C1, "expired"),
        Send(W1, [b"", b"MDPW01", b"\x02", C2, b"", b"new"]),
    ]


def test_a_v01_reply_over_the_limits_is_dropped_and_the_worker_freed() -> None:
    """protocols.md §3.6: on overflow the request fails, the client gets nothing."""
    core = BrokerCore(BrokerSettings(limits=FrameLimits(max_frames=8)))
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V01, b"q"), T0)
    assert core.on_frames(W1, reply(V02, C1, *[b"p"] * 4, final=False), T0) == []
    assert core.on_frames(W1, reply(V02, C1, *[b"p"] * 4, final=False), T0) == []
    assert core.on_frames(W1, reply(V02, C1, b"p", final=False), T0) == [
        RequestDropped(SVC, C1, "reply_overflow")
    ]
    assert core.on_frames(W1, reply(V02, C1, b"more", final=False), T0) == []
    assert core.on_frames(W1, reply(V02, C1, b"end"), T0) == []
    assert core.on_frames(C2, request(V01, b"next"), T0) == [
        Send(W1, [b"MDPW02", b"\x02", C2, b"", b"next"])
    ]


# ---------------------------------------------------------------- lifecycle


def test_shutdown_disconnects_every_external_worker_in_its_dialect(
    core: BrokerCore,
) -> None:
    """Issue 3: on SIGTERM send DISCONNECT to connected workers."""
    core.on_frames(W1, ready(V01), T0)
    core.on_frames(W2, ready(VMJ, b"other"), T0)
    core.on_frames(L1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"q", service=b"nobody"), T0)
    assert core.shutdown() == [
        Send(W1, [b"", b"MDPW01", b"\x05"]),
        WorkerRemoved(SVC, W1, "shutdown"),
        Send(W2, [b"", b"MDPW02", b"\x06"]),
        WorkerRemoved(b"other", W2, "shutdown"),
        WorkerRemoved(SVC, L1, "shutdown"),
        ServiceAvailability(SVC, False),
        ServiceAvailability(b"other", False),
        RequestDropped(b"nobody", C1, "shutdown"),
    ]
    assert core.services() == []
    assert core.next_deadline() is None


def test_settings_come_from_the_broker_config() -> None:
    """raspy.config.BrokerConfig: every field maps to BrokerSettings."""
    config = BrokerConfig(
        heartbeat_interval_s=1.0,
        heartbeat_liveness=5,
        busy_timeout_s=60.0,
        request_ttl_s=10.0,
        max_queue_per_service=7,
        max_frames=9,
        max_frame_bytes=100,
        max_message_bytes=1000,
        accept_majortomo=False,
    )
    assert BrokerSettings.from_config(config) == BrokerSettings(
        heartbeat_interval_s=1.0,
        heartbeat_liveness=5,
        busy_timeout_s=60.0,
        request_ttl_s=10.0,
        max_queue_per_service=7,
        limits=FrameLimits(9, 100, 1000),
        accept_majortomo=False,
    )


@pytest.mark.parametrize(
    "field",
    [
        {"heartbeat_interval_s": 0.0},
        {"heartbeat_liveness": 0},
        {"busy_timeout_s": -1.0},
        {"request_ttl_s": 0.0},
        {"max_queue_per_service": 0},
    ],
)
def test_settings_refuse_values_that_would_stop_the_timers(
    field: dict[str, float],
) -> None:
    """STYLE.md §4: misuse by a caller raises ValueError."""
    with pytest.raises(ValueError, match=next(iter(field))):
        BrokerSettings(**field)  # type: ignore[arg-type]  # one field at a time


def test_majortomo_dialect_can_be_refused() -> None:
    """protocols.md §3.5: the majortomo dialect only if enabled."""
    core = BrokerCore(BrokerSettings(accept_majortomo=False))
    outputs = core.on_frames(W1, [b"", b"MDPW02", b"\x01", SVC], T0)
    assert [type(out) for out in outputs] == [Rejected]


def test_stats_count_requests_replies_and_workers(core: BrokerCore) -> None:
    """Issue 3: what happens is counted."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"q"), T0)
    core.on_frames(W1, reply(V02, C1, b"p", final=False), T0)
    core.on_frames(W1, reply(V02, C1, b"f"), T0)
    core.on_frames(C1, request(V02, b"echo", service=b"mmi.service"), T0)
    core.on_frames(C1, [b"junk"], T0)
    assert core.stats() == {
        "requests": 1,
        "replies": 1,
        "partials": 1,
        "mmi": 1,
        "redispatched": 0,
        "expired_workers": 0,
        "heartbeats_sent": 0,
        "workers": 1,
        "services": 1,
        "queued": 0,
        "rejected.bad_header": 1,
    }
