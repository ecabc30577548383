"""What a board's config asks for that raspy-poller does not serve.

A household adds a relay's `[[devices.gpio]]` table to the garage board's
raspy-poller.toml: raspy-poller serves one service, onewire or fake, so the relay
never appears; the board's log must say so rather than pass over it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.daemon import complete_text, running_poller
from support.net import free_port_base
from support.sysfs import FakeW1Tree
from support.wait import wait_until

BOARD_TOML = """\
[devices]
onewire_base_dir = "{base}"
gpio_enabled = true
pin_factory = "mock"

[[devices.onewire]]
name = "freezer"
sensor_id = "28-0316a2792aff"

[[devices.gpio]]
name = "light"
oid = "switch"
pin = 17
"""


def _events(log: Path) -> list[dict[str, object]]:
    lines = (
        complete_text(log.read_text(encoding="utf-8")).splitlines()
        if log.exists()
        else []
    )
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.mark.timeout(60)
def test_a_board_says_which_keys_of_its_config_it_does_not_serve(
    tmp_path: Path,
) -> None:
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius("28-0316a2792aff", -18.0)
    config = tmp_path / "garage.toml"
    config.write_text(BOARD_TOML.format(base=w1.base_dir), encoding="utf-8")
    log = tmp_path / "poller.log"
    hub = f"tcp://127.0.0.1:{free_port_base()}"  # none there: the log comes first
    args = ("--service", "onewire", "--config", str(config), "--hostname", "garage")
    with running_poller(hub, log, *args):
        said = wait_until(
            lambda: [e for e in _events(log) if e.get("event") == "config_not_used"],
            what="config_not_used in the board's log",
            timeout_s=20,
        )
    assert said[0]["keys"] == ["devices.gpio_enabled", "devices.gpio"]
    assert said[0]["level"] == "warning"
    assert "raspyd" in str(said[0]["reason"])


@pytest.mark.timeout(60)
def test_a_board_whose_config_is_all_its_own_says_nothing_of_it(
    tmp_path: Path,
) -> None:
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius("28-0316a2792aff", -18.0)
    config = tmp_path / "garage.toml"
    config.write_text(
        f'[devices]\nonewire_base_dir = "{w1.base_dir}"\n', encoding="utf-8"
    )
    log = tmp_path / "poller.log"
    hub = f"tcp://127.0.0.1:{free_port_base()}"
    args = ("--service", "onewire", "--config", str(config), "--hostname", "garage")
    with running_poller(hub, log, *args):
        wait_until(
            lambda: any(e.get("event") == "poller_started" for e in _events(log)),
            what="poller_started in the board's log",
            timeout_s=20,
        )
    assert not [e for e in _events(log) if e.get("event") == "config_not_used"]


# the hub's own sections and keys, each with a value raspyd refuses: the board's
# raspy-poller reads none of them
HUB_ONLY_BAD = """\
data_dir = ""
allow_root = "yes"
controls = 3

[mqtt]
port = "eighteen-eighty-three"

[http]
enabled = "yes"

[titanic]
retention_s = -1
"""


@pytest.mark.timeout(60)
def test_a_board_starts_past_a_bad_value_in_a_section_only_raspyd_reads(
    tmp_path: Path,
) -> None:
    """One file for the hub and its boards: raspy-poller refused to start (exit 2)
    over a bad `[mqtt]` or `[http]` value, which only raspyd reads. It reads its
    own keys only (docs/configuration.md), as raspyd reads past `[link]`."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius("28-0316a2792aff", -18.0)
    config = tmp_path / "raspy.toml"
    config.write_text(
        f'{HUB_ONLY_BAD}\n[devices]\nonewire_base_dir = "{w1.base_dir}"\n',
        encoding="utf-8",
    )
    log = tmp_path / "poller.log"
    hub = f"tcp://127.0.0.1:{free_port_base()}"
    args = ("--service", "onewire", "--config", str(config), "--hostname", "garage")
    with running_poller(hub, log, *args) as poller:
        wait_until(
            lambda: (
                poller.poll() is not None
                or any(e.get("event") == "poller_started" for e in _events(log))
            ),
            what="poller_started in the board's log, or its exit",
            timeout_s=20,
        )
        assert poller.poll() is None, log.read_text(encoding="utf-8")


@pytest.mark.timeout(60)
def test_a_board_still_names_a_bad_value_in_its_own_sections(tmp_path: Path) -> None:
    config = tmp_path / "raspy.toml"
    config.write_text(
        '[mqtt]\nport = "x"\n\n[link]\nheartbeat_liveness = "x"\n', encoding="utf-8"
    )
    log = tmp_path / "poller.log"
    hub = f"tcp://127.0.0.1:{free_port_base()}"
    args = ("--service", "fake", "--config", str(config), "--hostname", "garage")
    with running_poller(hub, log, *args) as poller:
        assert poller.wait(timeout=30) == 2
    said = log.read_text(encoding="utf-8")
    assert "link.heartbeat_liveness: expected an integer" in said
    assert "mqtt" not in said
