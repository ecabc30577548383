"""raspy.config: TOML + flags -> frozen Config; every problem named with source and key."""

from __future__ import annotations

import dataclasses
import datetime
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import raspy
from raspy import config, config_bounds, config_checks, config_sizes
from raspy.errors import ConfigError
from raspy.protocol import clone
from raspy.storage import tables

DEFAULTS = Path(raspy.__file__).parent / "defaults"


def test_empty_text_gives_every_default() -> None:
    assert config.load("") == config.Config()


def test_a_byte_order_mark_at_the_start_of_the_file_is_skipped(tmp_path: Path) -> None:
    """Windows editors write one: tomllib said `Invalid statement (at line 1,
    column 1)`. One elsewhere is no mark but a character, and still refused."""
    path = tmp_path / "raspyd.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'log_level = "debug"\n')
    text = config.read_file(str(path))
    assert text == 'log_level = "debug"\n'
    assert config.load(text, str(path)).log_level == "debug"
    path.write_bytes(b'log_level = "debug"\n\xef\xbb\xbf')
    with pytest.raises(ConfigError):
        config.load(config.read_file(str(path)), str(path))
    path.write_bytes(b"\xef\xbb\xbf# a\n\xff\n")  # the place counted in the file
    with pytest.raises(ConfigError) as caught:
        config.read_file(str(path))
    assert caught.value.problems == [f"{path}: line 2: not UTF-8 text (byte 0xff)"]


def test_file_values_override_defaults_and_flags_override_the_file() -> None:
    text = '[network]\nport_base = 6000\nbind = "192.0.2.7"\n[broker]\nheartbeat_liveness = 5\n'
    loaded = config.load(text, "raspy.toml", network__port_base=7000)
    assert loaded.network == config.NetworkConfig(bind="192.0.2.7", port_base=7000)
    assert loaded.broker.heartbeat_liveness == 5
    assert loaded.broker.heartbeat_interval_s == 2.5


def test_a_bad_value_in_the_file_is_named_even_where_a_flag_replaces_it() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(
            '[network]\nport_base = "x"\n', "raspy.toml", network__port_base=6000
        )
    assert caught.value.problems == [
        'raspy.toml: network.port_base: expected an integer, got "x"'
    ]


def test_a_file_with_a_problem_is_checked_further_with_the_flags_given() -> None:
    """`raspyd --check-config FILE --data-dir D` checks what is valid further (the
    web face's login, in D; the web port, from the port base): with a bad key
    elsewhere in the file it did so with var/raspy and the file's port base, and
    told the reader to make a token in a data dir that was not theirs."""
    flags: dict[str, Any] = {
        "data_dir": "/srv/hub",
        "network__port_base": 7000,
        "network__bind": None,
    }
    checked, problems = config.best_effort(
        '[network]\nport_base = 6000\n[devices]\nfake_enabled = "yes"\n',
        "raspy.toml",
        **flags,
    )
    assert problems == [
        'raspy.toml: devices.fake_enabled: expected true or false, got "yes"'
    ]
    assert checked is not None
    assert (checked.data_dir, checked.network.port_base) == ("/srv/hub", 7000)
    assert checked.network.bind == config.NetworkConfig().bind
    # a section written as no table: the flag still lands in one
    checked, problems = config.best_effort("network = 1\n", "raspy.toml", **flags)
    assert problems == ["raspy.toml: network: expected a table"]
    assert checked is not None
    assert checked.network.port_base == 7000


def test_a_section_that_is_not_a_table_is_named_when_a_flag_sets_one_of_its_keys() -> (
    None
):
    """The flag used to be merged into the file's value (an int), which raised."""
    with pytest.raises(ConfigError) as caught:
        config.load("network = 5\n", "raspy.toml", network__port_base=6000)
    assert caught.value.problems == ["raspy.toml: network: expected a table"]


def test_flags_leave_the_parsed_document_as_it_was() -> None:
    document: dict[str, Any] = {"network": {"bind": "192.0.2.7"}}
    loaded = config.from_mapping(document, "doc", network__port_base=7000, data_dir="d")
    assert loaded.network == config.NetworkConfig(bind="192.0.2.7", port_base=7000)
    assert loaded.data_dir == "d"
    assert document == {"network": {"bind": "192.0.2.7"}}


def test_a_bad_flag_is_named_once_the_file_is_valid() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load("", "raspy.toml", log_level="loud")
    assert caught.value.problems == [
        'raspy.toml: log_level: expected one of debug, info, warning, error, got "loud"'
    ]


def test_integers_are_accepted_where_seconds_are_expected() -> None:
    loaded = config.load("[broker]\nheartbeat_interval_s = 2\n")
    assert loaded.broker.heartbeat_interval_s == 2.0
    assert isinstance(loaded.broker.heartbeat_interval_s, float)


def test_every_problem_is_reported_at_once_with_source_key_and_value() -> None:
    text = (
        "[broker]\nheartbeat_interval_s = -5\nheartbeat_liveness = true\n"
        "[titanic]\nnope = 1\n[attic]\nx = 1\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspy.toml")
    assert caught.value.problems == [
        "raspy.toml: broker.heartbeat_interval_s: expected a value >= 0, got -5",
        "raspy.toml: broker.heartbeat_liveness: expected an integer, got true",
        "raspy.toml: titanic.nope: unknown setting",
        "raspy.toml: attic: unknown setting",
    ]


def test_an_unknown_setting_says_where_it_is_or_what_it_may_mean() -> None:
    """`[http] port` is the first thing a newcomer writes for the web face, whose
    port is the port base's + 4; a unit left off a name is told the name."""
    text = (
        "[http]\nport = 8080\n[broker]\nheartbeat_interval = 2\n"
        "[clone]\nport = 1\n[titanic]\nzzz = 1\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspy.toml")
    assert caught.value.problems == [
        "raspy.toml: http.port: unknown setting "
        "(the web face listens on [network] port_base + 4)",
        "raspy.toml: broker.heartbeat_interval: unknown setting "
        "(did you mean heartbeat_interval_s?)",
        "raspy.toml: clone.port: unknown setting "
        "(Clone listens on [network] port_base + 1, + 2 and + 3)",
        "raspy.toml: titanic.zzz: unknown setting",
    ]


def test_an_unknown_top_level_key_says_its_section_or_what_it_may_mean() -> None:
    """A section's setting written above every header is told its section; a
    misspelt section header its likely name."""
    text = 'port_base = 6514\nlog_levle = "info"\n[htp]\nenabled = true\n'
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspy.toml")
    assert caught.value.problems == [
        "raspy.toml: port_base: unknown setting "
        "(a setting of [network]: write it under that header)",
        "raspy.toml: log_levle: unknown setting (did you mean log_level?)",
        "raspy.toml: htp: unknown setting (did you mean http?)",
    ]


def test_a_sections_table_written_at_the_top_is_told_its_header() -> None:
    """`[[fake]]` under `[devices]` is still a top-level table in TOML: it was told
    to be written under [devices], which it was. Its header is named; a setting
    that is several sections' is told so."""
    text = 'enabled = true\n[devices]\nfake_enabled = true\n[[fake]]\nname = "lamp"\n'
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspy.toml")
    enabled, fake = caught.value.problems
    assert enabled.startswith("raspy.toml: enabled: unknown setting (a setting of [")
    assert "[mqtt]" in enabled
    assert enabled.endswith("]: under which?)")
    assert fake == (
        "raspy.toml: fake: unknown setting "
        "(a table of [devices]: write its header [[devices.fake]])"
    )


def test_invalid_toml_names_the_source() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load("[broker\n", "raspy.toml")
    assert caught.value.problems[0].startswith("raspy.toml: not valid TOML: ")


def test_port_base_must_leave_room_for_the_three_clone_ports() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load("[network]\nport_base = 65534\n", "f")
    assert caught.value.problems == [
        "f: network.port_base: expected 1..65532, got 65534"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "[network]\nlinger_ms = 2147483648\n",
            "network.linger_ms: expected 0..60000, got 2147483648",
        ),
        (
            "[broker]\nheartbeat_interval_s = 1e-9\n",
            "broker.heartbeat_interval_s: expected seconds in 0.1..3.75, got 1e-09",
        ),
        (
            "[broker]\nheartbeat_interval_s = 3601\n",
            "broker.heartbeat_interval_s: expected seconds in 0.1..3.75, got 3601.0",
        ),
        (
            "[broker]\nbusy_timeout_s = 0\n",
            "broker.busy_timeout_s: expected seconds in 1..31536000, got 0.0",
        ),
        (
            "[broker]\nrequest_ttl_s = 0\n",
            "broker.request_ttl_s: expected seconds in 1..31536000, got 0.0",
        ),
        (
            "[broker]\nrequest_ttl_s = 1e12\n",
            "broker.request_ttl_s: expected seconds in 1..31536000, got 1000000000000.0",
        ),
        ("[broker]\nmax_frames = 0\n", "broker.max_frames: expected 16..1024, got 0"),
        (
            "[broker]\nmax_frames = 4611686018427387904\n",
            "broker.max_frames: expected 16..1024, got 4611686018427387904",
        ),
        (
            "[broker]\nmax_frame_bytes = 0\n",
            "broker.max_frame_bytes: expected 1024..1073741824, got 0",
        ),
        (
            "[broker]\nmax_message_bytes = 0\n",
            "broker.max_message_bytes: expected 1024..1073741824, got 0",
        ),
        (
            "[store]\nmap_size_max_mb = 0\n",
            "store.map_size_max_mb: expected 1..1048576, got 0",
        ),
        (
            "[store]\nmap_size_initial_mb = 0\n",
            "store.map_size_initial_mb: expected 1..map_size_max_mb (1024), got 0",
        ),
        (
            "[store]\nmap_size_max_mb = 4611686018427387904\n",
            "store.map_size_max_mb: expected 1..1048576, got 4611686018427387904",
        ),
        (
            "[store]\nmap_size_initial_mb = 2048\n",
            "store.map_size_initial_mb: expected 1..map_size_max_mb (1024), got 2048",
        ),
        (
            "[store]\nmax_value_bytes = 0\n",
            "store.max_value_bytes: expected 8192..1073741824, got 0",
        ),
        (
            "[store]\ncoalesce_interval_s = 1e-9\n",
            "store.coalesce_interval_s: expected 0 (off) or seconds in 0.1..3600, got 1e-09",
        ),
        (
            "[store]\ncoalesce_interval_s = 86400\n",
            "store.coalesce_interval_s: expected 0 (off) or seconds in 0.1..3600, got 86400.0",
        ),
        (
            "[titanic]\nmax_body_bytes = 0\n",
            "titanic.max_body_bytes: expected 1..1073741824, got 0",
        ),
        (
            "[titanic]\nmax_reply_bytes = 0\n",
            "titanic.max_reply_bytes: expected 1..1073741824, got 0",
        ),
        (
            "[titanic]\nretention_s = 1e-9\n",
            "titanic.retention_s: expected 0 (off) or seconds in 1..31536000, got 1e-09",
        ),
        (
            "[titanic]\ndispatch_timeout_s = 0\n",
            "titanic.dispatch_timeout_s: expected seconds in 0.1..31536000, got 0.0",
        ),
        (
            "[titanic]\nretry_initial_s = 0\n",
            "titanic.retry_initial_s: expected seconds in 0.1..31536000, got 0.0",
        ),
        (
            "[titanic]\nretry_max_s = 0.5\n",
            "titanic.retry_max_s: expected >= retry_initial_s (1.0), got 0.5",
        ),
        (
            "[titanic]\ndispatch_window = 0\n",
            "titanic.dispatch_window: expected 1..10000, got 0",
        ),
        (
            "[titanic]\nservice_workers = 0\n",
            "titanic.service_workers: expected 1..64, got 0",
        ),
        (
            "[titanic]\nservice_workers = 4611686018427387904\n",
            "titanic.service_workers: expected 1..64, got 4611686018427387904",
        ),
        (
            "[clone]\nsnapshot_chunk = 0\n",
            "clone.snapshot_chunk: expected 1..10000, got 0",
        ),
        (
            "[clone]\nsnapshot_chunk = 4611686018427387904\n",
            "clone.snapshot_chunk: expected 1..10000, got 4611686018427387904",
        ),
        (
            "[devices]\nonewire_poll_interval_s = 0\n",
            "devices.onewire_poll_interval_s: expected seconds in 0.1..86400, got 0.0",
        ),
        (
            "[devices]\nclock_health_interval_s = 1e-9\n",
            "devices.clock_health_interval_s: expected 0 (off) or seconds in 0.1..86400, got 1e-09",
        ),
        (
            "[devices]\nclock_health_interval_s = 1e12\n",
            "devices.clock_health_interval_s: expected 0 (off) or seconds in 0.1..86400, got 1000000000000.0",
        ),
        (
            "[devices]\noffline_after_s = 1e-9\n",
            "devices.offline_after_s: expected 0 (off) or seconds in 1..31536000, got 1e-09",
        ),
        (
            "[supervisor]\nrestart_initial_s = 0\n",
            "supervisor.restart_initial_s: expected seconds in 0.01..31536000, got 0.0",
        ),
        (  # README: every problem named with the file, the key and the value
            "[supervisor]\nrestart_initial_s = 10\nrestart_max_s = 5\n",
            "supervisor.restart_max_s: expected >= restart_initial_s (10.0), got 5.0",
        ),
        (
            "[supervisor]\nstable_s = 1e12\n",
            "supervisor.stable_s: expected seconds in 0..31536000, got 1000000000000.0",
        ),
        (
            "[supervisor]\nrestart_window_s = 0\n",
            "supervisor.restart_window_s: expected seconds in 1..31536000, got 0.0",
        ),
        (  # a healthy hub's handlers wait up to ~10 s: it was taken for hung
            "[supervisor]\nhung_after_s = 10\n",
            "supervisor.hung_after_s: expected seconds in 15..86400, got 10.0",
        ),
        (
            "[supervisor]\nstart_hung_after_s = 5\n",
            "supervisor.start_hung_after_s: expected seconds in 15..86400, got 5.0",
        ),
        (
            "[stats]\npublish_interval_s = 1e-9\n",
            "stats.publish_interval_s: expected 0 (off) or seconds in 0.1..86400, got 1e-09",
        ),
        (
            "[history]\nflush_interval_s = 0\n",
            "history.flush_interval_s: expected seconds in 1..3600, got 0.0",
        ),
        (
            "[http]\nsession_s = 1\n",
            "http.session_s: expected seconds in 60..31536000, got 1.0",
        ),
        (
            "[limits]\ntitanic_pending_requests = 0\n",
            "limits.titanic_pending_requests: expected 1..1000000, got 0",
        ),
        (
            "[limits]\ntitanic_pending_bytes = 0\n",
            "limits.titanic_pending_bytes: expected 1024..17179869184, got 0",
        ),
        (
            "[limits]\nclone_subscriber_queue_bytes = 0\n",
            "limits.clone_subscriber_queue_bytes: expected 1..1073741824, got 0",
        ),
        (
            "[limits]\nsnapshot_max_s = 0\n",
            "limits.snapshot_max_s: expected seconds in 1..31536000, got 0.0",
        ),
    ],
)
def test_a_number_that_makes_no_working_hub_is_refused(text: str, problem: str) -> None:
    """Each was accepted: a part failed at its start (a C int in zmq, LMDB's map, the
    broker's own check, the Clone server's queue), a loop ran without a pause (HUGZ,
    clock health, heartbeats), a thread's wait overflowed, or every message, write,
    request or snapshot was refused or cut off; 0 for a count was taken as 1."""
    with pytest.raises(ConfigError) as caught:
        config.load(text, "f")
    assert caught.value.problems == [f"f: {problem}"]


@pytest.mark.parametrize(
    "text",
    [
        "[network]\nlinger_ms = 0\n",
        "[network]\nlinger_ms = 60000\n",
        "[broker]\nheartbeat_interval_s = 0.1\nheartbeat_liveness = 50\n"
        "busy_timeout_s = 1\nrequest_ttl_s = 1\n",
        "[broker]\nheartbeat_interval_s = 3.75\nrequest_ttl_s = 31536000\n",
        "[broker]\nheartbeat_liveness = 2\n",
        "[broker]\nmax_frames = 16\nmax_frame_bytes = 1024\nmax_message_bytes = 1024\n",
        "[broker]\nmax_frames = 1024\n",
        "[store]\nmap_size_initial_mb = 1\nmap_size_max_mb = 1\n",
        "[store]\nmap_size_max_mb = 1048576\n",
        "[store]\ncoalesce_interval_s = 0\n",
        "[store]\ncoalesce_interval_s = 0.1\n",
        "[titanic]\nretention_s = 0\n",
        "[titanic]\nretention_s = 1\ndispatch_timeout_s = 0.1\n",
        "[titanic]\nretry_initial_s = 0.1\nretry_max_s = 0.1\ndispatch_window = 1\n",
        "[titanic]\nservice_workers = 64\nhandler_capacity = 0\n",
        "[titanic]\nmax_body_bytes = 1\nmax_reply_bytes = 1\n",
        "[clone]\nmax_value_bytes = 1024\nhugz_interval_s = 0.01\nsnapshot_chunk = 1\n",
        "[clone]\nsnapshot_chunk = 10000\nhugz_interval_s = 2.5\n",
        "[devices]\nonewire_poll_interval_s = 0.1\nclock_health_interval_s = 0\n",
        "[devices]\nclock_health_interval_s = 86400\noffline_after_s = 0\n",
        "[devices]\nclock_health_interval_s = 0.1\noffline_after_s = 1\n",
        "[supervisor]\nrestart_initial_s = 0.01\nstable_s = 0\n",
        "[stats]\npublish_interval_s = 0\n",
        "[stats]\npublish_interval_s = 0.1\n",
        "[history]\nflush_interval_s = 1\n",
        "[http]\nsession_s = 60\n",
        "[mqtt]\ncleanup_after_s = 0\n",
        "[limits]\ntitanic_pending_requests = 1\ntitanic_pending_bytes = 1024\n"
        "clone_subscriber_queue_bytes = 1\nsnapshot_max_s = 1\nlog_events_per_s = 0\n",
    ],
)
def test_the_edges_of_each_range_still_load(text: str) -> None:
    config.load(text, "f")


def test_every_bound_names_a_numeric_setting() -> None:
    """A key misspelt in BOUNDS would check nothing."""
    for key in config_bounds.BOUNDS:
        section, _, name = key.partition(".")
        fields = {f.name: f.type for f in dataclasses.fields(config._SECTIONS[section])}
        assert fields.get(name) in ("int", "float"), key


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "[broker]\nheartbeat_interval_s = 10\n",
            "broker.heartbeat_interval_s: expected seconds in 0.1..3.75, got 10.0",
        ),
        (
            "[broker]\nheartbeat_interval_s = 0.5\n",
            "broker.heartbeat_interval_s x heartbeat_liveness: expected >= 5 s (a "
            "worker heartbeats every 2.5 s), got 0.5 x 3",
        ),
        (
            "[broker]\nheartbeat_liveness = 1\n",
            "broker.heartbeat_interval_s x heartbeat_liveness: expected >= 5 s (a "
            "worker heartbeats every 2.5 s), got 2.5 x 1",
        ),
    ],
)
def test_heartbeats_raspys_workers_cannot_live_with_are_refused(
    text: str, problem: str
) -> None:
    """raspy's workers (raspy-poller, raspy.client.mdp.Worker) and zguide's send a
    HEARTBEAT every 2.5 s and take 3 x 2.5 s without a word from the broker for a
    lost broker, whatever raspyd's [broker] says. A broker that heartbeats every 10 s
    had every idle board reconnect every 7.5 s; one that gives a worker up after 1.5
    s of silence (0.5 x 3) dropped every idle board between two of its heartbeats
    (its next message then met DISCONNECT), so a request to it found no worker."""
    with pytest.raises(ConfigError) as caught:
        config.load(text, "f")
    assert caught.value.problems == [f"f: {problem}"]


@pytest.mark.parametrize("interval", ["0", "1e-9", "5", "60.0"])
def test_a_hugz_interval_clients_cannot_live_with_is_refused(interval: str) -> None:
    """0 would have the Clone server send HUGZ without a pause; a subtree client
    hears nothing else, so one every 5 s or more made raspy's clients (raspy-poller,
    raspy-kv watch) take the hub for dead and start over every 5 s (§6.5)."""
    with pytest.raises(ConfigError) as caught:
        config.load(f"[clone]\nhugz_interval_s = {interval}\n", "f")
    assert caught.value.problems == [
        "f: clone.hugz_interval_s: expected seconds in 0.01..2.5 (clients take "
        f"5 s of silence for a dead hub), got {float(interval)}"
    ]
    assert config.load("[clone]\nhugz_interval_s = 2.5\n").clone.hugz_interval_s == 2.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[clone]\nmax_key_bytes = 0\n", "expected 1..502 (history on), got 0"),
        ("[clone]\nmax_key_bytes = 503\n", "expected 1..502 (history on), got 503"),
        (
            "[clone]\nmax_key_bytes = 512\n[history]\nenabled = false\n",
            "expected 1..511, got 512",
        ),
    ],
)
def test_a_key_size_the_store_cannot_hold_is_refused(text: str, expected: str) -> None:
    """A Clone key over LMDB's 511 bytes failed every commit that carried it; with
    history on, a recorded key over 502 failed every history write (its row key is
    9 bytes longer); 0 refused every key."""
    with pytest.raises(ConfigError) as caught:
        config.load(text, "f")
    assert caught.value.problems == [f"f: clone.max_key_bytes: {expected}"]
    assert config.load("[clone]\nmax_key_bytes = 502\n").clone.max_key_bytes == 502
    alone = "[clone]\nmax_key_bytes = 511\n[history]\nenabled = false\n"
    assert config.load(alone).clone.max_key_bytes == 511


def test_the_key_limits_checked_are_the_stores() -> None:
    assert config_sizes.STORE_KEY_BYTES == tables.MAX_KEY_BYTES
    head = len(tables.history_row_key(10, 1, ""))
    assert head == config_sizes.HISTORY_ROW_KEY_HEAD


def test_log_level_and_format_are_closed_sets() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load('log_level = "loud"\nlog_format = "xml"\n', "f")
    assert caught.value.problems == [
        'f: log_level: expected one of debug, info, warning, error, got "loud"',
        'f: log_format: expected one of auto, console, json, got "xml"',
    ]


_SCALARS = st.one_of(
    st.integers(-10, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=3),
)
_KEYS = st.sampled_from(
    ["port_base", "bind", "heartbeat_interval_s", "group_commit", "nope", "enabled"]
)
_SECTIONS = st.sampled_from(
    ["network", "broker", "store", "titanic", "clone", "devices", "other"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_SECTIONS, st.dictionaries(_KEYS, _SCALARS, max_size=4), max_size=4)
)
def test_any_document_gives_a_config_or_a_config_error(
    document: dict[str, Any],
) -> None:
    """Bad input anywhere is a typed error with a message, never another exception."""
    problems: list[str] = []
    loaded: config.Config | None = None
    try:
        loaded = config.from_mapping(document, "doc")
    except ConfigError as exc:
        problems = exc.problems
    if loaded is None:
        assert problems
        assert all(problem.startswith("doc: ") for problem in problems)


def test_core_section_defaults_and_values() -> None:
    assert config.load("").core == config.CoreConfig()
    text = (
        '[core]\ntimezone = "Europe/Berlin"\nlatitude = -33.9\nlongitude = -18.4\n'
        'max_runs_per_minute = 5\npreload_dir = "scenarios"\nenabled = false\n'
    )
    assert config.load(text).core == config.CoreConfig(
        enabled=False,
        timezone="Europe/Berlin",
        latitude=-33.9,
        longitude=-18.4,
        max_runs_per_minute=5,
        preload_dir="scenarios",
    )
    assert config.load(text).core.has_location
    assert not config.CoreConfig().has_location


def test_titanic_bodies_must_fit_in_one_stored_value() -> None:
    """A request or reply the store refuses would be answered 500 for ever, or run
    again and again without being stored (docs/protocols.md §5.5)."""
    with pytest.raises(ConfigError) as caught:
        config.load("[titanic]\nmax_reply_bytes = 2000000\n", "f")
    assert caught.value.problems == [
        "f: titanic.max_reply_bytes: expected at most 1048192 (store.max_value_bytes "
        "less the record around 64 frames), got 2000000"
    ]
    with pytest.raises(ConfigError) as caught:
        config.load("[store]\nmax_value_bytes = 200000\n", "f")
    assert [problem.split(":")[1] for problem in caught.value.problems] == [
        " titanic.max_body_bytes",
        " titanic.max_reply_bytes",
    ]
    both = "[store]\nmax_value_bytes = 4194304\n[titanic]\nmax_reply_bytes = 4000000\n"
    assert config.load(both).titanic.max_reply_bytes == 4_000_000
    # Titanic off stores nothing: a small store is no problem of its sizes (as a
    # Clone server that is off), and turning it on again is checked then
    off = "[store]\nmax_value_bytes = 200000\n[titanic]\nenabled = false\n"
    assert config.load(off).store.max_value_bytes == 200_000


@pytest.mark.parametrize("frames", [16, 64, 1024])  # broker.max_frames: 16..1024
def test_the_largest_titanic_body_allowed_is_stored(frames: int) -> None:
    """At the bound: a request of that many bytes (a 255-byte target and `frames`
    frames) and a reply of as many make records the store takes."""
    limit = 1_048_576
    text = f"[store]\nmax_value_bytes = {limit}\n[broker]\nmax_frames = {frames}\n"
    most = limit - 64 - 5 * frames
    with pytest.raises(ConfigError):
        config.load(text + f"[titanic]\nmax_body_bytes = {most + 1}\n")
    config.load(
        text + f"[titanic]\nmax_body_bytes = {most}\nmax_reply_bytes = {most}\n"
    )
    body = [b"x" * (most - 255 - frames + 1)] + [b"x"] * (frames - 1)
    request = tables.TitanicRequestRecord(b"s" * 255, tuple(body), 1e9)
    reply = tables.TitanicReplyRecord(
        (b"x" * (most - frames + 1),) + (b"x",) * (frames - 1), 1e9
    )
    assert len(tables.encode_titanic_request(request)) <= limit
    assert len(tables.encode_titanic_reply(reply)) <= limit


def test_clone_values_must_fit_in_one_stored_value() -> None:
    """A value the Clone server takes but the store refuses failed its whole group
    commit: every other update of that loop turn was lost with it."""
    with pytest.raises(ConfigError) as caught:
        config.load("[clone]\nmax_value_bytes = 2000000\n", "f")
    assert caught.value.problems == [
        "f: clone.max_value_bytes: expected 1..1044288 (store.max_value_bytes less "
        "the record around it), got 2000000"
    ]
    text = "[titanic]\nmax_body_bytes = 1000\nmax_reply_bytes = 1000\n"
    for store in (
        "[store]\nmax_value_bytes = 60000\n",
        "[clone]\nmax_value_bytes = 0\n",
    ):
        with pytest.raises(ConfigError) as caught:
            config.load(text + store, "f")
        assert [problem.split(":")[1] for problem in caught.value.problems] == [
            " clone.max_value_bytes"
        ]
    off = "[store]\nmax_value_bytes = 60000\n[clone]\nenabled = false\n"
    assert config.load(text + off).store.max_value_bytes == 60_000


def test_clone_values_must_fit_in_one_frame_of_the_servers_sockets() -> None:
    """The Clone server's sockets drop a peer that sends a frame over 4 MiB: with a
    store that holds more, a larger value was taken by the config and then never
    arrived from any client (it resent it until it gave up)."""
    store = "[store]\nmax_value_bytes = 16777216\n"
    most = clone.MAX_FRAME_BYTES
    assert most == 4 * 1024 * 1024
    config.load(f"{store}[clone]\nmax_value_bytes = {most}\n", "f")
    with pytest.raises(ConfigError) as caught:
        config.load(f"{store}[clone]\nmax_value_bytes = {most + 1}\n", "f")
    assert caught.value.problems == [
        "f: clone.max_value_bytes: expected 1..4194304 (the largest frame the Clone "
        "server's sockets take), got 4194305"
    ]
    off = f"{store}[clone]\nenabled = false\nmax_value_bytes = {most + 1}\n"
    assert config.load(off).clone.max_value_bytes == most + 1


def test_the_largest_clone_value_allowed_is_stored() -> None:
    """At the bound: the largest value with the largest properties frame (one
    property, as many short ones as fit, or 32-byte names and values, which grow
    most as msgpack) and a ttl makes a record the store takes."""
    limit = 1_048_576
    most = limit - 64 - clone.MAX_PROPS_BYTES - clone.MAX_PROPS_BYTES // 32
    with pytest.raises(ConfigError):
        config.load(f"[clone]\nmax_value_bytes = {most + 1}\n")
    config.load(f"[clone]\nmax_value_bytes = {most}\n")
    one = b"p=" + b"v" * (clone.MAX_PROPS_BYTES - 3) + b"\n"
    many = b"".join(b"%x=\n" % n for n in range(4096))[: clone.MAX_PROPS_BYTES]
    str8 = b"".join(b"%032d=%s\n" % (n, b"v" * 32) for n in range(62))  # 4092 B
    for frame in (one, many[: many.rindex(b"\n") + 1], str8):
        props = dict(clone.decode_props(frame))
        record = tables.encode_kv(clone.MAX_SEQ, b"x" * most, props, clone.MAX_TTL_S)
        assert len(record) <= limit


def test_core_section_problems_name_file_key_and_value() -> None:
    text = (
        '[core]\ntimezone = "Mars/Olympus"\nlatitude = 91\nlongitude = -181\n'
        "max_runs_per_minute = 0\nenabled = 1\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.load(text, "raspy.toml")
    assert caught.value.problems == [
        "raspy.toml: core.enabled: expected true or false, got 1",
        "raspy.toml: core.timezone: expected an IANA zone name such as "
        'Europe/Berlin, got "Mars/Olympus"',
        "raspy.toml: core.latitude: expected -90..90, got 91.0",
        "raspy.toml: core.longitude: expected -180..180, got -181.0",
        "raspy.toml: core.max_runs_per_minute: expected 1..60000, got 0",
    ]


@pytest.mark.parametrize("number", ["nan", "inf", "-inf"])
def test_a_float_setting_must_be_finite(number: str) -> None:
    """nan passed every range check after it (nan <= 0 is false): a nan heartbeat
    or an inf HUGZ interval was accepted and broke the daemon at run time."""
    text = (
        f"[broker]\nheartbeat_interval_s = {number}\n"
        f"[clone]\nhugz_interval_s = {number}\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.load(text, "f")
    assert caught.value.problems == [
        f"f: broker.heartbeat_interval_s: expected a finite number, got {number}",
        f"f: clone.hugz_interval_s: expected a finite number, got {number}",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            'hostname = "my host"\n',
            "f: hostname: expected 1-64 ASCII letters, digits, '_' or '-', "
            'starting with a letter or digit, got "my host"',
        ),
        (
            '[network]\nbind = "not an ip"\n',
            "f: network.bind: expected an IP address, a host or interface name, "
            'or *, got "not an ip"',
        ),
        # the folder raspyd is started in: a store made there, its mode set to 0700
        ('data_dir = ""\n', 'f: data_dir: expected a path, got ""'),
    ],
    ids=["hostname", "bind", "data_dir"],
)
def test_names_the_start_would_trip_on_are_refused_here(
    text: str, problem: str
) -> None:
    """A hostname with a space was named by the device check as `devices.fake:
    hostname …` (and only once the rest was fixed); a bind address with spaces passed
    and raspyd failed at start with 'No such device'."""
    with pytest.raises(ConfigError) as caught:
        config.load(text, "f")
    assert caught.value.problems == [problem]


@pytest.mark.parametrize("bind", ["*", "127.0.0.1", "::1", "eth0", "pi.local", ""])
def test_usual_bind_addresses_pass(bind: str) -> None:
    assert config.load(f'[network]\nbind = "{bind}"\n', "f").network.bind == bind


def _keys_of(section: type[Any]) -> list[str]:
    return [field.name for field in dataclasses.fields(section)]


# every value a TOML file can hold: dates and times too, integers past a float, nan
_TOML_SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.text(max_size=10),
    st.datetimes(),
    st.datetimes(timezones=st.just(datetime.UTC)),
    st.dates(),
    st.times(),
)
_TOML_VALUES = st.recursive(
    _TOML_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_SECTION_TABLES = st.sampled_from(sorted(config._SECTIONS)).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.dictionaries(
            st.sampled_from([*_keys_of(config._SECTIONS[name]), "nope"]),
            _TOML_VALUES,
            max_size=4,
        ),
    )
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_SECTION_TABLES, max_size=4),
    st.dictionaries(st.sampled_from(config._TOP_LEVEL), _TOML_VALUES, max_size=2),
)
def test_any_toml_value_at_any_real_key_gives_a_config_or_a_config_error(
    tables: list[tuple[str, dict[str, Any]]], top: dict[str, Any]
) -> None:
    """Every section and key raspy knows, each with any type TOML reads (a date, a
    time, an integer no float holds, nan): a Config or a ConfigError naming the file."""
    document: dict[str, Any] = {**top, **dict(tables)}
    problems = ["doc: "]
    try:
        config.from_mapping(document, "doc")
    except ConfigError as exc:
        problems = exc.problems
    assert problems
    assert all(problem.startswith("doc: ") for problem in problems)


@settings(deadline=None)
@given(st.text(max_size=80))
def test_any_text_loads_or_raises_a_config_error(text: str) -> None:
    """The file itself: any text is TOML that gives a Config, or a ConfigError."""
    problems: list[str] = []
    try:
        config.load(text, "f")
    except ConfigError as exc:
        problems = exc.problems
    assert all(problem.startswith("f: ") for problem in problems)


def _every_section(loaded: config.Config) -> dict[str, Any]:
    return {name: getattr(loaded, name) for name in config._SECTIONS}


def test_a_map_past_what_a_32_bit_process_can_map_is_refused_there() -> None:
    """A 32-bit process (Raspberry Pi OS armhf) has 2 GB of address space: a map
    allowed up to a TiB grew until LMDB found no room, and every write failed."""
    big = {"store": config.StoreConfig(map_size_max_mb=2048)}
    assert config_checks.section_problems(big, "f", word_bits=32) == [
        "f: store.map_size_max_mb: expected 1..1536 on this 32-bit platform (the "
        "most its address space leaves for the map), got 2048"
    ]
    assert config_checks.section_problems(big, "f", word_bits=64) == []
    edge = {"store": config.StoreConfig(map_size_max_mb=1536)}
    assert config_checks.section_problems(edge, "f", word_bits=32) == []
    # past the 64-bit bound: named once, by the bound that holds everywhere
    huge = {"store": config.StoreConfig(map_size_max_mb=2**21)}
    problems = config_checks.section_problems(huge, "f", word_bits=32)
    assert problems == ["f: store.map_size_max_mb: expected 1..1048576, got 2097152"]


def test_the_platforms_word_size_is_the_default() -> None:
    bits = 32 if sys.maxsize < 2**32 else 64
    assert bits == config_sizes.PLATFORM_BITS
    big = {"store": config.StoreConfig(map_size_max_mb=2048)}
    assert bool(config_checks.section_problems(big, "f")) == (bits == 32)


@pytest.mark.parametrize("name", ["raspyd.toml", "raspy-poller.toml", "run.toml"])
def test_the_shipped_configs_and_the_defaults_pass_on_a_32_bit_pi(name: str) -> None:
    text = (DEFAULTS / name).read_text(encoding="utf-8")
    loaded = config.load(text, name)
    assert (
        config_checks.section_problems(_every_section(loaded), name, word_bits=32) == []
    )
    defaults = _every_section(config.Config())
    assert config_checks.section_problems(defaults, "defaults", word_bits=32) == []


@pytest.mark.parametrize("zone", ["Europe", "America/"])
def test_a_timezone_that_names_a_folder_of_zones_is_a_problem_of_core_timezone(
    zone: str,
) -> None:
    """`Europe` (the region without its city) is a folder of the zone database:
    ZoneInfo raised IsADirectoryError, which the check let through, and raspyd
    said only the folder's path, naming neither the file nor the setting."""
    with pytest.raises(ConfigError) as caught:
        config.load(f'[core]\ntimezone = "{zone}"\n', "raspy.toml")
    assert caught.value.problems == [
        "raspy.toml: core.timezone: expected an IANA zone name such as "
        f'Europe/Berlin, got "{zone}"'
    ]
