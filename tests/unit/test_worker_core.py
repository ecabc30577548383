"""WorkerCore: READY, heartbeats, broker liveness and reconnects with time passed in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.mdp_frames import DISCONNECT, HEARTBEAT, finals, requests

from raspy.config_bounds import MIN_BROKER_SILENCE_S
from raspy.cores.worker import (
    BROKER_LEAST_SILENCE_S,
    Connect,
    Deliver,
    Reconnect,
    Rejected,
    ReplyDropped,
    Send,
    WorkerCore,
    WorkerOutput,
    WorkerSettings,
    WorkerState,
)
from raspy.protocol import mdp
from raspy.protocol.frames import FrameLimits

V01, V02, VMJ = mdp.Version.V01, mdp.Version.V02, mdp.Version.MAJORTOMO
SVC = b"echo"
C1 = b"\x00\x80\x00\x00\x01"
T0 = 1000.0

# docs/protocols.md §2.4 (0.1), §3.3 (RFC 18) and §3.4 (majortomo), peer view
READY = {
    V01: [b"", b"MDPW01", b"\x01", SVC],
    V02: [b"MDPW02", b"\x01", SVC],
    VMJ: [b"", b"MDPW02", b"\x01", SVC],
}
REQUEST = requests(b"hello")
FINAL = finals(b"HELLO")
VERSIONS = pytest.mark.parametrize("version", [V01, V02, VMJ], ids=str)


def connected(version: mdp.Version = V02) -> WorkerCore:
    core = WorkerCore(SVC, version)
    assert core.on_tick(T0) == [Connect(), Send(READY[version])]
    return core


@VERSIONS
def test_worker_connects_and_sends_ready_on_first_tick(version: mdp.Version) -> None:
    """§2.4: a new socket, connect, then exactly one READY for the service."""
    core = WorkerCore(SVC, version)
    assert core.next_deadline() == float("-inf")
    assert core.on_tick(T0) == [Connect(), Send(READY[version])]
    assert core.state is WorkerState.CONNECTED


@VERSIONS
def test_a_worker_that_heartbeats_while_busy_shows_it_at_each_connections_first_request(
    version: mdp.Version,
) -> None:
    """§2.6 raspy: two HEARTBEATs before the handler runs (a broker trusts a busy
    worker's heartbeats after two in one busy period), once per connection."""
    core = WorkerCore(SVC, version, WorkerSettings(show_busy_heartbeats=True))
    core.on_tick(T0)
    request = mdp.WorkerRequest(version, C1, (b"hello",))
    beat = Send(HEARTBEAT[version])
    assert core.on_frames(REQUEST[version], T0 + 1) == [beat, beat, Deliver(request)]
    assert core.next_deadline() == T0 + 1 + 2.5
    core.reply(C1, [b"HELLO"], T0 + 1.5)
    assert core.on_frames(REQUEST[version], T0 + 2) == [Deliver(request)]
    core.reply(C1, [b"HELLO"], T0 + 2.5)
    # the broker says DISCONNECT: a new connection, a new worker to the broker
    assert core.on_frames(DISCONNECT[version], T0 + 3) == [
        Reconnect("disconnect", 0.0),
        Connect(),
        Send(READY[version]),
    ]
    assert core.on_frames(REQUEST[version], T0 + 4) == [beat, beat, Deliver(request)]


def test_a_worker_silent_while_busy_never_claims_otherwise() -> None:
    core = connected(V02)
    request = mdp.WorkerRequest(V02, C1, (b"hello",))
    assert core.on_frames(REQUEST[V02], T0 + 1) == [Deliver(request)]


@VERSIONS
def test_worker_heartbeats_after_one_interval_without_sending(
    version: mdp.Version,
) -> None:
    """§2.6: HEARTBEAT when nothing was sent for an interval; re-armed on send."""
    core = connected(version)
    assert core.next_deadline() == T0 + 2.5
    assert core.on_tick(T0 + 2.4) == []
    assert core.on_tick(T0 + 2.6) == [Send(HEARTBEAT[version])]
    assert core.next_deadline() == T0 + 5.1


@VERSIONS
def test_worker_delivers_request_and_encodes_final_reply(version: mdp.Version) -> None:
    """§2.4/§3.3: REQUEST in, REPLY (0.1) or FINAL (0.2) out with the client address."""
    core = connected(version)
    request = mdp.WorkerRequest(version, C1, (b"hello",))
    assert core.on_frames(REQUEST[version], T0 + 1) == [Deliver(request)]
    assert core.busy
    assert core.reply(C1, [b"HELLO"], T0 + 1.5) == [Send(FINAL[version])]
    assert not core.busy


def test_worker_reply_rearms_heartbeat_timer() -> None:
    """§2.6: no HEARTBEAT in an interval in which other commands were sent."""
    core = connected()
    core.on_frames(REQUEST[V02], T0 + 1)
    core.reply(C1, [b"HELLO"], T0 + 2)
    assert core.on_tick(T0 + 2.6) == []
    assert core.on_tick(T0 + 4.5) == [Send(HEARTBEAT[V02])]


def test_worker_sends_partials_in_rfc18_and_stays_busy_until_final() -> None:
    """§3.3: PARTIAL 0x03 then FINAL 0x04; the request is open until FINAL."""
    core = connected()
    core.on_frames(REQUEST[V02], T0)
    partial = [b"MDPW02", b"\x03", C1, b"", b"part"]
    assert core.reply(C1, [b"part"], T0, final=False) == [Send(partial)]
    assert core.busy
    assert core.reply(C1, [b"HELLO"], T0) == [Send(FINAL[V02])]
    assert not core.busy


def test_worker_refuses_partial_in_mdp01_and_empty_reply() -> None:
    """§2.4: 0.1 has one REPLY with at least one body frame."""
    core = connected(V01)
    core.on_frames(REQUEST[V01], T0)
    with pytest.raises(ValueError, match="no partial replies"):
        core.reply(C1, [b"x"], T0, final=False)
    with pytest.raises(ValueError, match="at least one body frame"):
        core.reply(C1, [], T0)


def test_a_reply_frame_that_is_not_bytes_leaves_the_request_outstanding() -> None:
    """A reply that cannot go out must not count as sent: the worker would be idle
    to itself and busy to the broker, the client never answered."""
    core = connected()
    core.on_frames(REQUEST[V02], T0)
    with pytest.raises(TypeError, match="reply frame 1 is a str"):
        core.reply(C1, [b"ok", "HELLO"], T0)  # type: ignore[list-item]
    assert core.busy
    assert core.reply(C1, [b"HELLO"], T0) == [Send(FINAL[V02])]
    assert not core.busy


def test_worker_declares_broker_lost_after_liveness_intervals_of_silence() -> None:
    """§2.6/§2.7: broker deadline passed -> close socket, wait the reconnect delay."""
    core = connected()
    core.on_tick(T0 + 2.5)
    core.on_tick(T0 + 5.0)
    assert core.next_deadline() == T0 + 7.5
    assert core.on_tick(T0 + 7.5) == [Reconnect("broker_silent", 2.5)]
    assert core.state is WorkerState.WAITING
    assert core.next_deadline() == T0 + 10.0
    assert core.on_tick(T0 + 9.9) == []
    assert core.on_tick(T0 + 10.0) == [Connect(), Send(READY[V02])]


def test_worker_reconnect_delay_doubles_to_32_s_while_broker_stays_silent() -> None:
    """§2.6 raspy: reconnect delay 2.5 s growing to at most 32 s."""
    core = connected()
    now = T0
    delays = []
    for _ in range(7):
        now += 7.5
        [lost] = core.on_tick(now)
        assert isinstance(lost, Reconnect)
        delays.append(lost.after_s)
        now += lost.after_s
        assert core.on_tick(now) == [Connect(), Send(READY[V02])]
    assert delays == [2.5, 5.0, 10.0, 20.0, 32.0, 32.0, 32.0]


def test_worker_reconnect_delay_resets_once_broker_speaks() -> None:
    """§2.6 raspy: the delay grows only while the broker stays silent."""
    core = connected()
    assert core.on_tick(T0 + 7.5) == [Reconnect("broker_silent", 2.5)]
    core.on_tick(T0 + 10.0)
    assert core.on_frames(HEARTBEAT[V02], T0 + 11.0) == []
    assert core.on_tick(T0 + 18.5) == [Reconnect("broker_silent", 2.5)]


def test_worker_counts_any_broker_message_as_liveness() -> None:
    """§2.6: any valid message from the broker re-arms its deadline."""
    core = connected()
    core.on_frames(HEARTBEAT[V02], T0 + 7.0)
    core.on_tick(T0 + 7.5)
    assert core.state is WorkerState.CONNECTED
    assert core.on_tick(T0 + 14.5) == [Reconnect("broker_silent", 2.5)]


def test_a_request_read_after_the_brokers_silence_ran_out_is_not_delivered() -> None:
    """A worker that could not run for longer than the broker's silence (a board
    SIGSTOPped, a network cut and healed) finds old requests on its socket: the
    broker gave it up meanwhile and its client was told of no reply, so a relay
    switched now would surprise. It is the broker lost, as on_tick would have found
    had it run first: a new socket, and the old one's frames are dropped."""
    core = connected()
    assert core.on_frames(HEARTBEAT[V02], T0 + 1) == []
    assert core.on_frames(REQUEST[V02], T0 + 8.5) == [Reconnect("broker_silent", 2.5)]
    assert core.state is WorkerState.WAITING
    assert core.on_frames(REQUEST[V02], T0 + 8.6) == []


def test_a_request_read_after_five_seconds_without_a_word_of_ours_is_not_delivered() -> (
    None
):
    """The broker may give a worker up after two of its heartbeats are missing (5 s),
    counted from what the worker last sent: a board frozen 5.1 s after its last
    heartbeat, that heard the broker 2.4 s later, was within its own 7.5 s of broker
    silence, and ran a request the broker had put back in its queue (or dropped,
    its client gone). It connects again instead, at once, and drops the old socket's
    frames."""
    core = connected()
    assert core.on_tick(T0 + 2.5) == [Send(HEARTBEAT[V02])]
    assert core.on_frames(HEARTBEAT[V02], T0 + 4.9) == []
    assert core.on_frames(REQUEST[V02], T0 + 7.6) == [
        Reconnect("stalled", 0.0),
        Connect(),
        Send(READY[V02]),
    ]
    assert core.state is WorkerState.CONNECTED
    assert core.on_frames(HEARTBEAT[V02], T0 + 7.7) == []  # the new connection's
    assert core.sessions == 2


def test_the_silence_a_worker_takes_for_given_up_is_the_least_raspyd_allows() -> None:
    """Stated twice (the core does not read the config): kept equal."""
    assert BROKER_LEAST_SILENCE_S == MIN_BROKER_SILENCE_S


def test_a_fast_worker_is_stalled_only_after_the_least_silence_raspyd_allows() -> None:
    """A 0.2 s worker that sent nothing for 4.9 s is no stall: raspyd's broker waits
    5 s at least; a 30 s worker's stall is two of its intervals."""
    fast = WorkerCore(SVC, V02, WorkerSettings(heartbeat_interval_s=0.2))
    fast.on_tick(T0)
    for step in range(1, 10):  # the broker heard, our heartbeats never sent
        assert fast.on_frames(HEARTBEAT[V02], T0 + step * 0.5) == []
    request = mdp.WorkerRequest(V02, C1, (b"hello",))
    assert fast.on_frames(REQUEST[V02], T0 + 4.9) == [Deliver(request)]
    slow = WorkerCore(SVC, V02, WorkerSettings(heartbeat_interval_s=30.0))
    slow.on_tick(T0)
    assert slow.on_frames(HEARTBEAT[V02], T0 + 59.9) == []
    assert slow.on_frames(REQUEST[V02], T0 + 60.0)[0] == Reconnect("stalled", 0.0)


def test_a_heartbeat_a_whole_interval_late_starts_a_new_connection() -> None:
    """On the tick after such a stall, too (it may come before the socket is read):
    a late heartbeat would not bring back a worker the broker gave up, and would
    hide the stall from the read that follows. Less late, it is sent."""
    core = connected()
    assert core.on_tick(T0 + 4.9) == [Send(HEARTBEAT[V02])]
    assert core.on_frames(HEARTBEAT[V02], T0 + 5.0) == []
    assert core.on_tick(T0 + 9.9) == [
        Reconnect("stalled", 0.0),
        Connect(),
        Send(READY[V02]),
    ]


@VERSIONS
def test_worker_reconnects_at_once_on_disconnect(version: mdp.Version) -> None:
    """§2.4: after DISCONNECT the worker starts over on a new socket with READY."""
    core = connected(version)
    core.on_frames(HEARTBEAT[version], T0 + 1)
    assert core.on_frames(DISCONNECT[version], T0 + 2) == [
        Reconnect("disconnect", 0.0),
        Connect(),
        Send(READY[version]),
    ]
    assert core.state is WorkerState.CONNECTED


def test_a_session_counts_once_the_broker_speaks_on_a_new_connection() -> None:
    """raspy-poller resends its readings when a new session follows a loss: the
    broker took the READY once it says anything but DISCONNECT first."""
    core = connected()
    assert core.sessions == 0  # READY sent, nothing heard yet
    core.on_frames(HEARTBEAT[V02], T0 + 1)
    core.on_frames(HEARTBEAT[V02], T0 + 2)
    assert core.sessions == 1
    core.on_frames(DISCONNECT[V02], T0 + 3)  # reconnects at once
    assert core.sessions == 1
    core.on_frames(REQUEST[V02], T0 + 4)
    assert core.sessions == 2
    core.on_tick(T0 + 100)  # silent broker: lost, then a READY that is refused
    core.on_tick(T0 + 200)
    core.on_frames(DISCONNECT[V02], T0 + 200.1)
    assert core.sessions == 2


def test_heard_says_whether_the_broker_spoke_on_the_connection_under_way() -> None:
    """raspy-poller looks at why it cannot reach its hub while it is not heard."""
    core = connected()
    seen = [core.heard]  # READY sent, nothing heard yet
    core.on_frames(HEARTBEAT[V02], T0 + 1)
    seen.append(core.heard)
    core.on_tick(T0 + 100)  # silent broker: lost
    seen.append(core.heard)
    assert seen == [False, True, False]


def test_worker_waits_before_retrying_when_broker_refuses_ready() -> None:
    """§2.8: READY refused (e.g. mmi.*) is a DISCONNECT as the broker's first word."""
    core = connected()
    assert core.on_frames(DISCONNECT[V02], T0 + 0.1) == [Reconnect("disconnect", 2.5)]
    assert core.on_tick(T0 + 2.6) == [Connect(), Send(READY[V02])]
    assert core.on_frames(DISCONNECT[V02], T0 + 2.7) == [Reconnect("disconnect", 5.0)]


def test_worker_keeps_broker_while_busy_and_heartbeats_meanwhile() -> None:
    """§2.6: brokers heartbeat idle workers only; raspy's heartbeats while busy."""
    core = connected()
    core.on_frames(REQUEST[V02], T0 + 1)
    outputs = [out for step in range(1, 9) for out in core.on_tick(T0 + 1 + step * 2.5)]
    assert outputs == [Send(HEARTBEAT[V02])] * 8
    assert core.state is WorkerState.CONNECTED
    assert core.reply(C1, [b"HELLO"], T0 + 22) == [Send(FINAL[V02])]
    assert core.next_deadline() == T0 + 24.5
    assert core.on_tick(T0 + 24.5) == core.on_tick(T0 + 27) == [Send(HEARTBEAT[V02])]
    assert core.on_tick(T0 + 29.4) == []
    assert core.on_tick(T0 + 29.5) == [Reconnect("broker_silent", 2.5)]


def test_worker_drops_replies_to_requests_of_a_lost_connection() -> None:
    """§2.4: a new connection is a new worker; the broker forgot the old request."""
    core = connected()
    core.on_frames(HEARTBEAT[V02], T0)
    core.on_frames(REQUEST[V02], T0)
    core.on_frames(DISCONNECT[V02], T0)
    assert not core.busy
    assert core.reply(C1, [b"late"], T0) == [ReplyDropped(C1, "unknown_client")]
    core.on_tick(T0 + 7.5)
    assert core.reply(C1, [b"late"], T0 + 8) == [ReplyDropped(C1, "not_connected")]


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param([], "short", id="empty"),
        pytest.param([b"MDPX02", b"\x05"], "bad_header", id="bad-header"),
        pytest.param([b"MDPW02", b"\x01", SVC], "bad_command", id="ready-to-worker"),
        pytest.param([b"MDPW02", b"\x05", b"x"], "extra_frames", id="heartbeat-extra"),
        pytest.param(
            [b"MDPW02", b"\x02", C1, b"x", b"y"], "bad_envelope", id="no-delimiter"
        ),
        pytest.param([b"", b"MDPW01", b"\x04"], "bad_header", id="other-version"),
    ],
)
def test_worker_rejects_malformed_broker_message_without_counting_it_alive(
    frames: list[bytes], reason: str
) -> None:
    """§2.8: invalid input is dropped; only valid messages count as heartbeats."""
    core = connected()
    assert core.on_tick(T0 + 2.5) == core.on_tick(T0 + 5.0) == [Send(HEARTBEAT[V02])]
    [rejected] = core.on_frames(frames, T0 + 7.0)
    assert isinstance(rejected, Rejected)
    assert (rejected.reason, rejected.frames) == (reason, len(frames))
    assert core.on_tick(T0 + 7.5) == [Reconnect("broker_silent", 2.5)]


def test_worker_rejects_messages_over_frame_limits() -> None:
    """docs/architecture.md: every decoder has limits."""
    core = WorkerCore(SVC, V02, WorkerSettings(limits=FrameLimits(max_frames=4)))
    core.on_tick(T0)
    frames = [b"MDPW02", b"\x02", C1, b"", b"a", b"b"]
    assert core.on_frames(frames, T0) == [Rejected("too_many_frames", "6 > 4", 6)]


@VERSIONS
def test_worker_close_sends_disconnect_only_when_connected(
    version: mdp.Version,
) -> None:
    """§2.4: the worker may send DISCONNECT at any time; then nothing more."""
    core = connected(version)
    assert core.close() == [Send(DISCONNECT[version])]
    assert core.next_deadline() is None
    assert core.on_tick(T0 + 100) == []
    assert core.on_frames(REQUEST[version], T0 + 100) == []
    waiting = WorkerCore(SVC, version)
    assert waiting.close() == []


def test_worker_settings_refuse_nonsense_timers() -> None:
    """§2.6: interval > 0, liveness >= 1, 0 < initial delay <= max delay."""
    with pytest.raises(ValueError, match="heartbeat"):
        WorkerSettings(heartbeat_interval_s=0)
    with pytest.raises(ValueError, match="reconnect"):
        WorkerSettings(reconnect_initial_s=40, reconnect_max_s=32)
    with pytest.raises(ValueError, match="service"):
        WorkerCore(b"")


def test_a_service_name_the_broker_refuses_is_refused_at_once() -> None:
    """The broker refuses a READY for a name over 255 bytes or under mmi.: such a
    worker retried for ever, where it can be told at its construction."""
    assert WorkerCore(b"s" * 255).service == b"s" * 255
    with pytest.raises(ValueError, match="256 bytes, over the 255 a broker takes"):
        WorkerCore(b"s" * 256)
    with pytest.raises(ValueError, match="mmi"):
        WorkerCore(b"mmi.mine")


_frames = st.lists(st.binary(max_size=8), max_size=7)
_valid = st.sampled_from([*REQUEST.values(), *HEARTBEAT.values(), *DISCONNECT.values()])
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("frames"), st.one_of(_frames, _valid), st.floats(0, 5)),
        st.tuples(st.just("tick"), st.just([]), st.floats(0, 10)),
        st.tuples(st.just("reply"), st.just([]), st.floats(0, 2)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(version=st.sampled_from([V01, V02, VMJ]), steps=_steps)
def test_worker_core_survives_any_sequence_and_sends_only_while_connected(
    version: mdp.Version, steps: list[tuple[str, list[bytes], float]]
) -> None:
    """§2.7/§2.8: any input is decoded or rejected; no Send without a live socket."""
    core = WorkerCore(SVC, version)
    now = T0
    connected_now = False
    for kind, frames, advance in steps:
        now += advance
        outputs: list[WorkerOutput]
        if kind == "frames":
            outputs = core.on_frames(frames, now)
        elif kind == "tick":
            outputs = core.on_tick(now)
        else:
            outputs = core.reply(C1, [b"r"], now)
        for out in outputs:
            if isinstance(out, Connect):
                connected_now = True
            elif isinstance(out, Reconnect):
                connected_now = False
            elif isinstance(out, Send | Deliver):
                assert connected_now
        assert connected_now == (core.state is WorkerState.CONNECTED)
        deadline = core.next_deadline()
        assert deadline is not None
        if deadline > now:
            assert core.on_tick(now) == []  # no work before the deadline it names
