"""BrokerCore's MMI (docs/protocols.md §4), bounds, lifecycle, settings and stats."""

from __future__ import annotations

import gc
import json
import re
import tracemalloc

import pytest
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
)

from raspy.config import BrokerConfig, LimitsConfig
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
from raspy.protocol import mmi
from raspy.protocol.frames import FrameLimits

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
    """docs/protocols.md §4 table: 200/404/501 in all three dialects, one body frame."""
    core.on_frames(W1, ready(V01), T0)
    assert core.on_frames(C1, frames, T0) == [Send(C1, expected)]


def test_mmi_service_counts_busy_and_local_workers_but_not_expired_ones(
    core: BrokerCore,
) -> None:
    """docs/protocols.md §4 raspy: registered, not expired workers, idle or busy."""
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


@pytest.mark.parametrize("name", [b"mmi.services", b"mmi.workers"])
def test_a_flood_of_new_mmi_patterns_leaves_no_memory_behind(
    core: BrokerCore, name: bytes
) -> None:
    """Bounded memory under a flood: fnmatchcase kept every pattern it compiled (32,768
    of them, ~4 kB each at 255 bytes), so any peer could make the broker hold ~120 MB
    for good by asking with patterns never seen before. re's own cache (512 patterns,
    bounded) is emptied before each count: it filled with the first 512 patterns,
    which took a warm-up of 600 more compiles, under tracemalloc, than the proof
    needs (the test's longest part, thin at load)."""
    core.on_frames(W1, ready(V02), T0)

    def ask(count: int) -> None:
        for index in range(count):
            pattern = b"%s[%d]*" % (name, index)  # new to this test run
            core.on_frames(C1, request(V02, pattern, service=name), T0)

    def held() -> int:
        """Bytes allocated under the MMI code and still held (not other threads'),
        re's bounded cache left out."""
        re.purge()
        gc.collect()
        mine = tracemalloc.Filter(True, mmi.__file__, all_frames=True)
        traces = tracemalloc.take_snapshot().filter_traces([mine])
        return sum(stat.size for stat in traces.statistics("filename"))

    tracemalloc.start(8)  # deep enough to see mmi.py under re's compiler
    try:
        before = held()
        ask(1000)
        after = held()
    finally:
        tracemalloc.stop()
    assert after - before < 100_000  # 0.8 MB before the fix


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
    """docs/protocols.md §2.5 step 8 raspy: drop after request_ttl_s (30 s), counted."""
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
    """docs/protocols.md §2.5 step 8: past its TTL, a queued copy is only a duplicate."""
    core.on_frames(C1, request(V01, b"old"), T0)
    core.on_frames(C2, request(V01, b"new"), T0 + 20)
    assert core.on_frames(W1, ready(V01), T0 + 31) == [
        WorkerRegistered(SVC, W1, V01),
        ServiceAvailability(SVC, True),
        RequestDropped(SVC, C1, "expired"),
        Send(W1, [b"", b"MDPW01", b"\x02", C2, b"", b"new"]),
    ]


def test_a_v01_reply_over_the_limits_is_dropped_and_the_worker_freed() -> None:
    """docs/protocols.md §3.6: on overflow the request fails, the client gets nothing."""
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


def test_settings_come_from_the_broker_config_and_the_limits() -> None:
    """raspy.config.BrokerConfig and the broker's part of LimitsConfig (issue 18) map
    to BrokerSettings; the queue count comes from [limits] only."""
    config = BrokerConfig(
        heartbeat_interval_s=1.0,
        heartbeat_liveness=5,
        busy_timeout_s=60.0,
        request_ttl_s=10.0,
        max_frames=9,
        max_frame_bytes=100,
        max_message_bytes=1000,
        accept_majortomo=False,
    )
    limits = LimitsConfig(
        broker_queue_bytes_per_service=1000,
        broker_queue_bytes_total=2000,
        broker_queue_requests_per_service=11,
        max_services=12,
        max_workers=13,
    )
    assert BrokerSettings.from_config(config, limits) == BrokerSettings(
        heartbeat_interval_s=1.0,
        heartbeat_liveness=5,
        busy_timeout_s=60.0,
        request_ttl_s=10.0,
        max_queue_per_service=11,
        queue_bytes_per_service=1000,
        queue_bytes_total=2000,
        max_services=12,
        max_workers=13,
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
        {"queue_bytes_per_service": 0},
        {"queue_bytes_total": 0},
        {"max_services": 0},
        {"max_workers": 0},
    ],
)
def test_settings_refuse_values_that_would_stop_the_timers(
    field: dict[str, float],
) -> None:
    """docs/style.md §4: misuse by a caller raises ValueError."""
    with pytest.raises(ValueError, match=next(iter(field))):
        BrokerSettings(**field)  # type: ignore[arg-type]  # one field at a time


def test_majortomo_dialect_can_be_refused() -> None:
    """docs/protocols.md §3.5: the majortomo dialect only if enabled."""
    core = BrokerCore(BrokerSettings(accept_majortomo=False))
    outputs = core.on_frames(W1, [b"", b"MDPW02", b"\x01", SVC], T0)
    assert [type(out) for out in outputs] == [Rejected]


def test_stats_count_requests_replies_and_workers(core: BrokerCore) -> None:
    """Issue 3: what happens is counted."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"q"), T0)
    core.on_frames(W1, reply(V02, C1, b"p", final=False), T0)
    core.on_frames(W1, heartbeat(V02), T0)
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
        "unreachable_workers": 0,
        "heartbeats_sent": 0,
        "heartbeats_received": 1,
        "workers": 1,
        "services": 1,
        "queued": 0,
        "queued_bytes": 0,
        "rejected.bad_header": 1,
    }
