"""The range of every numeric setting (BOUNDS), and the bounds that another key of
the same section sets (pure; types and >= 0 were checked by raspy.config)."""

from __future__ import annotations

from typing import Any, Final

from raspy.errors import shown
from raspy.records import frozen

# the longest time a setting may ask for (as raspy's --ttl): past ~9.2e9 s a thread's
# wait overflows, and nothing in a hub needs a timer of more than a year
YEAR_S: Final = 365 * 24 * 3600


# raspy's MDP workers (raspy-poller, raspy.client.mdp.Worker) and zguide's send a
# HEARTBEAT every 2.5 s and take 3 x 2.5 s without a word from the broker for a lost
# broker, whatever raspyd's [broker] says: the broker heartbeats at least twice in
# that silence, and gives a worker up only after two of its heartbeats are missing
WORKER_HEARTBEAT_S: Final = 2.5
MAX_BROKER_HEARTBEAT_S: Final = 3 * WORKER_HEARTBEAT_S / 2
MIN_BROKER_SILENCE_S: Final = 2 * WORKER_HEARTBEAT_S

# bytes of one frame, message or stored value at most: a GiB is more than a Pi holds
# at once (past 2**63 ZMQ_MAXMSGSIZE, a C int64, failed the edge at its start)
MAX_MESSAGE_BYTES: Final = 1024**3
# a memory budget in bytes at most: past 16 GiB (the largest Pi's memory) it bounds
# nothing
MAX_BUDGET_BYTES: Final = 16 * 1024**3


@frozen
class Bound:
    """The values a numeric setting takes: `least`..`most`, and 0 too if `off` (0 then
    means off or never, as the key's comment says). Every one has a `most`: a setting
    without one took 10**30 and failed deep inside (a socket option, msgpack, a
    thread's wait), at the start or later."""

    least: float
    most: float
    off: bool = False

    def allows(self, value: float) -> bool:
        if self.off and value == 0:
            return True
        return self.least <= value <= self.most

    def expected(self, key: str) -> str:
        seconds = key.endswith("_s") and not key.endswith("_per_s")
        unit = "seconds in " if seconds else ""
        span = f"{unit}{_number(self.least)}..{_number(self.most)}"
        return f"0 (off) or {span}" if self.off else span


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# Each bound keeps a working hub (the type and >= 0 are checked before): 0, a tiny or
# a huge value here used to spin a loop, refuse every message, fail a part at its
# start (a C int in zmq, LMDB's map, a thread's wait) or drop every request.
BOUNDS: Final[dict[str, Bound]] = {
    # ZMQ_LINGER is a C int; a stop waits this long for a peer that is gone
    "network.linger_ms": Bound(0, 60_000),
    "network.port_base": Bound(1, 65532),  # and the Clone server's N+1..N+3
    # tiny: heartbeats in a loop; past MAX_BROKER_HEARTBEAT_S raspy's workers took
    # the broker for lost between two of its heartbeats and reconnected for ever
    "broker.heartbeat_interval_s": Bound(0.1, MAX_BROKER_HEARTBEAT_S),
    # a dead worker is given up after interval x liveness: 1000 is an hour at most
    "broker.heartbeat_liveness": Bound(1, 1000),
    "broker.busy_timeout_s": Bound(1, YEAR_S),  # 0: the broker did not start
    "broker.request_ttl_s": Bound(1, YEAR_S),  # 0: the broker did not start
    # MDP's own frames (a worker's REPLY has 6) and a few body frames; a stored
    # Titanic record takes up to 5 bytes a frame besides its bodies
    "broker.max_frames": Bound(16, 1024),
    # ZMQ_MAXMSGSIZE: 0 made libzmq drop every connection that sent a byte
    "broker.max_frame_bytes": Bound(1024, MAX_MESSAGE_BYTES),
    "broker.max_message_bytes": Bound(1024, MAX_MESSAGE_BYTES),
    # MB: LMDB's map is mapped into memory; 2**62 MB overflows size_t
    "store.map_size_max_mb": Bound(1, 1024 * 1024),
    # 0: every write failed; room for a Clone value's record and a Titanic one
    "store.max_value_bytes": Bound(8192, MAX_MESSAGE_BYTES),
    "store.coalesce_interval_s": Bound(0.1, 3600, off=True),
    # each start skips what is left of a block: 2**63 ran the sequence numbers past
    # 2**64 in two starts, and every Clone write failed for good
    "store.seq_block": Bound(1, 1_000_000),
    # 0: every request refused; and under store.max_value_bytes (config_sizes),
    # checked while Titanic is on
    "titanic.max_body_bytes": Bound(1, MAX_MESSAGE_BYTES),
    # tiny: a request was purged before its reply could be fetched
    "titanic.retention_s": Bound(1, YEAR_S, off=True),
    "titanic.dispatch_timeout_s": Bound(0.1, YEAR_S),  # 0: every attempt timed out
    "titanic.retry_initial_s": Bound(0.1, YEAR_S),  # 0: a retry each millisecond
    "titanic.retry_max_s": Bound(0.1, YEAR_S),
    # 0: every reply dropped, retried for ever
    "titanic.max_reply_bytes": Bound(1, MAX_MESSAGE_BYTES),
    "titanic.dispatch_window": Bound(1, 10_000),  # 0 was taken as 1
    # 0: every request through the service workers
    "titanic.handler_capacity": Bound(0, 1_000_000),
    # a thread each: 2**62 never finished starting
    "titanic.service_workers": Bound(1, 64),
    # 2 * this is the snapshot socket's SNDHWM (a C int); a chunk is read at once
    "clone.snapshot_chunk": Bound(1, 10_000),
    "devices.onewire_poll_interval_s": Bound(0.1, 86400),  # as a device's
    # huge: the clock's thread failed at its first wait
    "devices.clock_health_interval_s": Bound(0.1, 86400, off=True),
    "devices.offline_after_s": Bound(1, YEAR_S, off=True),
    "supervisor.restart_initial_s": Bound(0.01, YEAR_S),
    "supervisor.restart_max_s": Bound(0.01, YEAR_S),
    "supervisor.stable_s": Bound(0, YEAR_S),
    "supervisor.restart_window_s": Bound(1, YEAR_S),
    "supervisor.max_restarts": Bound(1, 10_000),
    # handlers wait up to ~10 s on other parts: a shorter bound reads a healthy hub
    # as hung, and ends it (tests set theirs on the RestartPolicy, not here)
    "supervisor.hung_after_s": Bound(15, 86400),
    "supervisor.start_hung_after_s": Bound(15, 86400),
    "stats.publish_interval_s": Bound(0.1, 86400, off=True),  # tiny: writes in a loop
    "history.flush_interval_s": Bound(1, 3600),
    "http.session_s": Bound(60, YEAR_S),  # tiny: every login at once expired
    # a thread each while a request is under way
    "http_client.max_concurrent": Bound(1, 16),
    "core.latitude": Bound(-90, 90),
    "core.longitude": Bound(-180, 180),
    # each start of the last minute is kept; past 2**64 the core's reply to
    # `config` (msgpack) failed, and the core with it at every start
    "core.max_runs_per_minute": Bound(1, 60_000),
    "mqtt.port": Bound(1, 65535),
    "mqtt.buffer_max_messages": Bound(1, 1_000_000),  # each a topic and a payload
    "mqtt.cleanup_after_s": Bound(0, 3600),
    # 0: every request refused; each holds a few KiB besides its body
    "limits.titanic_pending_requests": Bound(1, 1_000_000),
    "limits.titanic_pending_bytes": Bound(1024, MAX_BUDGET_BYTES),
    # 0: the Clone server failed
    "limits.clone_subscriber_queue_bytes": Bound(1, MAX_MESSAGE_BYTES),
    # 0: every snapshot was cut off at its first turn
    "limits.snapshot_max_s": Bound(1, YEAR_S),
    "limits.snapshot_stall_s": Bound(0.1, YEAR_S),
    # the broker's budgets and caps must let at least one request or worker in
    "limits.broker_queue_bytes_per_service": Bound(1, MAX_BUDGET_BYTES),
    "limits.broker_queue_bytes_total": Bound(1, MAX_BUDGET_BYTES),
    "limits.broker_queue_requests_per_service": Bound(1, 10_000_000),
    "limits.max_services": Bound(1, 1_000_000),
    "limits.max_workers": Bound(1, 1_000_000),
    # 0: no budget; past 10000 lines a second it limits nothing either
    "limits.log_events_per_s": Bound(1, 10_000, off=True),
    # raspy-poller's (raspy.config_link, which checks them against each other):
    # tiny, heartbeats or looks in a loop; huge, a lost hub never noticed
    "link.heartbeat_interval_s": Bound(0.1, 60),
    "link.heartbeat_liveness": Bound(1, 1000),
    "link.reconnect_initial_s": Bound(0.1, 3600),
    "link.reconnect_max_s": Bound(0.1, 3600),
    "link.hub_check_every_s": Bound(1, 86400),
    "link.hub_check_timeout_s": Bound(0.1, 60),
    # as the hub's own [broker] keys
    "link.hub_heartbeat_interval_s": Bound(0.1, MAX_BROKER_HEARTBEAT_S),
    "link.hub_heartbeat_liveness": Bound(1, 1000),
}


def bound_problems(sections: dict[str, Any], source: str) -> list[str]:
    """Every numeric setting outside its Bound, with the range and the value."""
    problems = []
    for key, bound in BOUNDS.items():
        name, _, field = key.partition(".")
        section = sections.get(name)
        if section is None:
            continue
        value = getattr(section, field)
        if not bound.allows(value):
            problems.append(
                f"{source}: {key}: expected {bound.expected(field)}, got {shown(value)}"
            )
    return problems


def pair_problems(sections: dict[str, Any], source: str) -> list[str]:
    """Bounds that another key of the same section sets."""
    problems = []
    store = sections.get("store")
    if (
        store is not None
        and BOUNDS["store.map_size_max_mb"].allows(store.map_size_max_mb)
        and not 1 <= store.map_size_initial_mb <= store.map_size_max_mb
    ):
        problems.append(
            f"{source}: store.map_size_initial_mb: expected 1..map_size_max_mb "
            f"({store.map_size_max_mb}), got {shown(store.map_size_initial_mb)}"
        )
    broker = sections.get("broker")
    if (
        broker is not None
        and BOUNDS["broker.heartbeat_interval_s"].allows(broker.heartbeat_interval_s)
        # (divided, not multiplied: a float times an int of 400 digits overflows)
        and broker.heartbeat_liveness
        < MIN_BROKER_SILENCE_S / broker.heartbeat_interval_s
    ):
        # the broker gave an idle raspy worker up between two of its heartbeats
        problems.append(
            f"{source}: broker.heartbeat_interval_s x heartbeat_liveness: expected "
            f">= {_number(MIN_BROKER_SILENCE_S)} s (a worker heartbeats every "
            f"{WORKER_HEARTBEAT_S} s), got {broker.heartbeat_interval_s} x "
            f"{broker.heartbeat_liveness}"
        )
    titanic = sections.get("titanic")
    if (
        titanic is not None
        and BOUNDS["titanic.retry_initial_s"].allows(titanic.retry_initial_s)
        and titanic.retry_max_s < titanic.retry_initial_s
    ):
        problems.append(
            f"{source}: titanic.retry_max_s: expected >= retry_initial_s "
            f"({titanic.retry_initial_s}), got {titanic.retry_max_s}"
        )
    return problems
