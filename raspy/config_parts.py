"""The settings of the parts raspyd runs over its messaging: [devices], [supervisor],
[stats], [core], [history], [http], [http_client] and [mqtt], with their defaults.

The `#` comments at each field are that key's help text (raspy.config_doc);
raspy.config gathers the sections into one Config and reads them from TOML.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from raspy.records import frozen


@frozen
class FakeDeviceConfig:
    name: str
    kind: str = "sensor.temperature"
    params: dict[str, Any] = field(default_factory=dict)


@frozen
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
    # seconds between two readings of every 1-Wire sensor (0.1..86400); a failing
    # one is read again after 1 s, doubling up to 60 s or this if longer
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


@frozen
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
    # (1..10000)
    max_restarts: int = 5
    # seconds over which max_restarts is counted (1 to a year)
    restart_window_s: float = 300.0
    # a part whose thread (or I/O thread, or one of the core's scenario actors)
    # answers nothing this long (a handler or a command blocked for ever) is hung,
    # and raspyd exits 1 for systemd to restart it whole; so it does when the
    # store's writer is on one commit this long (an fsync on a dying SD card).
    # Handlers wait up to about 10 s on other parts: under 15 s a healthy hub
    # would read as hung (15 to 86400)
    hung_after_s: float = 60.0
    # a part still in its start this long (the scenario engine compiles every stored
    # scenario in it: about 2 ms each on a desktop, 10 to 20 ms on a Pi 3) is hung
    # likewise; never less than hung_after_s. Larger than hung_after_s: a start
    # that is only slow would end raspyd, and systemd would start the same slow
    # start again and again (15 to 86400)
    start_hung_after_s: float = 300.0


@frozen
class StatsConfig:
    """Per-service statistics, published into the Clone tree under /stats/."""

    # seconds between two publications (one batched write each): 0.1..86400, or
    # 0: never publish
    publish_interval_s: float = 60.0


@frozen
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
    # runaway guard: more starts a minute disable a scenario, counting its kv, when,
    # event and startup triggers' and manual runs (`raspy scenario run NAME`), and
    # runs tried as any trigger (`--trigger ID`, a cron's too) (1..60000)
    max_runs_per_minute: int = 60
    preload_dir: str = ""  # *.yaml imported at start when not yet stored

    @property
    def has_location(self) -> bool:
        return (self.latitude, self.longitude) != (0.0, 0.0)


@frozen
class HistoryConfig:
    """The value recorder (`<host>.logger.history`): bounded round-robin tiers."""

    # record the values of every device whose `log` flag is true
    enabled: bool = True
    # seconds between two history writes (one group commit each); a kill -9 or a
    # power cut loses at most this much of the graphs (a clean stop writes all);
    # each write costs the SD card about the same whatever its length (1..3600)
    flush_interval_s: float = 300.0
    # tiers as "STEP:SPAN" (s, m, h, d, w, y): raw points at most one per STEP kept for
    # SPAN, then min/avg/max buckets of STEP kept for SPAN
    tiers: tuple[str, ...] = ("10s:48h", "5m:30d", "1h:5y")


@frozen
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
    # host names the web face answers to besides IP addresses, localhost, the
    # machine's hostname and <hostname>.local (a DNS name of the hub, a reverse
    # proxy's); a request under any other name is refused (DNS rebinding)
    hosts: tuple[str, ...] = ()


@frozen
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
    # empty: secrets.toml in data_dir (none there: no secrets); a relative path is
    # from raspyd's working directory
    secrets_file: str = ""


@frozen
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
    # where Home Assistant sends its birth message (its MQTT settings:
    # homeassistant/status unless changed there, whatever its discovery prefix);
    # `online` there makes the bridge announce everything again; empty: not heard
    birth_topic: str = "homeassistant/status"
    # QoS of every message the bridge publishes (states, configs, results; 0, 1 or 2)
    qos: int = 1
    # which tree keys go out (globs; `*` also matches `/`); "/board/*" adds each
    # second board's status (docs/mqtt.md)
    subtrees: tuple[str, ...] = ("/device/*",)
    # devices MQTT may command, as globs of full names (`pi.gpio.*`); empty: none
    command_devices: tuple[str, ...] = ("*",)
    # a Home Assistant button per scenario, and `…/scenario/<name>/run` runs it
    scenario_buttons: bool = True
    # messages held while the broker is away (a state's latest per topic, each
    # result in its turn; 1..1000000): when full, a retained message waits outside
    # (queued again once there is room), a result takes the newest retained one's
    # place, or is dropped if only results are queued
    buffer_max_messages: int = 100_000
    # seconds after connecting before the retained messages an earlier run left and
    # this one does not publish are cleared (ghost entities): 0..3600; 0: never
    cleanup_after_s: float = 10.0
