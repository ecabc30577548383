"""raspy.mqtt_password: raspyd's start names an MQTT password others may read, in
its own file or written in the config, as it names a loose secrets file; and the
real raspyd says so in its log."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.daemon import Daemon
from support.mosquitto import running_mosquitto

from raspy import config
from raspy.mqtt_password import say_modes, say_unsent
from raspy.secrets_file import group_name

pytestmark = pytest.mark.timeout(60)


def _said(
    mqtt_toml: str,
    config_file: str | None,
    uid: int | None = None,
    groups: list[int] | None = None,
) -> list[dict[str, object]]:
    loaded = config.load(mqtt_toml, "raspyd.toml")
    with capture_logs() as logs:
        count = say_modes(loaded.mqtt, config_file, uid, groups)
    assert count == len(logs)
    return [{k: v for k, v in e.items() if k != "log_level"} for e in logs]


def test_a_password_file_the_group_or_others_may_read_is_named_with_its_fix(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mqtt-password"
    path.write_text("s3cret\n", encoding="utf-8")
    toml = f'[mqtt]\npassword_file = "{path}"\n'
    path.chmod(0o600)
    assert _said(toml, None) == []
    other = os.geteuid() + 1  # root's file in /etc/raspy: raspy reads it as its group
    path.chmod(0o640)
    assert _said(toml, None, uid=other) == []
    path.chmod(0o644)
    raspy = path.stat().st_gid + 1  # raspyd's group; root:root 0644, as sudo writes it
    assert _said(toml, None, uid=other, groups=[raspy]) == [
        {
            "component": "mqtt",
            "event": "mqtt_password_file_mode",
            "path": str(path),
            "mode": "0644",
            "reason": "the group or others may read or write the MQTT password",
            # a chmod 640 alone would leave raspyd, not in group root, unable to read it
            "fix": f"chgrp {group_name(raspy)} {path} && chmod 640 {path}",
        }
    ]
    own_group = [raspy, path.stat().st_gid]  # already raspy's group: the chmod will do
    assert _said(toml, None, uid=other, groups=own_group)[0]["fix"] == (
        f"chmod 640 {path}"
    )
    assert _said(toml, None)[0]["fix"] == f"chmod 600 {path}"  # raspyd's own file


def test_a_password_in_a_config_others_may_read_is_named(tmp_path: Path) -> None:
    """The shipped /etc/raspy/raspyd.toml offers `password =` and was installed 0644."""
    conf = tmp_path / "raspyd.toml"
    toml = '[mqtt]\npassword = "s3cret"\n'
    conf.write_text(toml, encoding="utf-8")
    other = os.geteuid() + 1
    conf.chmod(0o640)  # root:raspy, as make install-service installs it now
    assert _said(toml, str(conf), uid=other) == []
    assert _said("[mqtt]\n", str(conf), uid=other) == []
    conf.chmod(0o644)
    assert _said("[mqtt]\n", str(conf), uid=other) == []  # no password in it
    assert _said(toml, None, uid=other) == []  # the defaults: no file
    raspy = conf.stat().st_gid + 1  # an older install's root:root 0644
    assert _said(toml, str(conf), uid=other, groups=[raspy]) == [
        {
            "component": "mqtt",
            "event": "mqtt_password_in_readable_config",
            "path": str(conf),
            "mode": "0644",
            "reason": "mqtt.password is in a config file the group or others may read",
            "fix": f"chgrp {group_name(raspy)} {conf} && chmod 640 {conf}, or move"
            " it to a file named by mqtt.password_file",
        }
    ]


def _started_with(tmp_path: Path, config_text: str) -> tuple[Daemon, list[Any]]:
    """raspyd started with `config_text` in a file others may read, and its log."""
    daemon = Daemon(tmp_path / "data", config_text=config_text)
    assert daemon.config_path is not None
    daemon.config_path.chmod(0o604)  # others may read it, whoever owns it
    try:
        daemon.start()
    finally:
        daemon.kill()
    return daemon, [json.loads(line) for line in daemon.log_text().splitlines()]


def _events(lines: list[Any], event: str) -> list[Any]:
    return [e for e in lines if e.get("event") == event]


def test_raspyd_names_a_readable_config_holding_the_mqtt_password_at_start(
    tmp_path: Path,
) -> None:
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        daemon, lines = _started_with(
            tmp_path,
            f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
            'password = "s3cret"\n',
        )
    said = _events(lines, "mqtt_password_in_readable_config")
    assert daemon.config_path is not None
    assert [(e["path"], e["mode"]) for e in said] == [(str(daemon.config_path), "0604")]
    assert "s3cret" not in daemon.log_text()
    # and, as it has no username, that the password is not sent
    unsent = _events(lines, "mqtt_password_without_username")
    assert [e["fix"] for e in unsent] == ["set mqtt.username"]


def test_with_the_bridge_off_only_where_the_password_lies_is_named(
    tmp_path: Path,
) -> None:
    """A bridge turned off sends no password, with or without a user name: no word
    of that. The password is in a file others may read all the same."""
    daemon, lines = _started_with(tmp_path, '[mqtt]\npassword = "s3cret"\n')
    said = _events(lines, "mqtt_password_in_readable_config")
    assert daemon.config_path is not None
    assert [(e["path"], e["mode"]) for e in said] == [(str(daemon.config_path), "0604")]
    assert _events(lines, "mqtt_password_without_username") == []


def _unsent(mqtt_toml: str) -> list[dict[str, object]]:
    loaded = config.load(mqtt_toml, "raspyd.toml")
    with capture_logs() as logs:
        count = say_unsent(loaded.mqtt)
    assert count == len(logs)
    return [{k: v for k, v in e.items() if k != "log_level"} for e in logs]


def test_a_password_without_a_username_is_named_as_not_sent(tmp_path: Path) -> None:
    """MQTT 3.1.1 sends no password without a user name: it was left out silently,
    and the broker's "Not authorized" came with username null."""
    path = tmp_path / "mqtt-password"
    path.write_text("s3cret\n", encoding="utf-8")
    path.chmod(0o600)
    expected = {
        "component": "mqtt",
        "event": "mqtt_password_without_username",
        "reason": "mqtt.password is set but mqtt.username is not: MQTT sends no"
        " password without a user name, so the bridge connects without either",
        "fix": "set mqtt.username",
    }
    on = "[mqtt]\nenabled = true\n"
    assert _unsent(on + 'password = "s3cret"\n') == [expected]
    from_file = on + f'password_file = "{path}"\n'
    assert _unsent(from_file) == [
        expected
        | {"reason": expected["reason"].replace("password", "password_file", 1)}
    ]
    assert _unsent(on + f'username = "raspy"\npassword_file = "{path}"\n') == []
    assert _unsent(on + 'username = "raspy"\n') == []  # no password: none sent


def test_a_password_without_a_username_is_not_named_with_the_bridge_off(
    tmp_path: Path,
) -> None:
    """A bridge turned off (the default) connects to no broker: it sends nothing."""
    path = tmp_path / "mqtt-password"
    path.write_text("s3cret\n", encoding="utf-8")
    path.chmod(0o600)
    assert _unsent('[mqtt]\npassword = "s3cret"\n') == []
    assert _unsent(f'[mqtt]\nenabled = false\npassword_file = "{path}"\n') == []
