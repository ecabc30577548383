"""Configuration: TOML text + CLI flags -> frozen Config. Every default lives here.

`load()` is pure: it never reads files or the environment (`read_file()` reads one;
raspy.config_files looks at the files and folders a config names).
All problems are collected and raised together as one ConfigError naming source, key
path and value.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from raspy.config_checks import section_problems
from raspy.errors import ConfigError, did_you_mean, shown
from raspy.names import NAME_SEGMENT

DEFAULT_PORT_BASE: Final = 5514
# a config file at most; raspyd's own, every key commented, is 12 KB
MAX_CONFIG_BYTES: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Where raspyd listens: MDP on port_base, Clone on the three ports after it."""

    # address to listen on; beyond loopback, set up [security] (CURVE) too
    bind: str = "127.0.0.1"
    # MDP broker port N; Clone snapshot N+1, publisher N+2, collector N+3 (1..65532)
    port_base: int = DEFAULT_PORT_BASE
    # milliseconds a closing socket may still spend sending queued messages (0..60000)
    linger_ms: int = 500


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """The Majordomo broker: heartbeats, queues and message limits."""

    # seconds between heartbeats to workers (0.1..3.75: raspy's workers heartbeat
    # every 2.5 s and take 7.5 s of silence for a lost broker)
    heartbeat_interval_s: float = 2.5
    # heartbeat intervals a worker may be silent before it is dropped (at least 1;
    # with heartbeat_interval_s, at least 5 s: two of a worker's heartbeats)
    heartbeat_liveness: int = 3
    # seconds a worker may work on one request before it is dropped (1 to a year)
    busy_timeout_s: float = 900.0
    # seconds a request may wait for a worker before it is dropped (1 to a year)
    request_ttl_s: float = 30.0
    # frames in one message at most (16..1024: MDP's own take up to 6)
    max_frames: int = 64
    # bytes in one frame at most (at least 1024)
    max_frame_bytes: int = 1024 * 1024
    # bytes in one message at most (at least 1024)
    max_message_bytes: int = 4 * 1024 * 1024
    # also speak the majortomo dialect of MDP to its clients and workers
    accept_majortomo: bool = True


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The LMDB store in data_dir (Titanic requests and replies, the Clone tree)."""

    # LMDB map size of a new store; it grows as needed (1..map_size_max_mb)
    map_size_initial_mb: int = 16
    # the map never grows past this; writes then fail as "store full" (1..1048576,
    # a TiB; 1..1536 on a 32-bit system such as Raspberry Pi OS armhf, whose
    # processes have 2 GB of address space for everything)
    map_size_max_mb: int = 1024
    # bytes in one stored value at most (at least 8192)
    max_value_bytes: int = 1024 * 1024
    # writes that wait together share one transaction and one disk sync
    group_commit: bool = True
    # issue 17, the SD card's write budget: in-process plain sets (device readings,
    # statistics) under these subtrees are published at once and written, latest
    # value per key, in one group commit every coalesce_interval_s (0: all durable)
    coalesced_prefixes: tuple[str, ...] = ("/device/", "/stats/")
    # seconds between two writes of the coalesced values (see coalesced_prefixes):
    # 0.1..3600, or 0: every value written at once
    coalesce_interval_s: float = 60.0
    # sequence numbers reserved per stored high-water mark (coalesced updates);
    # 1..1000000 (a start skips what is left of one)
    seq_block: int = 10_000


@dataclass(frozen=True, slots=True)
class TitanicConfig:
    """Titanic: requests stored durably and delivered when their service is up."""

    # serve titanic.request, titanic.reply and titanic.close
    enabled: bool = True
    # bytes of one stored request at most, its target's name and body frames: at
    # least 1, at most store.max_value_bytes less the record around it (64 bytes and
    # 5 a frame of broker.max_frames), checked while Titanic is on
    max_body_bytes: int = 256 * 1024
    # seconds a request is kept after it was made (1 s to a year); 0: until
    # titanic.close (RFC 9); a raspy extension
    retention_s: float = 0.0
    # seconds to wait for a service's reply before the attempt counts as failed
    # (0.1 to a year)
    dispatch_timeout_s: float = 10.0
    # first delay before a failed delivery is tried again; doubles up to retry_max_s
    # (0.1 to a year)
    retry_initial_s: float = 1.0
    # the longest delay between two delivery attempts (retry_initial_s to a year)
    retry_max_s: float = 60.0
    # bytes of one stored reply at most, PARTIALs and FINAL, with 5 bytes a frame
    # (its room in the record); at least 1, at most what max_body_bytes may be
    max_reply_bytes: int = 1000 * 1024
    # delivery attempts in flight per target service (at least 1)
    dispatch_window: int = 64
    # in-process MDP workers per titanic.* service: they make the services visible
    # to MMI and take requests while the handler is full (1..64)
    service_workers: int = 1
    # titanic.* requests the broker hands to Titanic at once, per service, without a
    # worker in between; past that they queue at the broker until a place frees
    # (0: every request goes through the service workers)
    handler_capacity: int = 1024


@dataclass(frozen=True, slots=True)
class CloneConfig:
    """The Clone key-value tree (snapshot, publisher and collector sockets)."""

    # serve the Clone tree (and the device services that publish into it)
    enabled: bool = True
    # bytes in one key at most: 1..511 (LMDB's limit), 1..502 with [history] on
    max_key_bytes: int = 255
    # bytes in one value at most: 1 to store.max_value_bytes less 4288 (the record
    # around it, properties included) and to 4194304 (4 MiB, the largest frame the
    # Clone server's sockets take), checked while Clone is on; with
    # [limits] clone_subscriber_queue_bytes it sets how many updates a subscriber's
    # queue holds (the budget // the largest update)
    max_value_bytes: int = 64 * 1024
    # seconds between HUGZ heartbeats to subscribers, whatever else is published
    # (0.01..2.5: clients take 5 s of silence for a dead hub)
    hugz_interval_s: float = 1.0
    # entries per snapshot message (1..10000)
    snapshot_chunk: int = 500


@dataclass(frozen=True, slots=True)
class FakeDeviceConfig:
    name: str
    kind: str = "sensor.temperature"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DevicesConfig:
    """Device services: simulated devices, 1-Wire sensors, GPIO (relays, dimmers,
    buttons, PIR sensors, door contacts), the real-time clock."""

    # serve the simulated devices listed in [[devices.fake]] (for trying raspy out)
    fake_enabled: bool = False
    # simulated devices, e.g. {name = "rtc", oid = "clock.rtc", poll_interval_s = 1.0}
    fake: tuple[dict[str, Any], ...] = ()
    # serve the 1-Wire temperature sensors found under onewire_base_dir
    onewire_enabled: bool = False
    # where the kernel's w1 driver lists the sensors
    onewire_base_dir: str = "/sys/bus/w1/devices"
    # seconds between two readings of every 1-Wire sensor (0.1..86400)
    onewire_poll_interval_s: float = 10.0
    # named 1-Wire sensors, e.g. {name = "attic", sensor_id = "28-0316a2792aff"};
    # sensors found on the bus that are not listed are named by their id; one
    # sensor_id under two names is refused
    onewire: tuple[dict[str, Any], ...] = ()
    # GPIO through gpiozero: [[devices.gpio]] tables of switch, dimmer, sensor.binary
    gpio_enabled: bool = False
    # "default": the Pi's GPIO (lgpio, else RPi.GPIO); "mock": gpiozero's mock pins
    # (make run, tests)
    pin_factory: str = "default"
    # GPIO devices, e.g. {name = "relay", oid = "switch", pin = 17}. A switch or
    # dimmer also takes active_high (true), initial ("off", "on", "restore"), on_stop
    # ("off", "keep") and max_on_s (0: no limit), a switch min_on_s and min_off_s
    # (0..86400, 0: no limit; a command that would switch it sooner after its last
    # change is held, and carried out when the limit ends; with initial "restore"
    # also after a restart of raspyd), a dimmer frequency_hz
    # (100); a sensor.binary pull_up (true), bounce_time_s (0.02, at least 0.02 in
    # effect) and device_class ("button", "door", "motion", ...), a button also
    # double_press_s (0..5) and long_press_s (0..60) for its single, double and
    # long presses (0: off): README, "GPIO on a Raspberry Pi"
    gpio: tuple[dict[str, Any], ...] = ()
    # the real-time clock in sysfs (`<rtc_sysfs_dir>/rtc0/since_epoch`)
    rtc_enabled: bool = False
    # where the kernel lists the real-time clocks
    rtc_sysfs_dir: str = "/sys/class/rtc"
    # /stats/<hostname>/clock/: the kernel's clock health, every this many s
    # (0.1..86400; 0: off)
    clock_health_interval_s: float = 10.0
    # seconds a remote device service (raspy-poller) may be without its MDP worker
    # before the hub marks its readings offline (value null) and its board's key
    # /board/<host>.<svc>/status `offline`: 1 s to a year, or 0: never (and no
    # board keys). The broker gives a silent worker up after heartbeat_liveness
    # intervals (raspy-poller's even while busy: it shows that it heartbeats then),
    # others after broker.busy_timeout_s if a request was waiting at it
    offline_after_s: float = 60.0


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """CURVE on every bound TCP socket, with a ZAP allowlist (docs/protocols.md §8).

    Both empty: no CURVE (raspyd warns when it listens beyond loopback).
    """

    # zmq certificate with the server's public and secret key (`NAME.key_secret`)
    curve_secret_key_file: str = ""
    # folder of the allowed clients' public certificates (`*.key`)
    authorized_keys_dir: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.curve_secret_key_file)


@dataclass(frozen=True, slots=True)
class SupervisorConfig:
    """How raspyd restarts a part that crashed (the edge and the store excepted)."""

    # first delay before restarting a crashed part; doubles on each crash in a row
    # (0.01 s to a year)
    restart_initial_s: float = 1.0
    # the longest delay between two restarts of one part (restart_initial_s to a year)
    restart_max_s: float = 60.0
    # a part that stayed up this long starts again from restart_initial_s (up to a
    # year; 0: every restart waits restart_initial_s, max_restarts still counts)
    stable_s: float = 30.0
    # a part that crashes more often than this within restart_window_s is failed
    # (at least 1)
    max_restarts: int = 5
    # seconds over which max_restarts is counted (1 to a year)
    restart_window_s: float = 300.0


@dataclass(frozen=True, slots=True)
class StatsConfig:
    """Per-service statistics, published into the Clone tree under /stats/."""

    # seconds between two publications (one batched write each): 0.1..86400, or
    # 0: never publish
    publish_interval_s: float = 60.0


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """The scenario engine (`<host>.core.scenario`)."""

    # run the scenario engine and its cron and sun triggers
    enabled: bool = True
    timezone: str = ""  # IANA name; empty: this machine's zone, else UTC
    # where sun triggers are computed (-90..90); both 0 means "not set": sun
    # triggers are refused
    latitude: float = 0.0
    # (with latitude) degrees east of Greenwich, negative west (-180..180)
    longitude: float = 0.0
    # runaway guard: more starts a minute by kv, when, event, startup or manual
    # disable it (at least 1)
    max_runs_per_minute: int = 60
    preload_dir: str = ""  # *.yaml imported at start when not yet stored

    @property
    def has_location(self) -> bool:
        return (self.latitude, self.longitude) != (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """The value recorder (`<host>.logger.history`): bounded round-robin tiers."""

    # record the values of every device whose `log` flag is true
    enabled: bool = True
    # seconds between two history writes (one group commit each); a kill -9 or a
    # power cut loses at most this much of the graphs (a clean stop writes all);
    # each write costs the SD card about the same whatever its length (1..3600)
    flush_interval_s: float = 300.0
    # tiers as "STEP:SPAN" (s, m, h, d, y): raw points at most one per STEP kept for
    # SPAN, then min/avg/max buckets of STEP kept for SPAN
    tiers: tuple[str, ...] = ("10s:48h", "5m:30d", "1h:5y")


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """The web face: live dashboard, history graphs, scenarios, services."""

    # serve the web face at port_base + 4
    enabled: bool = False
    # address to listen on; beyond loopback only with a login configured
    bind: str = "127.0.0.1"
    # file holding the hash of the web password; empty: token login only
    password_hash_file: str = ""
    # seconds a login session lasts (60 to a year)
    session_s: float = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class HttpClientConfig:
    """The HTTP requests of scenarios' `http:` actions (`<host>.http`, for raspyd's
    own parts only)."""

    # serve `<host>.http`, which makes the requests of `http:` actions (off: such an
    # action fails, nothing is sent)
    enabled: bool = True
    # requests under way at once (1..16), and host lookups (a hung DNS server holds
    # no more threads than this); more wait in the broker's queue
    max_concurrent: int = 4
    # TOML file of the secrets `{secret.NAME}` fills in an `http:` action's url,
    # headers and body (`NAME = "text"`, mode 0600), read again when it changes;
    # empty: secrets.toml in data_dir (none there: no secrets)
    secrets_file: str = ""


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """The MQTT bridge with Home Assistant discovery (off by default)."""

    # bridge the device tree to an MQTT broker
    enabled: bool = False
    # the MQTT broker's host name or address
    host: str = "127.0.0.1"
    # the MQTT broker's port (1..65535)
    port: int = 1883
    # MQTT user name; empty: none
    username: str = ""
    # MQTT password (prefer password_file)
    password: str = ""
    # file holding the MQTT password
    password_file: str = ""
    # connect with TLS
    tls: bool = False
    # CA certificate file for TLS; empty: the system's CAs
    tls_ca_file: str = ""
    # client certificate file for TLS; empty: none
    tls_cert_file: str = ""
    # client key file for TLS; empty: none
    tls_key_file: str = ""
    # MQTT client id; empty: raspy-<hostname>
    client_id: str = ""
    # first level of every topic raspy publishes
    base_topic: str = "raspy"
    # Home Assistant's discovery prefix; empty: no discovery
    discovery_prefix: str = "homeassistant"
    # QoS of every message the bridge publishes (states, configs, results; 0, 1 or 2)
    qos: int = 1
    # which tree keys go out (globs; `*` also matches `/`); "/board/*" adds each
    # second board's status (docs/mqtt.md)
    subtrees: tuple[str, ...] = ("/device/*",)
    # devices MQTT may command, as globs of full names (`pi.gpio.*`); empty: none
    command_devices: tuple[str, ...] = ("*",)
    # a Home Assistant button per scenario, and `…/scenario/<name>/run` runs it
    scenario_buttons: bool = True
    # messages held while the broker is away (latest per topic); the oldest go first
    # (at least 1)
    buffer_max_messages: int = 100_000
    # seconds after connecting before the retained messages an earlier run left and
    # this one does not publish are cleared (ghost entities): 0..3600; 0: never
    cleanup_after_s: float = 10.0


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """The memory budget: what any client can make raspyd hold, in bytes."""

    # bytes queued in the broker for one service: payload plus ~300 bytes a request
    # for the objects around it (100,000 small pipelined requests fit); more dropped
    # (at least 1)
    broker_queue_bytes_per_service: int = 48 * 1024 * 1024
    # bytes queued in the broker for all services together (counted as above; at
    # least 1)
    broker_queue_bytes_total: int = 96 * 1024 * 1024
    # requests queued for one service (a generous count; the bytes bind first; at
    # least 1)
    broker_queue_requests_per_service: int = 200_000
    # services the broker knows at once (with workers or queued requests); a request
    # to a new one over this is dropped, a worker for a new one gets DISCONNECT
    # (at least 1)
    max_services: int = 1_000
    # external workers registered at once; one more gets DISCONNECT (at least 1)
    max_workers: int = 1_000
    # Titanic requests pending (accepted, not yet closed); each holds a few KiB of
    # memory besides its body, so this bounds RSS on a 1 GB Pi (at least 1)
    titanic_pending_requests: int = 20_000
    # bytes of Titanic request bodies pending (at least 1024)
    titanic_pending_bytes: int = 64 * 1024 * 1024
    # bytes queued for one Clone subscriber before it is cut off (see [clone]
    # max_value_bytes); at least 1
    clone_subscriber_queue_bytes: int = 8 * 1024 * 1024
    # seconds a snapshot may keep its read view open in all (1 to a year)
    snapshot_max_s: float = 60.0
    # log lines per second per event name; past it one "log_suppressed" line a
    # second per event name says how many were left out (0: no budget)
    log_events_per_s: int = 20


@dataclass(frozen=True, slots=True)
class Config:
    """raspyd's whole configuration: top-level keys, then one table per section."""

    # the store's folder (created 0700); one raspyd per data dir
    data_dir: str = "var/raspy"
    # the <hostname> in service names (<hostname>.echo); empty: this machine's name
    hostname: str = ""
    # debug, info, warning or error
    log_level: str = "info"
    # console, json (one object per line, for journald), or auto (console on a TTY)
    log_format: str = "auto"
    # run even as root (not advised)
    allow_root: bool = False
    network: NetworkConfig = NetworkConfig()
    broker: BrokerConfig = BrokerConfig()
    store: StoreConfig = StoreConfig()
    titanic: TitanicConfig = TitanicConfig()
    clone: CloneConfig = CloneConfig()
    devices: DevicesConfig = DevicesConfig()
    security: SecurityConfig = SecurityConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    stats: StatsConfig = StatsConfig()
    core: CoreConfig = CoreConfig()
    history: HistoryConfig = HistoryConfig()
    http: HttpConfig = HttpConfig()
    http_client: HttpClientConfig = HttpClientConfig()
    mqtt: MqttConfig = MqttConfig()
    limits: LimitsConfig = LimitsConfig()


_SECTIONS: Final[dict[str, type[Any]]] = {
    "network": NetworkConfig,
    "broker": BrokerConfig,
    "store": StoreConfig,
    "titanic": TitanicConfig,
    "clone": CloneConfig,
    "devices": DevicesConfig,
    "security": SecurityConfig,
    "supervisor": SupervisorConfig,
    "stats": StatsConfig,
    "core": CoreConfig,
    "history": HistoryConfig,
    "http": HttpConfig,
    "http_client": HttpClientConfig,
    "mqtt": MqttConfig,
    "limits": LimitsConfig,
}
_SIGNED: Final = frozenset({"core.latitude", "core.longitude"})  # may be < 0


def section_defaults(name: str) -> Any:
    """The section `name` with every default (what a file without it gets)."""
    return _SECTIONS[name]()


_TOP_LEVEL: Final = ("data_dir", "hostname", "log_level", "log_format", "allow_root")
_LOG_LEVELS: Final = ("debug", "info", "warning", "error")
_LOG_FORMATS: Final = ("auto", "console", "json")


def _check_type(value: object, expected: object) -> str | None:
    """Return a reason if `value` does not fit the annotated type, else None."""
    match expected:
        case "bool":
            ok = isinstance(value, bool)
            want = "true or false"
        case "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            want = "an integer"
        case "float":
            # nan or inf would pass every later range check (nan < x is false)
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
            want = "a finite number"
        case "str":
            ok = isinstance(value, str)
            want = "a string"
        case _:
            ok = isinstance(value, list | tuple)
            want = "a list"
    return None if ok else f"expected {want}, got {shown(value)}"


# settings people look for where they are not: where each one is
_ELSEWHERE: Final = {
    ("http", "port"): "the web face listens on [network] port_base + 4",
    ("mqtt", "bind"): "the bridge connects out to [mqtt] host; it listens on nothing",
    ("broker", "port"): "the broker listens on [network] port_base",
    ("clone", "port"): "Clone listens on [network] port_base + 1, + 2 and + 3",
}


def _hint(path: str, key: str, known: Iterable[str]) -> str:
    """What an unknown setting may have meant: where it is, or a close name."""
    elsewhere = _ELSEWHERE.get((path, key))
    if elsewhere is not None:
        return f" ({elsewhere})"
    return did_you_mean(key, known)


def _is_switch(setting: dataclasses.Field[Any]) -> bool:
    """A part's on/off setting: `enabled`, `fake_enabled`, `gpio_enabled`, ..."""
    return setting.type == "bool" and (
        setting.name == "enabled" or setting.name.endswith("_enabled")
    )


def _build(
    cls: type[Any], table: dict[str, Any], path: str, source: str, problems: list[str]
) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{source}: {path}.{key}"
        if key not in known:
            problems.append(f"{where}: unknown setting{_hint(path, key, known)}")
            continue
        reason = _check_type(value, known[key].type)
        if reason:
            problems.append(f"{where}: {reason}")
            if _is_switch(known[key]):
                # as if on, so that its part's own settings are checked in the same
                # run (a default of off hid them); a Config with a problem never starts
                values[key] = True
            continue
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and value < 0
            and f"{path}.{key}" not in _SIGNED
        ):
            problems.append(f"{where}: expected a value >= 0, got {value}")
            continue
        values[key] = tuple(value) if isinstance(value, list) else value
        if known[key].type == "float":
            values[key] = float(value)
    return cls(**values)


def read_file(path: str) -> str:
    """The text of a config file; raises ConfigError, naming the file, if it cannot
    be read or is not UTF-8 (TOML is UTF-8 only; the byte is named too)."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)  # /dev/zero, a log: never all
    except OSError as exc:
        raise ConfigError([f"cannot read config {path}: {exc.strerror}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            [f"{path}: larger than {MAX_CONFIG_BYTES} bytes: not a config file?"]
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [f"{path}: line {line}: not UTF-8 text (byte {data[exc.start]:#04x})"]
        ) from None


def load(text: str, source: str = "<config>", **overrides: Any) -> Config:
    """Parse TOML text; `overrides` (CLI flags, dotted by `__`) beat the file."""
    return from_mapping(_parsed(text, source), source, **overrides)


def _parsed(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from exc


def from_mapping(document: dict[str, Any], source: str, **overrides: Any) -> Config:
    """Build a Config from a parsed document; see load().

    The document is checked alone first, so a bad value in it is named even where a
    flag replaces it (the start and `raspyd --check-config FILE` agree about the
    file); a valid one is then checked again with the flags merged in. `document`
    itself is left as it was.
    """
    config = _validated(document, source)
    if not any(value is not None for value in overrides.values()):
        return config
    return _validated(_with_flags(document, overrides), source)


def _with_flags(document: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of `document` with the flags given (not None) put in their places; a
    section the file wrote as no table is replaced by one holding the flag."""
    merged = {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in document.items()
    }
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, _, key = dotted.partition("__")
        if key:
            if not isinstance(merged.get(section), dict):
                merged[section] = {}
            merged[section][key] = value
        else:
            merged[section] = value
    return merged


def best_effort(
    text: str, source: str, **overrides: Any
) -> tuple[Config | None, list[str]]:
    """Every problem of a config text, and a Config of what in it is valid (None if
    it is not TOML): `raspyd --check-config` checks that one further (devices, files)
    so that it names every problem at once, not a stage at a time. An on/off setting
    that is itself wrong is on in that Config, so that its part is checked too."""
    try:
        document = _parsed(text, source)
    except ConfigError as exc:
        return None, exc.problems
    try:
        return from_mapping(document, source, **overrides), []
    except ConfigError as exc:  # what is valid, with the flags, checked further
        return _assemble(_with_flags(document, overrides), source)[0], exc.problems


def _validated(document: dict[str, Any], source: str) -> Config:
    """The Config of one document, or a ConfigError with all of its problems."""
    config, problems = _assemble(document, source)
    if problems:
        raise ConfigError(problems)
    return config


def _assemble(document: dict[str, Any], source: str) -> tuple[Config, list[str]]:
    """A Config of what is valid in `document` (defaults for the rest), and every
    problem found."""
    problems: list[str] = []
    top: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for key, value in document.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                problems.append(f"{source}: {key}: expected a table")
                continue
            sections[key] = _build(_SECTIONS[key], value, key, source, problems)
        elif key in _TOP_LEVEL:
            expected = "bool" if key == "allow_root" else "str"
            reason = _check_type(value, expected)
            if reason:
                problems.append(f"{source}: {key}: {reason}")
            else:
                top[key] = value
        else:
            problems.append(f"{source}: {key}: unknown setting")
    if top.get("log_level", "info") not in _LOG_LEVELS:
        problems.append(
            f"{source}: log_level: expected one of {', '.join(_LOG_LEVELS)}, "
            f"got {shown(top.pop('log_level'))}"
        )
    if top.get("log_format", "auto") not in _LOG_FORMATS:
        problems.append(
            f"{source}: log_format: expected one of {', '.join(_LOG_FORMATS)}, "
            f"got {shown(top.pop('log_format'))}"
        )
    hostname = top.get("hostname", "")
    if hostname and not NAME_SEGMENT.fullmatch(hostname):  # every name's first part
        problems.append(
            f"{source}: hostname: expected 1-64 ASCII letters, digits, '_' or '-', "
            f"starting with a letter or digit, got {shown(top.pop('hostname'))}"
        )
    problems.extend(section_problems(sections, source))
    return Config(**top, **sections), problems
