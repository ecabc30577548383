"""Who else may read the MQTT password. raspyd warns at start, as it does of the
secrets file (raspy.secrets_file.say_mode) and of the web login files: about a
`mqtt.password_file` the group or others may read, and about an `mqtt.password`
written in a config file others may read (`/etc/raspy/raspyd.toml` was installed
0644). A warning, not a refusal: a copy or a restore that lost a mode must not stop
the hub over what the line names. The rule is the secrets file's: raspyd's own file
is 0600, another user's (root's, in /etc/raspy) is read through its group, 0640.

And about a password with no `mqtt.username`: MQTT 3.1.1 sends no password without a
user name, so it is not sent, and the broker's "Not authorized" would say nothing of
why. A warning too: an install whose broker lets anyone in works as it did."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from raspy.config_parts import MqttConfig
from raspy.secrets_file import say_mode

log = structlog.get_logger(component="mqtt")


def say_modes(
    mqtt: MqttConfig,
    config_file: str | None,
    uid: int | None = None,
    groups: Sequence[int] | None = None,
) -> int:
    """Warn about each place the password is kept that others may read (`uid`:
    raspyd's user, its effective uid when None; `groups`: its groups, its own
    first, the process's when None); how many warnings were said."""
    said = 0
    if mqtt.password_file:
        said += say_mode(
            mqtt.password_file,
            uid,
            groups=groups,
            event="mqtt_password_file_mode",
            reason="the group or others may read or write the MQTT password",
            logger=log,
        )
    if mqtt.password and config_file:
        said += say_mode(
            config_file,
            uid,
            groups=groups,
            event="mqtt_password_in_readable_config",
            reason="mqtt.password is in a config file the group or others may read",
            fix_suffix=", or move it to a file named by mqtt.password_file",
            logger=log,
        )
    return said


def password_unsent(mqtt: MqttConfig) -> bool:
    """A password set without a user name, which MQTT 3.1.1 does not send."""
    return bool(mqtt.password or mqtt.password_file) and not mqtt.username


def say_unsent(mqtt: MqttConfig) -> int:
    """Warn about a password that goes without a user name: whether it was said.
    Not with the bridge off, which sends nothing (where the password lies is said
    either way: say_modes)."""
    if not mqtt.enabled or not password_unsent(mqtt):
        return 0
    key = "mqtt.password" if mqtt.password else "mqtt.password_file"
    log.warning(
        "mqtt_password_without_username",
        reason=f"{key} is set but mqtt.username is not: MQTT sends no password"
        " without a user name, so the bridge connects without either",
        fix="set mqtt.username",
    )
    return 1
