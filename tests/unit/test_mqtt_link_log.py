"""What the MQTT link counts and logs (raspy.mqtt.link_log), and how the actor's
events go into BridgeCore (raspy.mqtt.events)."""

from __future__ import annotations

import json
from pathlib import Path

from structlog.testing import capture_logs

from raspy.config import MqttConfig
from raspy.errors import quote
from raspy.mqtt.buffer import Message
from raspy.mqtt.core import BridgeCore, BridgeSettings, Refused, SendRequest
from raspy.mqtt.events import Feed, Replied, Seed, ServiceUp, TreeChanged
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.link_core import LinkCore
from raspy.mqtt.link_log import LinkLog, link_stats
from raspy.mqtt.session import Lost, MqttSession
from raspy.mqtt.topics import TopicMap
from raspy.stats import Stats

CONFIG = MqttConfig(host="broker", port=1884, username="hub")


def make_core() -> BridgeCore:
    return BridgeCore(
        BridgeSettings(
            topics=TopicMap("raspy", "pi"),
            exposed=GlobFilter(["/device/*"], rooted=True),
            commandable=GlobFilter(["*"]),
            actions=frozenset({"set"}),
            discovery=None,
            scenario_buttons=False,
            max_buffered=10,
        )
    )


def test_refused_input_is_counted_each_time_and_logged_once_a_minute() -> None:
    stats = Stats()
    report = LinkLog(CONFIG, stats)
    with capture_logs() as logs:
        for now in (0.0, 30.0, 61.0):
            report.refused(Refused("bad_topic", "x"), now)
    assert stats.counters() == {"mqtt.refused.bad_topic": 3}
    entry = {
        "reason": "bad_topic",
        "detail": "x",
        "log_level": "warning",
        "component": "mqtt",
    }
    assert logs == [{"event": "mqtt_input_refused", **entry}] * 2


def test_a_reserved_service_levels_keys_are_logged_once_per_prefix() -> None:
    """Every key of another host's `control` service (an older board's) is refused
    alike: counted each time, logged once for its prefix, however long it lasts."""
    stats = Stats()
    link = LinkCore(CONFIG, make_core(), stats)
    keys = [
        "/device/board2.control.lamp/value",
        "/device/board2.control.lamp/status",
        "/device/board2.control.fan/value",
        "/device/board2.scenario.x/value",
        "/device/pi.control.y/value",
    ]
    with capture_logs() as logs:
        for now in (0.0, 100.0, 1000.0):
            for key in keys:
                link.event(TreeChanged(key, b"1"), now)
    assert stats.counters() == {
        "mqtt.refused.key_on_control_topic": 12,
        "mqtt.refused.key_on_scenario_topic": 3,
    }
    assert [(e["event"], e["key_prefix"], e["first"]) for e in logs] == [
        ("mqtt_device_not_bridged", "/device/board2.control.", quote(keys[0])),
        ("mqtt_device_not_bridged", "/device/board2.scenario.", quote(keys[3])),
        ("mqtt_device_not_bridged", "/device/pi.control.", quote(keys[4])),
    ]
    assert [e["reason"] for e in logs] == [
        "key_on_control_topic",
        "key_on_scenario_topic",
        "key_on_control_topic",
    ]


def test_a_refused_commands_log_line_names_its_topic() -> None:
    """`detail="not JSON: '[1,2'"` alone does not say which device a user's broken
    command was for: the line names the topic it came on (or, for a refusal
    after the request went, a 504, the topic of the command it answers)."""
    stats = Stats()
    link = LinkCore(CONFIG, make_core(), stats)
    link.event(TreeChanged("/device/pi.fake.lamp/value", b"true"), 0.0)
    with capture_logs() as logs:
        link.message("raspy/pi/fake/lamp/set", b"[1,2", False, 0.0)
        link.message("raspy/pi/fake/fan/set", b"on", True, 0.0)  # retained
        link.message("raspy/pi/fake/lamp/value/set", b"", False, 0.0)  # 5 levels
        link.message("raspy/pi/control/house.nope/set", b"1", False, 0.0)
        assert link.message("raspy/pi/fake/heater/set", b"on", False, 0.0) != []
        link.tick(20.0)  # no reply: 504
    assert [(e["event"], e["reason"], e.get("topic")) for e in logs] == [
        ("mqtt_input_refused", "bad_payload", "'raspy/pi/fake/lamp/set'"),
        ("mqtt_input_refused", "retained_command", "'raspy/pi/fake/fan/set'"),
        ("mqtt_input_refused", "bad_command_topic", "'raspy/pi/fake/lamp/value/set'"),
        ("mqtt_input_refused", "unknown_control", "'raspy/pi/control/house.nope/set'"),
        ("mqtt_input_refused", "timeout", "'raspy/pi/fake/heater/set'"),
    ]
    assert logs[0]["detail"] == "not JSON: '[1,2'"
    # the topic once: the detail says why, not the topic again
    assert "fan" not in logs[1]["detail"]


def test_a_refused_commands_topic_is_logged_quoted_and_cut() -> None:
    """A topic is outside text of up to 64 KiB: quoted (no raw control bytes) and
    cut as a detail is, whatever the refusal."""
    link = LinkCore(CONFIG, make_core(), Stats())
    # a live one with control bytes (refused as no command topic), and a retained
    # command of this hub's (refused as retained)
    long_topic = "raspy/pi/fake/\x1b[2J" + "x\n" * 30_000 + "/set"
    retained = "raspy/pi/fake/" + "é" * 30_000 + "/set"
    with capture_logs() as logs:
        link.message(long_topic, b"on", False, 0.0)
        link.message(retained, b"on", True, 0.0)
    assert [e["reason"] for e in logs] == ["bad_command_topic", "retained_command"]
    topics = [e["topic"] for e in logs]
    assert topics == [quote(long_topic, 256), quote(retained, 256)]
    assert len(topics[0]) < 2 * 256 + 8  # (each \n shown as two characters)
    assert len(topics[1]) < 2 * 256 + 8
    assert "\x1b" not in topics[0]


def test_a_refused_keys_log_line_has_no_topic() -> None:
    """A key's refusal is about the tree, not a message: its key is the detail."""
    link = LinkCore(CONFIG, make_core(), Stats())
    with capture_logs() as logs:
        link.event(TreeChanged("/device/pi.fake.lamp/set", b"1"), 0.0)
    assert [(e["reason"], e["detail"], "topic" in e) for e in logs] == [
        ("key_on_command_topic", quote("/device/pi.fake.lamp/set"), False)
    ]


def test_connect_failures_and_refusals_are_counted_and_logged_rate_limited() -> None:
    stats = Stats()
    report = LinkLog(CONFIG, stats)
    with capture_logs() as logs:
        report.connect_failed("ConnectionRefusedError: no", 0.5, 0.0)
        report.lost(Lost(was_up=False, retry_in_s=1.0), "gone", 1.0)
        report.connect_failed("ConnectionRefusedError: no", 2.0, 2.0)  # within 60 s
        report.connect_refused("Not authorized", 4.0, 3.0)
    assert stats.counters() == {"mqtt.connect_failed": 4, "mqtt.connect_refused": 1}
    where = {"host": "broker", "port": 1884}
    assert logs == [
        {
            "event": "mqtt_connect_failed",
            **where,
            "reason": "ConnectionRefusedError: no",
            "retry_in_s": 0.5,
            "log_level": "warning",
            "component": "mqtt",
        },
        {
            "event": "mqtt_connect_failed",
            **where,
            "reason": "closed: gone",
            "retry_in_s": 1.0,
            "hint": "if the broker's port takes TLS (8883, usually), set tls = true",
            "log_level": "warning",
            "component": "mqtt",
        },
        {
            "event": "mqtt_connect_refused",
            **where,
            "reason": "Not authorized",
            "username": "hub",
            "retry_in_s": 4.0,
            "log_level": "error",
            "component": "mqtt",
        },
    ]


def test_a_refusal_of_a_password_without_a_username_says_it_was_not_sent() -> None:
    """The password goes only with a user name: the broker's "Not authorized"
    with username null said nothing of why."""
    given = "s3cret"
    no_user = MqttConfig(host="broker", password=given)
    in_file = MqttConfig(host="broker", password_file=str(Path("mqtt-password")))
    hints = []
    for config in (no_user, CONFIG, in_file):
        with capture_logs() as logs:
            LinkLog(config, Stats()).connect_refused("Not authorized", 0.5, 0.0)
        [line] = logs
        hints.append(line.get("hint"))
        assert given not in str(line)
    not_sent = "the password was not sent: it goes only with mqtt.username, set it"
    assert hints == [not_sent, None, not_sent]


def test_a_connect_closed_before_its_connack_says_what_to_look_at() -> None:
    """The broker closes a plain connect to its TLS port, and a TLS one without the
    client certificate it requires, before any CONNACK: paho says only
    "Unspecified error", so the line says which setting would do it."""
    tls_no_cert = MqttConfig(host="broker", port=8883, tls=True)
    with_cert = MqttConfig(
        host="broker", tls=True, tls_cert_file="c.crt", tls_key_file="c.key"
    )
    hints = []
    for config in (CONFIG, tls_no_cert, with_cert):
        with capture_logs() as logs:
            LinkLog(config, Stats()).lost(
                Lost(was_up=False, retry_in_s=0.5), "Unspecified error", 0.0
            )
        [line] = logs
        assert line["reason"] == "closed: Unspecified error"
        hints.append(line.get("hint"))
    assert hints == [
        "if the broker's port takes TLS (8883, usually), set tls = true",
        "if the broker wants a client certificate, set tls_cert_file and tls_key_file",
        None,
    ]


def test_a_tls_connect_failed_as_one_to_a_plain_port_says_so() -> None:
    """A TLS handshake with a plain MQTT port: Mosquitto resets it, another broker
    answers bytes that are no TLS; a refused certificate says so itself."""
    tls = MqttConfig(host="broker", tls=True)
    reset = "ConnectionResetError: [Errno 104] Connection reset by peer"
    wrong = "SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number"
    verify = "SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] ..."
    ciphers = "SSLError: [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] handshake failure"
    hints = []
    tried = ((tls, reset), (tls, wrong), (tls, verify), (tls, ciphers), (CONFIG, reset))
    for config, reason in tried:
        with capture_logs() as logs:
            LinkLog(config, Stats()).connect_failed(reason, 0.5, 0.0)
        [line] = logs
        hints.append(line.get("hint"))
    plain = (
        "if the broker's port is a plain one (1883, usually), it takes no TLS: "
        "set its TLS port, or tls = false"
    )
    assert hints == [plain, plain, None, None, None]


def test_a_lost_connection_is_counted_and_logged_every_time() -> None:
    stats = Stats()
    report = LinkLog(CONFIG, stats)
    with capture_logs() as logs:
        for now in (0.0, 1.0):
            report.lost(Lost(was_up=True, retry_in_s=0.5), "keepalive", now)
    assert stats.counters() == {"mqtt.disconnects": 2}
    line = {
        "reason": "keepalive",
        "retry_in_s": 0.5,
        "log_level": "warning",
        "component": "mqtt",
    }
    assert logs == [{"event": "mqtt_disconnected", **line}] * 2


def test_nothing_published_adds_no_counter() -> None:
    stats = Stats()
    report = LinkLog(CONFIG, stats)
    report.published(0)
    assert stats.counters() == {}
    report.published(3)
    assert stats.counters() == {"mqtt.published": 3}


def test_each_event_goes_to_the_core_and_only_tree_changes_are_counted() -> None:
    feed = Feed(make_core())
    assert feed(Seed((("/device/pi.fake.a/value", b"1"),)), 0.0) == []
    assert feed(TreeChanged("/device/pi.fake.b/value", b"2"), 0.0) == []
    assert feed(ServiceUp("pi.fake.devices"), 0.0) == []  # discovery is off
    assert feed.core.command("raspy/pi/fake/a/set", b"on", 0.0) == [
        SendRequest(1, "pi.fake.devices", _request("a", True))
    ]
    assert feed(Replied(1, (b"200", b'{"ok": true}')), 0.0) == []
    result = {"action": "set", "reply": {"ok": True}, "status": 200, "v": 1}
    assert feed.core.buffer.take(10) == [
        Message("raspy/pi/fake/a/value", b"1"),
        Message("raspy/pi/fake/b/value", b"2"),
        Message("raspy/pi/fake/a/result", json.dumps(result).encode(), retain=False),
    ]
    assert link_stats(MqttSession(), feed) == {
        "connected": False,
        "buffered": 0,
        "inflight": 0,
        "dropped": 0,
        "forgotten": 0,
        "tree_changes": 1,
        "reannounced": 0,
    }


def _request(device: str, value: object) -> bytes:
    document = {"v": 1, "action": "set", "device": device, "value": value}
    return json.dumps(document).encode()
