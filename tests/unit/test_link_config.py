"""raspy-poller's [link]: its timings read from the file, each in its bounds, the
ones that cannot work together refused, every problem named with the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspy import config
from raspy.cli import EXIT_USAGE, poller
from raspy.cli.board_probe import CHECK_EVERY_S, PROBE_TIMEOUT_S, WORKER_EXPIRY_S
from raspy.client.mdp import Worker
from raspy.config import LinkConfig
from raspy.errors import ConfigError

pytestmark = pytest.mark.timeout(30)


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.load(text, "board.toml")
    return caught.value.problems


def test_a_file_without_link_gets_the_timings_the_board_had_in_code() -> None:
    link = config.load("", "board.toml").link
    assert link == LinkConfig()
    defaults = Worker.__init__.__kwdefaults__
    assert defaults is not None
    assert link.heartbeat_interval_s == defaults["heartbeat_interval_s"]
    assert link.heartbeat_liveness == defaults["heartbeat_liveness"]
    assert link.reconnect_initial_s == defaults["reconnect_initial_s"]
    assert link.reconnect_max_s == defaults["reconnect_max_s"]
    assert link.hub_check_every_s == CHECK_EVERY_S
    assert link.hub_check_timeout_s == PROBE_TIMEOUT_S
    # the hub's defaults: 3 x 2.5 s, and a heartbeat of ours on top
    assert link.worker_expiry_s == WORKER_EXPIRY_S == 10.0
    broker = config.load("", "hub.toml").broker
    assert link.hub_heartbeat_interval_s == broker.heartbeat_interval_s
    assert link.hub_heartbeat_liveness == broker.heartbeat_liveness


def test_each_timing_is_read_from_the_file() -> None:
    text = (
        "[link]\nheartbeat_interval_s = 0.5\nheartbeat_liveness = 6\n"
        "reconnect_initial_s = 0.5\nreconnect_max_s = 4\nhub_check_every_s = 3\n"
        "hub_check_timeout_s = 1.5\nhub_heartbeat_interval_s = 0.5\n"
        "hub_heartbeat_liveness = 10\n"
    )
    link = config.load(text, "board.toml").link
    assert link == LinkConfig(0.5, 6, 0.5, 4.0, 3.0, 1.5, 0.5, 10)
    assert link.silence_s == 3.0
    assert link.worker_expiry_s == 5.5


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("heartbeat_interval_s = 0", "expected seconds in 0.1..60, got 0.0"),
        ("heartbeat_interval_s = 61.0", "expected seconds in 0.1..60, got 61.0"),
        ("heartbeat_liveness = 0", "expected 1..1000, got 0"),
        ("heartbeat_liveness = 2.5", "expected an integer, got 2.5"),
        ("reconnect_initial_s = 0.01", "expected seconds in 0.1..3600, got 0.01"),
        ("reconnect_max_s = 1e9", "expected seconds in 0.1..3600, got 1000000000.0"),
        ("hub_check_every_s = 0.5", "expected seconds in 1..86400, got 0.5"),
        ("hub_check_timeout_s = -1", "expected a value >= 0, got -1"),
        ("hub_heartbeat_interval_s = 4.0", "expected seconds in 0.1..3.75, got 4.0"),
        ("hub_heartbeat_liveness = 1001", "expected 1..1000, got 1001"),
        ("hub_check_every_s = true", "expected a finite number, got true"),
    ],
)
def test_a_timing_out_of_its_bounds_is_named_with_the_file(
    line: str, problem: str
) -> None:
    key = line.split(" = ", maxsplit=1)[0]
    assert _problems(f"[link]\n{line}\n") == [f"board.toml: link.{key}: {problem}"]


def test_a_reconnect_max_under_the_initial_delay_is_refused() -> None:
    text = "[link]\nreconnect_initial_s = 5\nreconnect_max_s = 2\n"
    assert _problems(text) == [
        "board.toml: link.reconnect_max_s: expected >= reconnect_initial_s (5.0), "
        "got 2.0"
    ]


def test_a_board_silence_shorter_than_two_hub_heartbeats_is_refused() -> None:
    """The board would take a hub that heartbeats every 2.5 s for lost after 1 s."""
    text = "[link]\nheartbeat_interval_s = 0.5\nheartbeat_liveness = 2\n"
    assert _problems(text) == [
        "board.toml: link.heartbeat_interval_s x heartbeat_liveness: expected >= 2 x "
        "hub_heartbeat_interval_s (5 s: two of the hub's heartbeats), got 0.5 x 2"
    ]


def test_a_heartbeat_the_hub_would_give_the_board_up_between_is_refused() -> None:
    text = "[link]\nheartbeat_interval_s = 4\nheartbeat_liveness = 3\n"
    assert _problems(text) == [
        "board.toml: link.heartbeat_interval_s: expected <= hub_heartbeat_interval_s "
        "x hub_heartbeat_liveness / 2 (3.75 s: the hub gives a board up after two "
        "of its heartbeats are missing), got 4.0"
    ]


def test_a_shorter_silence_is_taken_with_a_hub_that_heartbeats_faster() -> None:
    text = (
        "[link]\nheartbeat_interval_s = 0.5\nheartbeat_liveness = 2\n"
        "hub_heartbeat_interval_s = 0.5\nhub_heartbeat_liveness = 10\n"
    )
    assert config.load(text, "board.toml").link.silence_s == 1.0


def test_a_timing_out_of_bounds_is_not_checked_against_the_others_too() -> None:
    text = "[link]\nheartbeat_interval_s = 0\nheartbeat_liveness = 2\n"
    assert _problems(text) == [
        "board.toml: link.heartbeat_interval_s: expected seconds in 0.1..60, got 0.0"
    ]


def test_an_unknown_link_key_gets_a_hint() -> None:
    (problem,) = _problems("[link]\nheartbeat_livenes = 4\n")
    assert problem.startswith("board.toml: link.heartbeat_livenes: unknown setting")
    assert "heartbeat_liveness" in problem


def test_raspy_poller_refuses_a_link_that_cannot_work_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "board.toml"
    path.write_text("[link]\nreconnect_initial_s = 9\nreconnect_max_s = 3\n")
    argv = ["--connect", "tcp://127.0.0.1:5514", "--service", "fake"]
    assert poller.main([*argv, "--config", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"raspy-poller: {path}: link.reconnect_max_s: expected >=")
    assert "Traceback" not in err
