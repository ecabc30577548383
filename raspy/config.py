"""Configuration: TOML text + CLI flags -> frozen Config, the sections of
raspy.config_messaging and raspy.config_parts gathered (every default lives there).

`load()` is pure: it never reads files or the environment (`read_file()` reads one;
raspy.config_files looks at the files and folders a config names).
All problems are collected and raised together as one ConfigError naming source, key
path and value. The section classes are imported from here, as raspy does everywhere.
"""

from __future__ import annotations

import codecs
import dataclasses
import tomllib
from collections.abc import Collection
from typing import Any, Final

from raspy.config_checks import section_problems
from raspy.config_link import LinkConfig
from raspy.config_messaging import (
    BrokerConfig,
    CloneConfig,
    LimitsConfig,
    NetworkConfig,
    SecurityConfig,
    StoreConfig,
    TitanicConfig,
)
from raspy.config_parts import (
    CoreConfig,
    DevicesConfig,
    FakeDeviceConfig,
    HistoryConfig,
    HttpClientConfig,
    HttpConfig,
    MqttConfig,
    StatsConfig,
    SupervisorConfig,
)
from raspy.config_table import build_section, check_type
from raspy.control_tables import controls_of
from raspy.errors import ConfigError, did_you_mean, long_integer, shown
from raspy.file_head import read_head
from raspy.names import NAME_SEGMENT
from raspy.port_base import DEFAULT_PORT_BASE
from raspy.records import frozen

# a config file at most; raspyd's own, every key commented, is 12 KB
MAX_CONFIG_BYTES: Final = 1024 * 1024

# the sections are imported from here everywhere in raspy
__all__ = [
    "DEFAULT_PORT_BASE",
    "MAX_CONFIG_BYTES",
    "BrokerConfig",
    "CloneConfig",
    "Config",
    "CoreConfig",
    "DevicesConfig",
    "FakeDeviceConfig",
    "HistoryConfig",
    "HttpClientConfig",
    "HttpConfig",
    "LimitsConfig",
    "LinkConfig",
    "MqttConfig",
    "NetworkConfig",
    "SecurityConfig",
    "StatsConfig",
    "StoreConfig",
    "SupervisorConfig",
    "TitanicConfig",
    "best_effort",
    "from_mapping",
    "load",
    "read_file",
    "section_defaults",
]


@frozen
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
    # values the household sets from the web face (Devices page), one [[controls]]
    # table each: key (a tree key such as /house/mode, not under /device/, /board/,
    # /event/, /scenario/ or /stats/; one control per key), label (what the page
    # shows; default: the key's last part), kind: number (min, max, step, unit),
    # switch (true or false), choice (options, a list of texts, none of them "none"
    # in any case: Home Assistant's word for no option) or text
    # (max_length, 1..4096, default 255); and initial, written when raspyd starts
    # and the key is absent from the tree (never over a value). The web face checks
    # what it writes; scenarios' set: and raspy-kv set are not checked (docs/web.md)
    controls: tuple[dict[str, Any], ...] = ()
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
    link: LinkConfig = LinkConfig()


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
    "link": LinkConfig,
}
# raspy-poller's sections, which raspyd reads past unchecked (docs/configuration.md:
# "raspyd ignores this section"): a bad value there must not stop the hub
RASPYD_UNUSED: Final = frozenset({"link"})
# what raspy-poller reads of the same file: its top-level hostname and log keys and
# these sections; the rest is raspyd's, read past unchecked so that a bad value there
# (a hub's [mqtt] or [http]) does not stop a board (docs/configuration.md)
POLLER_SECTIONS: Final = frozenset({"devices", "store", "link"})
POLLER_UNUSED: Final = (frozenset(_SECTIONS) - POLLER_SECTIONS) | {
    "controls",
    "data_dir",
    "allow_root",
}


def section_defaults(name: str) -> Any:
    """The section `name` with every default (what a file without it gets)."""
    return _SECTIONS[name]()


_TOP_LEVEL: Final = ("data_dir", "hostname", "log_level", "log_format", "allow_root")
_LOG_LEVELS: Final = ("debug", "info", "warning", "error")
_LOG_FORMATS: Final = ("auto", "console", "json")


def _top_level_hint(key: str, value: object = None) -> str:
    """What an unknown top-level key may have meant: a section's setting written
    above every header (`port_base`: it belongs under [network]; a table of one,
    `[[fake]]`, is `[[devices.fake]]`), or a close name (`[htp]`: http)."""
    owners = [
        name
        for name, cls in _SECTIONS.items()
        if key in {field.name for field in dataclasses.fields(cls)}
    ]
    if len(owners) == 1:
        owner = owners[0]
        if (
            isinstance(value, list)
            and value
            and all(isinstance(item, dict) for item in value)
        ):
            return f" (a table of [{owner}]: write its header [[{owner}.{key}]])"
        if isinstance(value, dict):
            return f" (a table of [{owner}]: write its header [{owner}.{key}])"
        return f" (a setting of [{owner}]: write it under that header)"
    if len(owners) > 1:
        return f" (a setting of {', '.join(f'[{o}]' for o in owners)}: under which?)"
    return did_you_mean(key, [*_SECTIONS, "controls", *_TOP_LEVEL])


def read_file(path: str) -> str:
    """The text of a config file, a byte-order mark at its start skipped; raises
    ConfigError, naming the file, if it cannot be read or is not UTF-8 (TOML is
    UTF-8 only; the byte is named too)."""
    try:  # /dev/zero, a log: never all; a pipe nobody writes: not for ever
        data = read_head(path, MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"cannot read config {path}: {exc.strerror}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            [f"{path}: larger than {MAX_CONFIG_BYTES} bytes: not a config file?"]
        )
    # a byte-order mark at the start (Windows editors write one) is skipped:
    # tomllib would say `Invalid statement (at line 1, column 1)`
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [f"{path}: line {line}: not UTF-8 text (byte {data[exc.start]:#04x})"]
        ) from None


def load(
    text: str,
    source: str = "<config>",
    *,
    unused: Collection[str] = (),
    **overrides: Any,
) -> Config:
    """Parse TOML text; `overrides` (CLI flags, dotted by `__`) beat the file.
    `unused`: sections the reader ignores (RASPYD_UNUSED), left out unchecked: the
    Config has their defaults."""
    return from_mapping(_parsed(text, source, unused), source, **overrides)


def _parsed(text: str, source: str, unused: Collection[str] = ()) -> dict[str, Any]:
    try:
        document = tomllib.loads(text)
        return {k: v for k, v in document.items() if k not in unused}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from exc
    except RecursionError:  # `a = [[[[…`: tomllib recurses once a level
        raise ConfigError([f"{source}: not valid TOML: nested too deeply"]) from None
    except ValueError:
        # tomllib's int() of a literal past Python's int_max_str_digits (4300): that
        # error's own words name neither the line nor the file, and were a bug's exit
        raise ConfigError([f"{source}: not valid TOML: {long_integer(text)}"]) from None


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
    text: str, source: str, *, unused: Collection[str] = (), **overrides: Any
) -> tuple[Config | None, list[str]]:
    """Every problem of a config text, and a Config of what in it is valid (None if
    it is not TOML): `raspyd --check-config` checks that one further (devices, files)
    so that it names every problem at once, not a stage at a time. An on/off setting
    that is itself wrong is on in that Config, so that its part is checked too.
    `unused`: as load() takes it."""
    try:
        document = _parsed(text, source, unused)
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
            sections[key] = build_section(_SECTIONS[key], value, key, source, problems)
        elif key == "controls":
            if not isinstance(value, list):
                problems.append(f"{source}: controls: expected [[controls]] tables")
            else:
                top[key] = tuple(value)
        elif key in _TOP_LEVEL:
            expected = "bool" if key == "allow_root" else "str"
            reason = check_type(value, expected)
            if reason:
                problems.append(f"{source}: {key}: {reason}")
            else:
                top[key] = value
        else:
            hint = _top_level_hint(key, value)
            problems.append(f"{source}: {key}: unknown setting{hint}")
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
    if top.get("data_dir") == "":  # would be the folder raspyd is started in
        problems.append(f'{source}: data_dir: expected a path, got ""')
        top.pop("data_dir")
    hostname = top.get("hostname", "")
    if hostname and not NAME_SEGMENT.fullmatch(hostname):  # every name's first part
        problems.append(
            f"{source}: hostname: expected 1-64 ASCII letters, digits, '_' or '-', "
            f"starting with a letter or digit, got {shown(top.pop('hostname'))}"
        )
    problems.extend(section_problems(sections, source))
    clone_section = sections.get("clone", CloneConfig())
    _, control_problems = controls_of(
        top.get("controls", ()), source, clone_section.max_key_bytes
    )
    if control_problems:
        problems += control_problems
        top.pop("controls", None)
    return Config(**top, **sections), problems
