"""Every numeric setting of raspyd's config has an upper bound: a huge value is refused
by `raspyd --check-config` (the start's own check), naming the key and its range.
Without one, 10**30 passed and failed deep inside: the edge's ZMQ_MAXMSGSIZE (a C
int64) at its start, with raspyd then hung; the core's reply to `config` (msgpack)
at every start of the core; the rest bounded nothing."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from raspy import config
from raspy.cli import poller, raspyd

pytestmark = pytest.mark.timeout(30)

HUGE_INT = 10**30
HUGE_FLOAT = 1e30
YEAR = "31536000"
GIB = "1073741824"
GIB_16 = "17179869184"

# each numeric setting and the range its refusal names
RANGES = {
    "network.port_base": "1..65532",
    "network.linger_ms": "0..60000",
    "broker.heartbeat_interval_s": "seconds in 0.1..3.75",
    "broker.heartbeat_liveness": "1..1000",
    "broker.busy_timeout_s": f"seconds in 1..{YEAR}",
    "broker.request_ttl_s": f"seconds in 1..{YEAR}",
    "broker.max_frames": "16..1024",
    "broker.max_frame_bytes": f"1024..{GIB}",
    "broker.max_message_bytes": f"1024..{GIB}",
    "store.map_size_initial_mb": "1..map_size_max_mb (1024)",
    "store.map_size_max_mb": "1..1048576",
    "store.max_value_bytes": f"8192..{GIB}",
    "store.coalesce_interval_s": "0 (off) or seconds in 0.1..3600",
    "store.seq_block": "1..1000000",
    "titanic.max_body_bytes": f"1..{GIB}",
    "titanic.retention_s": f"0 (off) or seconds in 1..{YEAR}",
    "titanic.dispatch_timeout_s": f"seconds in 0.1..{YEAR}",
    "titanic.retry_initial_s": f"seconds in 0.1..{YEAR}",
    "titanic.retry_max_s": f"seconds in 0.1..{YEAR}",
    "titanic.max_reply_bytes": f"1..{GIB}",
    "titanic.dispatch_window": "1..10000",
    "titanic.service_workers": "1..64",
    "titanic.handler_capacity": "0..1000000",
    "clone.max_key_bytes": "1..502 (history on)",
    "clone.max_value_bytes": (
        "1..1044288 (store.max_value_bytes less the record around it)"
    ),
    "clone.hugz_interval_s": (
        "seconds in 0.01..2.5 (clients take 5 s of silence for a dead hub)"
    ),
    "clone.snapshot_chunk": "1..10000",
    "devices.onewire_poll_interval_s": "seconds in 0.1..86400",
    "devices.clock_health_interval_s": "0 (off) or seconds in 0.1..86400",
    "devices.offline_after_s": f"0 (off) or seconds in 1..{YEAR}",
    "supervisor.restart_initial_s": f"seconds in 0.01..{YEAR}",
    "supervisor.restart_max_s": f"seconds in 0.01..{YEAR}",
    "supervisor.stable_s": f"seconds in 0..{YEAR}",
    "supervisor.max_restarts": "1..10000",
    "supervisor.restart_window_s": f"seconds in 1..{YEAR}",
    "supervisor.hung_after_s": "seconds in 15..86400",
    "supervisor.start_hung_after_s": "seconds in 15..86400",
    "stats.publish_interval_s": "0 (off) or seconds in 0.1..86400",
    "core.latitude": "-90..90",
    "core.longitude": "-180..180",
    "core.max_runs_per_minute": "1..60000",
    "history.flush_interval_s": "seconds in 1..3600",
    "http.session_s": f"seconds in 60..{YEAR}",
    "http_client.max_concurrent": "1..16",
    "mqtt.port": "1..65535",
    "mqtt.qos": "0, 1 or 2",
    "mqtt.buffer_max_messages": "1..1000000",
    "mqtt.cleanup_after_s": "seconds in 0..3600",
    "limits.broker_queue_bytes_per_service": f"1..{GIB_16}",
    "limits.broker_queue_bytes_total": f"1..{GIB_16}",
    "limits.broker_queue_requests_per_service": "1..10000000",
    "limits.max_services": "1..1000000",
    "limits.max_workers": "1..1000000",
    "limits.titanic_pending_requests": "1..1000000",
    "limits.titanic_pending_bytes": f"1024..{GIB_16}",
    "limits.clone_subscriber_queue_bytes": f"1..{GIB}",
    "limits.snapshot_max_s": f"seconds in 1..{YEAR}",
    "limits.snapshot_stall_s": f"seconds in 0.1..{YEAR}",
    "limits.log_events_per_s": "0 (off) or 1..10000",
    "link.heartbeat_interval_s": "seconds in 0.1..60",
    "link.heartbeat_liveness": "1..1000",
    "link.reconnect_initial_s": "seconds in 0.1..3600",
    "link.reconnect_max_s": "seconds in 0.1..3600",
    "link.hub_check_every_s": "seconds in 1..86400",
    "link.hub_check_timeout_s": "seconds in 0.1..60",
    "link.hub_heartbeat_interval_s": "seconds in 0.1..3.75",
    "link.hub_heartbeat_liveness": "1..1000",
}


def _numeric_settings() -> dict[str, str]:
    """Every int or float setting of every section, with its type."""
    return {
        f"{name}.{field.name}": str(field.type)
        for name, section in config._SECTIONS.items()
        for field in dataclasses.fields(section)
        if field.type in ("int", "float")
    }


def test_the_table_has_every_numeric_setting() -> None:
    """A new setting is added here with its range, or this fails."""
    assert sorted(_numeric_settings()) == sorted(RANGES)


@pytest.mark.parametrize("key", sorted(RANGES))
def test_a_huge_value_is_refused_by_name_with_its_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    section, _, field = key.partition(".")
    kind = _numeric_settings()[key]
    value, said = (HUGE_INT, str(HUGE_INT)) if kind == "int" else (HUGE_FLOAT, "1e+30")
    path = tmp_path / "raspyd.toml"
    path.write_text(f"[{section}]\n{field} = {value}\n", encoding="utf-8")
    if section in config.RASPYD_UNUSED:  # raspy-poller's: raspyd reads past it
        board = ["--connect", "tcp://127.0.0.1:5514", "--service", "fake"]
        tool, status = "raspy-poller", poller.main([*board, "--config", str(path)])
    else:
        tool, status = "raspyd", raspyd.main(["--check-config", str(path)])
    assert status == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{tool}: {path}: {key}: expected {RANGES[key]}, got {said}"
    ]


def test_an_integer_past_pythons_digits_is_named_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tomllib's int() of 4301 decimal digits raised a plain ValueError: raspyd
    said `internal error` and exited 70, as for a bug."""
    path = tmp_path / "raspyd.toml"
    digits = "1" + "0" * 5000
    path.write_text(f"[broker]\n\nheartbeat_liveness = {digits}\n", encoding="utf-8")
    assert raspyd.main(["--check-config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"raspyd: {path}: not valid TOML: an integer of over 4300 digits (at line 3)"
    ]


def test_a_value_nested_too_deeply_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tomllib recurses once a level: a thousand `[` raised RecursionError, which
    raspyd said as `internal error` and exit 70, as for a bug (the secrets file
    already said it)."""
    path = tmp_path / "raspyd.toml"
    depth = (
        sys.getrecursionlimit() + 100
    )  # a level a frame at least, whatever the limit
    path.write_text("[broker]\nheartbeat_liveness = " + "[" * depth + "\n")
    assert raspyd.main(["--check-config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"raspyd: {path}: not valid TOML: nested too deeply"
    ]
