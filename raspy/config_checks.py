"""Checks across the keys of a config section (pure), once each key has its type:
ranges, settings that go together, values that must name something known."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from raspy.errors import MalformedMessage, shown
from raspy.history.tiers import parse_tiers
from raspy.mqtt import topics
from raspy.protocol.clone import MAX_FRAME_BYTES, MAX_PROPS_BYTES

if TYPE_CHECKING:
    from raspy.config_messaging import CloneConfig, StoreConfig
    from raspy.config_parts import (
        CoreConfig,
        HistoryConfig,
        HttpConfig,
        MqttConfig,
        SupervisorConfig,
    )

_PIN_FACTORIES: Final = ("default", "mock")
# half the silence after which a Clone client starts over (raspy's and zguide's
# 5 s, docs/protocols.md §6.5): a HUGZ may wait behind a full subscriber as long
MAX_HUGZ_S: Final = 2.5
MIN_HUGZ_S: Final = 0.01  # tiny: HUGZ in a loop (74% of a core)
# what ZeroMQ takes in tcp://ADDRESS:PORT: *, an IPv4 or IPv6 literal, a name
_BIND: Final = re.compile(r"\*|[A-Za-z0-9_.:%-]{1,253}")


# the word size of this Python: 32 on Raspberry Pi OS armhf, whose processes have 2 GiB
# of address space (its kernels split 2G/2G), less the interpreter, its libraries and
# the threads' stacks, and LMDB maps the whole store as one piece of it
PLATFORM_BITS: Final = 32 if sys.maxsize < 2**32 else 64
# MB: three quarters of that space for the map, a quarter left for the rest; past it a
# growing map failed to find room and every write was "store full" below its bound
MAX_MAP_MB_32_BIT: Final = 1536


def section_problems(
    sections: dict[str, Any], source: str, *, word_bits: int = PLATFORM_BITS
) -> list[str]:
    """Checks across the keys of one section (types were checked by _build);
    `word_bits`: the platform's, whose address space bounds the store's map."""
    problems: list[str] = []
    network = sections.get("network")
    if network is not None and network.bind and not _BIND.fullmatch(network.bind):
        problems.append(
            f"{source}: network.bind: expected an IP address, a host or interface "
            f"name, or *, got {shown(network.bind)}"
        )
    clone_section = sections.get("clone")
    if (
        clone_section is not None
        and not MIN_HUGZ_S <= clone_section.hugz_interval_s <= MAX_HUGZ_S
    ):
        # 0 would have the server send HUGZ without a pause; a subtree client hears
        # nothing else, and past the bound raspy's clients (and zguide's) took the
        # hub for dead every 5 s and started over (docs/protocols.md §6.5)
        problems.append(
            f"{source}: clone.hugz_interval_s: expected seconds in {MIN_HUGZ_S}.."
            f"{MAX_HUGZ_S} (clients take 5 s of silence for a dead hub), got "
            f"{clone_section.hugz_interval_s}"
        )
    if clone_section is not None:
        problems.extend(_key_size_problems(source, clone_section, sections))
    devices = sections.get("devices")
    if devices is not None and devices.pin_factory not in _PIN_FACTORIES:
        problems.append(
            f"{source}: devices.pin_factory: expected one of "
            f"{', '.join(_PIN_FACTORIES)}, got {shown(devices.pin_factory)}"
        )
    store = sections.get("store")
    if store is not None:
        problems.extend(_store_problems(store, source))
        problems.extend(_map_size_problems(store, source, word_bits))
    security = sections.get("security")
    if security is not None and (
        bool(security.curve_secret_key_file) != bool(security.authorized_keys_dir)
    ):
        problems.append(
            f"{source}: security.curve_secret_key_file and "
            "security.authorized_keys_dir: expected both set or both empty"
        )
    core = sections.get("core")
    if core is not None:
        problems.extend(_core_problems(core, source))
    problems += _titanic_problems(source, sections)
    problems += _clone_value_problems(source, sections)
    problems += _supervisor_problems(source, sections.get("supervisor"))
    problems += _mqtt_problems(source, sections.get("mqtt"))
    problems += _history_problems(source, sections.get("history"))
    problems += _http_problems(source, sections.get("http"))
    problems += bound_problems(sections, source)
    problems += _pair_problems(sections, source)
    return problems


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


@dataclass(frozen=True, slots=True)
class Bound:
    """The values a numeric setting takes: `least`..`most` (None: no upper bound), and
    0 too if `off` (0 then means off or never, as the key's comment says)."""

    least: float
    most: float | None = None
    off: bool = False

    def allows(self, value: float) -> bool:
        if self.off and value == 0:
            return True
        return self.least <= value and (self.most is None or value <= self.most)

    def expected(self, key: str) -> str:
        unit = "seconds in " if key.endswith("_s") else ""
        if self.most is None:
            span = f">= {_number(self.least)}"
        else:
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
    "broker.heartbeat_liveness": Bound(1),
    "broker.busy_timeout_s": Bound(1, YEAR_S),  # 0: the broker did not start
    "broker.request_ttl_s": Bound(1, YEAR_S),  # 0: the broker did not start
    # MDP's own frames (a worker's REPLY has 6) and a few body frames; a stored
    # Titanic record takes up to 5 bytes a frame besides its bodies
    "broker.max_frames": Bound(16, 1024),
    # ZMQ_MAXMSGSIZE: 0 made libzmq drop every connection that sent a byte
    "broker.max_frame_bytes": Bound(1024),
    "broker.max_message_bytes": Bound(1024),
    # MB: LMDB's map is mapped into memory; 2**62 MB overflows size_t
    "store.map_size_max_mb": Bound(1, 1024 * 1024),
    # 0: every write failed; room for a Clone value's record and a Titanic one
    "store.max_value_bytes": Bound(8192),
    "store.coalesce_interval_s": Bound(0.1, 3600, off=True),
    # each start skips what is left of a block: 2**63 ran the sequence numbers past
    # 2**64 in two starts, and every Clone write failed for good
    "store.seq_block": Bound(1, 1_000_000),
    "titanic.max_body_bytes": Bound(1),  # 0: every request refused
    # tiny: a request was purged before its reply could be fetched
    "titanic.retention_s": Bound(1, YEAR_S, off=True),
    "titanic.dispatch_timeout_s": Bound(0.1, YEAR_S),  # 0: every attempt timed out
    "titanic.retry_initial_s": Bound(0.1, YEAR_S),  # 0: a retry each millisecond
    "titanic.retry_max_s": Bound(0.1, YEAR_S),
    "titanic.max_reply_bytes": Bound(1),  # 0: every reply dropped, retried for ever
    "titanic.dispatch_window": Bound(1),  # 0 was taken as 1
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
    "supervisor.max_restarts": Bound(1),
    "stats.publish_interval_s": Bound(0.1, 86400, off=True),  # tiny: writes in a loop
    "history.flush_interval_s": Bound(1, 3600),
    "http.session_s": Bound(60, YEAR_S),  # tiny: every login at once expired
    # a thread each while a request is under way
    "http_client.max_concurrent": Bound(1, 16),
    "core.latitude": Bound(-90, 90),
    "core.longitude": Bound(-180, 180),
    "core.max_runs_per_minute": Bound(1),
    "mqtt.port": Bound(1, 65535),
    "mqtt.buffer_max_messages": Bound(1),
    "mqtt.cleanup_after_s": Bound(0, 3600),
    "limits.titanic_pending_requests": Bound(1),  # 0: every request refused
    "limits.titanic_pending_bytes": Bound(1024),  # 0: every request refused
    "limits.clone_subscriber_queue_bytes": Bound(1),  # 0: the Clone server failed
    # 0: every snapshot was cut off at its first turn
    "limits.snapshot_max_s": Bound(1, YEAR_S),
    # the broker's budgets and caps must let at least one request or worker in
    "limits.broker_queue_bytes_per_service": Bound(1),
    "limits.broker_queue_bytes_total": Bound(1),
    "limits.broker_queue_requests_per_service": Bound(1),
    "limits.max_services": Bound(1),
    "limits.max_workers": Bound(1),
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
                f"{source}: {key}: expected {bound.expected(field)}, got {value}"
            )
    return problems


def _pair_problems(sections: dict[str, Any], source: str) -> list[str]:
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
            f"({store.map_size_max_mb}), got {store.map_size_initial_mb}"
        )
    broker = sections.get("broker")
    if (
        broker is not None
        and BOUNDS["broker.heartbeat_interval_s"].allows(broker.heartbeat_interval_s)
        and broker.heartbeat_interval_s * broker.heartbeat_liveness
        < MIN_BROKER_SILENCE_S
    ):
        # the broker gave an idle raspy worker up between two of its heartbeats
        problems.append(
            f"{source}: broker.heartbeat_interval_s x heartbeat_liveness: expected "
            f">= {_number(MIN_BROKER_SILENCE_S)} s (a worker heartbeats every "
            f"{WORKER_HEARTBEAT_S} s), got {broker.heartbeat_interval_s} x "
            f"{broker.heartbeat_liveness}"
        )
    titanic = sections.get("titanic")
    if titanic is not None and titanic.retry_max_s < titanic.retry_initial_s:
        problems.append(
            f"{source}: titanic.retry_max_s: expected >= retry_initial_s "
            f"({titanic.retry_initial_s}), got {titanic.retry_max_s}"
        )
    return problems


def _effective(sections: dict[str, Any], name: str) -> Any:
    """The section as the config will have it: the file's, else its defaults."""
    from raspy.config import section_defaults  # raspy.config imports this module

    found = sections.get(name)
    return section_defaults(name) if found is None else found


# the record of a Titanic request or reply, or of a Clone value, around its contents:
# the msgpack map and its field names, as storage.tables encodes them
_RECORD_HEAD_BYTES: Final = 64

# LMDB's key limit (storage.tables.MAX_KEY_BYTES): a Clone key is stored as it is; a
# history row's key is 9 bytes (storage.tables: b"d", step, slot) before it
STORE_KEY_BYTES: Final = 511
HISTORY_ROW_KEY_HEAD: Final = 9


def _key_size_problems(
    source: str, clone_section: CloneConfig, sections: dict[str, Any]
) -> list[str]:
    """A key the store cannot hold made every commit that carried it fail (a whole
    batch of readings, or every history write), and 0 refused every key."""
    size = clone_section.max_key_bytes
    if _effective(sections, "history").enabled:
        most, why = STORE_KEY_BYTES - HISTORY_ROW_KEY_HEAD, " (history on)"
    else:
        most, why = STORE_KEY_BYTES, ""
    if not 1 <= size <= most:
        return [f"{source}: clone.max_key_bytes: expected 1..{most}{why}, got {size}"]
    return []


def _titanic_problems(source: str, sections: dict[str, Any]) -> list[str]:
    """Titanic's request and reply are each stored as one value: a body the store
    refuses would be answered 500 ("retry later") for ever, or a reply run again and
    again, never stored."""
    if not {"titanic", "store", "broker"} & sections.keys():
        return []
    from raspy.cores.titanic_dispatch import FRAME_HEAD_BYTES

    titanic = _effective(sections, "titanic")
    if not titanic.enabled:
        return []
    limit = _effective(sections, "store").max_value_bytes
    frames = _effective(sections, "broker").max_frames
    if not (
        BOUNDS["store.max_value_bytes"].allows(limit)
        and BOUNDS["broker.max_frames"].allows(frames)
    ):
        return []  # named by bound_problems; "at most" would be below 0 here
    # the record around the frames: its msgpack map, and a header per frame, as
    # storage.tables encodes a Titanic request
    most = limit - _RECORD_HEAD_BYTES - FRAME_HEAD_BYTES * frames
    return [
        f"{source}: titanic.{name}: expected at most {most} (store.max_value_bytes "
        f"less the record around {frames} frames), got {getattr(titanic, name)}"
        for name in ("max_body_bytes", "max_reply_bytes")
        if getattr(titanic, name) > most
    ]


def _clone_value_problems(source: str, sections: dict[str, Any]) -> list[str]:
    """A Clone value is stored with its properties as one kv record: a value the
    server takes but the store refuses failed its whole group commit, every other
    update of that loop turn with it (readings lost for good), and 0 refused all."""
    if not {"clone", "store"} & sections.keys():
        return []
    clone = _effective(sections, "clone")
    if not clone.enabled:
        return []
    limit = _effective(sections, "store").max_value_bytes
    if not BOUNDS["store.max_value_bytes"].allows(limit):
        return []  # named by bound_problems; the range would end below 0 here
    # the record around the value: its map, sequence and ttl, and the properties,
    # as storage.tables encodes it; as msgpack they take up to 1 byte in 33 more
    # than on the wire (32-byte names and values: 2 + 2 bytes of str8 headers
    # where the wire has = and a newline)
    stored = limit - _RECORD_HEAD_BYTES - MAX_PROPS_BYTES - MAX_PROPS_BYTES // 32
    # and the server's sockets drop a longer frame: a value over it, taken in the
    # config, never arrived from a client, which resent it until it gave up
    most, why = min(
        (stored, "store.max_value_bytes less the record around it"),
        (MAX_FRAME_BYTES, "the largest frame the Clone server's sockets take"),
    )
    if not 1 <= clone.max_value_bytes <= most:
        return [
            f"{source}: clone.max_value_bytes: expected 1..{most} ({why}), "
            f"got {clone.max_value_bytes}"
        ]
    return []


def _history_problems(source: str, section: HistoryConfig | None) -> list[str]:
    if section is None:
        return []
    problems = []
    tiers: tuple[object, ...] = section.tiers  # TOML: any item type
    if not all(isinstance(spec, str) for spec in tiers):
        problems.append(f"{source}: history.tiers: expected a list of strings")
    else:
        try:
            parse_tiers(section.tiers)
        except ValueError as exc:
            problems.append(f"{source}: history.tiers: {exc}")
    return problems


def _mqtt_problems(source: str, section: MqttConfig | None) -> list[str]:
    if section is None:
        return []
    where = f"{source}: mqtt"
    problems = []
    if section.qos not in (0, 1, 2):
        problems.append(f"{where}.qos: expected 0, 1 or 2, got {section.qos}")
    if section.password and section.password_file:
        problems.append(f"{where}.password and password_file: expected one of them")
    if bool(section.tls_cert_file) != bool(section.tls_key_file):
        # the MQTT library ignores a key without a certificate (and the reverse
        # fails at every connect): a client certificate needs both
        problems.append(
            f"{where}.tls_cert_file and tls_key_file: expected both set or both empty"
        )
    for key in ("base_topic", "discovery_prefix"):
        value = getattr(section, key)
        if not value and key == "discovery_prefix":
            continue  # empty: no Home Assistant discovery
        try:
            topics.check_base(value)
        except MalformedMessage:
            problems.append(
                f"{where}.{key}: expected topic levels without +, # or empty ones, "
                f"got {shown(value)}"
            )
    subtrees: tuple[object, ...] = section.subtrees  # TOML: any item type
    for glob in subtrees:
        if not isinstance(glob, str) or not glob.startswith("/"):
            problems.append(
                f"{where}.subtrees: expected globs starting with /, got {shown(glob)}"
            )
    devices: tuple[object, ...] = section.command_devices
    for glob in devices:
        if not isinstance(glob, str) or not glob:
            problems.append(
                f"{where}.command_devices: expected globs, got {shown(glob)}"
            )
    return problems


def _http_problems(source: str, section: HttpConfig | None) -> list[str]:
    """[http] alone; "beyond loopback only with a login" needs the data dir's files,
    so raspy.actors.web.check_config says it before raspyd starts."""
    if section is None:
        return []
    problems = []
    if not section.bind:
        problems.append(f'{source}: http.bind: expected an address, got ""')
    return problems


def _supervisor_problems(source: str, section: SupervisorConfig | None) -> list[str]:
    if section is None:
        return []
    problems = []
    if section.restart_max_s < section.restart_initial_s:
        problems.append(
            f"{source}: supervisor.restart_max_s: expected >= restart_initial_s"
        )
    return problems


def _store_problems(store: StoreConfig, source: str) -> list[str]:
    problems: list[str] = []
    prefixes: tuple[object, ...] = store.coalesced_prefixes  # TOML: any item type
    for prefix in prefixes:
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            problems.append(
                f"{source}: store.coalesced_prefixes: expected key prefixes starting "
                f"with /, got {shown(prefix)}"
            )
    return problems


def _map_size_problems(store: StoreConfig, source: str, word_bits: int) -> list[str]:
    """A map a 32-bit process cannot hold: the start or a growth failed when it came
    (BOUNDS has the 64-bit range)."""
    size = store.map_size_max_mb
    if (
        word_bits <= 32
        and size > MAX_MAP_MB_32_BIT
        and BOUNDS["store.map_size_max_mb"].allows(size)  # else named by bound_problems
    ):
        return [
            f"{source}: store.map_size_max_mb: expected 1..{MAX_MAP_MB_32_BIT} on this "
            f"32-bit platform (the most its address space leaves for the map), "
            f"got {size}"
        ]
    return []


def _core_problems(core: CoreConfig, source: str) -> list[str]:
    problems: list[str] = []
    if core.timezone:
        try:
            ZoneInfo(core.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"{source}: core.timezone: expected an IANA zone name such as "
                f"Europe/Berlin, got {shown(core.timezone)}"
            )
    return problems
