"""Checks across the keys of a config section (pure), once each key has its type:
settings that go together, values that must name something known. section_problems
runs them all, with the ranges (raspy.config_bounds) and the sizes the store and the
sockets hold (raspy.config_sizes)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from raspy.config_bounds import BOUNDS, bound_problems, pair_problems
from raspy.config_link import link_section_problems
from raspy.config_sizes import (
    PLATFORM_BITS,
    clone_value_problems,
    key_size_problems,
    map_size_problems,
    titanic_problems,
)
from raspy.errors import MalformedMessage, shown
from raspy.history.tiers import parse_tiers
from raspy.mqtt import topics
from raspy.names import is_host_name

if TYPE_CHECKING:
    from raspy.config_messaging import StoreConfig
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
BIND_ADDRESS: Final = re.compile(r"\*|[A-Za-z0-9_.:%-]{1,253}")


def section_problems(
    sections: dict[str, Any], source: str, *, word_bits: int = PLATFORM_BITS
) -> list[str]:
    """Checks across the keys of one section (types were checked by _build);
    `word_bits`: the platform's, whose address space bounds the store's map."""
    problems: list[str] = []
    network = sections.get("network")
    if (
        network is not None
        and network.bind
        and not BIND_ADDRESS.fullmatch(network.bind)
    ):
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
        problems.extend(key_size_problems(source, clone_section, sections))
    devices = sections.get("devices")
    if devices is not None and devices.pin_factory not in _PIN_FACTORIES:
        problems.append(
            f"{source}: devices.pin_factory: expected one of "
            f"{', '.join(_PIN_FACTORIES)}, got {shown(devices.pin_factory)}"
        )
    store = sections.get("store")
    if store is not None:
        problems.extend(_store_problems(store, source))
        problems.extend(map_size_problems(store, source, word_bits))
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
    problems += titanic_problems(source, sections)
    problems += clone_value_problems(source, sections)
    problems += _supervisor_problems(source, sections.get("supervisor"))
    problems += _mqtt_problems(source, sections.get("mqtt"))
    problems += _history_problems(source, sections.get("history"))
    problems += _http_problems(source, sections.get("http"))
    problems += bound_problems(sections, source)
    problems += pair_problems(sections, source)
    problems += link_section_problems(sections, source)
    return problems


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
    if not section.host.strip():  # the MQTT library refuses it only at the connect
        problems.append(
            f"{where}.host: expected the broker's host name or address, "
            f"got {shown(section.host)}"
        )
    if section.qos not in (0, 1, 2):
        problems.append(f"{where}.qos: expected 0, 1 or 2, got {shown(section.qos)}")
    if section.password and section.password_file:
        problems.append(f"{where}.password and password_file: expected one of them")
    if bool(section.tls_cert_file) != bool(section.tls_key_file):
        # the MQTT library ignores a key without a certificate (and the reverse
        # fails at every connect): a client certificate needs both
        problems.append(
            f"{where}.tls_cert_file and tls_key_file: expected both set or both empty"
        )
    for key in ("base_topic", "discovery_prefix", "birth_topic"):
        value = getattr(section, key)
        if not value and key != "base_topic":
            continue  # empty: no Home Assistant discovery, no birth message heard
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
    hosts: tuple[object, ...] = section.hosts  # TOML: any item type
    for host in hosts:
        if not isinstance(host, str) or not is_host_name(host):
            problems.append(
                f"{source}: http.hosts: expected host names without a port "
                f"(hub.home.arpa), got {shown(host)}"
            )
    return problems


def _supervisor_problems(source: str, section: SupervisorConfig | None) -> list[str]:
    if section is None:
        return []
    problems = []
    if BOUNDS["supervisor.restart_initial_s"].allows(section.restart_initial_s) and (
        section.restart_max_s < section.restart_initial_s
    ):
        problems.append(
            f"{source}: supervisor.restart_max_s: expected >= restart_initial_s "
            f"({section.restart_initial_s}), got {section.restart_max_s}"
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


def _core_problems(core: CoreConfig, source: str) -> list[str]:
    problems: list[str] = []
    if core.timezone:
        try:  # OSError: a folder of zones ("Europe") read as a zone's file
            ZoneInfo(core.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            problems.append(
                f"{source}: core.timezone: expected an IANA zone name such as "
                f"Europe/Berlin, got {shown(core.timezone)}"
            )
    return problems
