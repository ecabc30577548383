"""BrokerCore when workers fail or misbehave: re-dispatch and the §2.8 table."""

from __future__ import annotations

import pytest
from support.broker_frames import (
    C1,
    C2,
    SVC,
    T0,
    V01,
    V02,
    VMJ,
    W1,
    W2,
    core_fixture,  # noqa: F401  # fixture `core`
    disconnect,
    heartbeat,
    ready,
    reply,
    request,
    sends,
)

from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import (
    Rejected,
    RequestDropped,
    Send,
    ServiceAvailability,
    WorkerRegistered,
    WorkerRemoved,
)
from raspy.cores.broker_settings import BrokerSettings
from raspy.protocol import mdp
from raspy.protocol.frames import FrameLimits

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


def test_a_request_whose_workers_keep_going_away_is_dropped_at_the_third(
    core: BrokerCore,
) -> None:
    """A request that makes every worker crash went round for as long as they were
    restarted (each dispatch renews its time to live): the third worker lost with
    it drops it, counted, and the next worker is idle."""
    workers = [bytes([0, 0, 0, 0, n]) for n in range(1, 5)]
    core.on_frames(C1, request(V02, b"poison"), T0)
    for lost, worker in enumerate(workers[:3], start=1):
        out = core.on_frames(worker, ready(V02), T0 + lost)
        assert Send(worker, [b"MDPW02", b"\x02", C1, b"", b"poison"]) in out
        out = core.on_frames(worker, disconnect(V02), T0 + lost)
    assert RequestDropped(SVC, C1, "workers_lost") in out
    assert core.stats()["redispatched"] == 2
    assert core.stats()["dropped.workers_lost"] == 1
    out = core.on_frames(workers[3], ready(V02), T0 + 4)
    assert not [o for o in out if isinstance(o, Send)]


def test_v01_client_buffer_restarts_when_the_request_is_re_dispatched(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §3.7: a 0.1 client never sees PARTIALs of a failed attempt
    (they are buffered, §3.6), so its request is dispatched again, buffer emptied."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V01, b"job"), T0)
    core.on_frames(W1, reply(V02, C1, b"old", final=False), T0)
    core.on_frames(W1, disconnect(V02), T0)
    core.on_frames(W2, ready(V02), T0)
    assert core.on_frames(W2, reply(V02, C1, b"new"), T0) == [
        Send(C1, [b"", b"MDPC01", SVC, b"new"])
    ]


@pytest.mark.parametrize("client", [V02, VMJ], ids=["v02", "majortomo"])
def test_a_request_whose_client_got_a_partial_is_dropped_when_its_worker_leaves(
    core: BrokerCore, client: mdp.Version
) -> None:
    """docs/protocols.md §3.7 raspy: another attempt's stream would follow the parts
    the client has (p1, p1, f); the request is dropped, never sent to the next worker."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(client, b"job"), T0)
    out = core.on_frames(W1, reply(V02, C1, b"p1", final=False), T0)
    assert [type(o) for o in out] == [Send]
    assert core.on_frames(W1, disconnect(V02), T0 + 1) == [
        WorkerRemoved(SVC, W1, "disconnect"),
        ServiceAvailability(SVC, False),
        RequestDropped(SVC, C1, "partial_lost"),
    ]
    assert core.on_frames(W2, ready(V02), T0 + 2) == [
        WorkerRegistered(SVC, W2, V02),
        ServiceAvailability(SVC, True),
    ]
    stats = core.stats()
    assert stats["dropped.partial_lost"] == 1
    assert stats["redispatched"] == 0
    assert stats["queued"] == stats["queued_bytes"] == 0


def test_a_request_streaming_from_a_silent_worker_is_dropped_at_its_expiry(
    core: BrokerCore,
) -> None:
    """§3.7 raspy: the same when the worker is given up for silence (§2.6); a worker
    that answers again later is an unknown peer, its FINAL never reaches the client."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(W2, ready(V02), T0)
    core.on_frames(C1, request(V02, b"job"), T0)
    core.on_frames(W1, heartbeat(V02), T0 + 1)
    core.on_frames(W1, heartbeat(V02), T0 + 2)
    core.on_frames(W1, reply(V02, C1, b"p1", final=False), T0 + 3)
    core.on_frames(W2, heartbeat(V02), T0 + 9)
    out = core.on_tick(T0 + 10.5)
    assert WorkerRemoved(SVC, W1, "expired") in out
    assert RequestDropped(SVC, C1, "partial_lost") in out
    assert sends(out) == [Send(W2, heartbeat(V02))]  # never the request
    assert core.worker_counts()[SVC].idle == 1
    assert core.on_frames(W1, reply(V02, C1, b"f"), T0 + 11) == [
        Rejected(W1, "unknown_worker", "WorkerReply", 5),
        Send(W1, [b"MDPW02", b"\x06"]),
    ]


def test_a_request_dropped_after_a_partial_leaves_the_queue_behind_it_served(
    core: BrokerCore,
) -> None:
    """§3.7: only the request that streamed is dropped; the next queued one is
    dispatched to the next worker as usual."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"first"), T0)
    core.on_frames(C2, request(V02, b"second"), T0)
    core.on_frames(W1, reply(V02, C1, b"p1", final=False), T0)
    core.on_frames(W1, disconnect(V02), T0)
    out = core.on_frames(W2, ready(V02), T0)
    assert sends(out) == [Send(W2, [b"MDPW02", b"\x02", C2, b"", b"second"])]


def test_a_request_with_no_partial_forwarded_yet_is_still_dispatched_again(
    core: BrokerCore,
) -> None:
    """§3.7: the rule starts at the first PARTIAL the client was sent."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"job"), T0)
    core.on_frames(W1, heartbeat(V02), T0 + 1)
    core.on_frames(W1, disconnect(V02), T0 + 2)
    out = core.on_frames(W2, ready(V02), T0 + 3)
    assert sends(out) == [Send(W2, [b"MDPW02", b"\x02", C1, b"", b"job"])]
    assert core.stats()["redispatched"] == 1
    assert "dropped.partial_lost" not in core.stats()


def test_nothing_is_sent_to_a_worker_after_its_disconnect(core: BrokerCore) -> None:
    """docs/protocols.md §2.4: after DISCONNECT the broker sends nothing more to it."""
    core.on_frames(W1, ready(V01), T0)
    core.on_frames(W1, disconnect(V01), T0 + 1)
    assert core.on_frames(C1, request(V01, b"x"), T0 + 2) == []
    for step in range(1, 50):
        assert sends(core.on_tick(T0 + step)) == []
    assert core.on_frames(W1, disconnect(V01), T0 + 60) == []


def test_a_worker_that_comes_back_after_expiry_is_told_to_disconnect(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §2.6 raspy: its next message comes from an unknown peer."""
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
    """docs/protocols.md §2.8: HEARTBEAT, REPLY, PARTIAL or FINAL from an unknown peer."""
    outputs = core.on_frames(W1, frames, T0)
    assert sends(outputs) == [Send(W1, disconnect_frames)]
    assert [type(out) for out in outputs] == [Rejected, Send]


def test_request_command_from_an_unknown_peer_gets_disconnect(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §2.8: a valid but unexpected worker command from an unknown peer."""
    frames = mdp.encode(mdp.WorkerRequest(V02, C1, (b"x",)))
    assert core.on_frames(W1, frames, T0) == [
        Rejected(W1, "unknown_worker", "WorkerRequest", 5),
        Send(W1, [b"MDPW02", b"\x06"]),
    ]


def test_disconnect_from_an_unknown_peer_is_ignored(core: BrokerCore) -> None:
    """docs/protocols.md §2.8: DISCONNECT from an unknown peer is allowed, ignored."""
    assert core.on_frames(W1, disconnect(V02), T0) == []


@pytest.mark.parametrize("version", list(mdp.Version))
def test_ready_for_an_mmi_service_is_refused(
    core: BrokerCore, version: mdp.Version
) -> None:
    """docs/protocols.md §2.8, §4: RFC 8 MUST; DISCONNECT and do not register."""
    outputs = core.on_frames(W1, ready(version, b"mmi.service"), T0)
    assert outputs == [
        Rejected(W1, "mmi_ready", "", len(ready(version))),
        Send(W1, mdp.encode(mdp.Disconnect(version))),
    ]
    assert core.services() == []


def test_second_ready_from_a_registered_worker_disconnects_it(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §2.7, §2.8: READY from a registered worker: DISCONNECT, forget."""
    core.on_frames(W1, ready(V01), T0)
    assert core.on_frames(W1, ready(V01, b"other"), T0 + 1) == [
        Rejected(W1, "unexpected_ready", "", 4),
        Send(W1, [b"", b"MDPW01", b"\x05"]),
        WorkerRemoved(SVC, W1, "protocol_error"),
        ServiceAvailability(SVC, False),
    ]


def test_reply_from_an_idle_worker_is_not_forwarded(core: BrokerCore) -> None:
    """docs/protocols.md §2.8: REPLY from an idle worker: DISCONNECT, forget."""
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
    """docs/protocols.md §2.8: REPLY for another client: DISCONNECT, forget; re-queued."""
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
    """docs/protocols.md §2.8: REQUEST (0x02) sent by a worker: DISCONNECT, forget."""
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
    """docs/protocols.md §2.8 raspy: DISCONNECT a registered worker that sends garbage."""
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
    """docs/protocols.md §2.8 raspy: never answer an unknown peer's garbage."""
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
    """docs/protocols.md §3.5: DISCONNECT in the dialect it registered with."""
    core.on_frames(W1, ready(V02), T0)
    assert core.on_frames(W1, heartbeat(VMJ), T0) == [
        Rejected(W1, "dialect_changed", "majortomo", 3),
        Send(W1, [b"MDPW02", b"\x06"]),
        WorkerRemoved(SVC, W1, "protocol_error"),
        ServiceAvailability(SVC, False),
    ]
