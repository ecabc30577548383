"""Issue 16: the MQTT bridge when things go wrong: raspyd killed (the last will), the
broker restarted (latest values again), TLS, and credentials the broker refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname, running_daemon
from support.mosquitto import (
    BASE,
    bridge_config,
    make_client_cert,
    make_tls_files,
    running_mosquitto,
    topic,
)
from support.wait import wait_until

from raspy.client.mdp import Client


def _command(daemon: Daemon, **document: object) -> None:
    with Client(daemon.endpoint, timeout_s=3, retries=2) as client:
        status, _ = client.request(
            f"{hostname()}.fake.devices", json.dumps({"v": 1, **document})
        )
    assert status == b"200"


def _log_events(daemon: Daemon, event: str) -> list[dict[str, object]]:
    found = []
    for line in daemon.log_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            found.append(record)
    return found


@pytest.mark.timeout(90)
def test_kill_9_of_raspyd_publishes_the_last_will_offline(tmp_path: Path) -> None:
    """Issue 16, availability: `<base>/<host>/status` is online, then the broker's
    last will `offline` once raspyd dies without a goodbye, and `online` again
    (retained, what every entity reads) once it is started again."""
    status = f"{BASE}/{hostname()}/status"
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        watcher = broker.watcher(status)
        try:
            daemon = Daemon(tmp_path / "data", config_text=bridge_config(broker))
            daemon.start()
            try:
                watcher.wait_for(status, b"online")
            finally:
                daemon.kill()
            watcher.wait_for(status, b"offline")
            will = [m for m in watcher.messages if m.topic == status][-1]
            assert will.payload == b"offline"
            with running_daemon(tmp_path / "data", config_text=bridge_config(broker)):
                watcher.wait_for(status, b"online")
                fresh = broker.watcher(status)  # a subscriber that comes later
                try:
                    fresh.wait_for(status, b"online")
                finally:
                    fresh.close()
        finally:
            watcher.close()


@pytest.mark.timeout(90)
def test_after_a_broker_restart_the_latest_values_are_delivered(tmp_path: Path) -> None:
    """Issue 16, the broker away: reconnect with backoff; what changed meanwhile (and
    every retained value and discovery config the restarted broker lost) is sent on
    reconnect, and the command topics are subscribed again (docs/mqtt.md, "When the
    broker is away")."""
    folder = tmp_path / "mosquitto"
    with running_mosquitto(folder) as broker:
        config = bridge_config(broker)
        with running_daemon(tmp_path / "data", config_text=config) as daemon:
            first = broker.watcher(f"{BASE}/#")
            try:
                first.wait_for(topic("lamp", "value"), b"false")
            finally:
                first.close()
            broker.stop()  # SIGKILL: no persistence, the retained messages are gone
            _command(daemon, action="set", device="lamp", value=True)
            broker.start()
            again = broker.watcher(f"{BASE}/#", "homeassistant/#")
            try:
                again.wait_for(topic("lamp", "value"), b"true", timeout_s=30)
                again.wait_for(f"{BASE}/{hostname()}/status", b"online")
                again.wait_for(topic("lamp", "status"), b'"ok"')
                lamp_id = f'"unique_id": "raspy.{hostname()}.fake.lamp"'.encode()
                wait_until(
                    lambda: any(
                        lamp_id in message.payload for message in again.messages
                    ),
                    what="the lamp's discovery config again",
                )
                again.publish(topic("lamp", "set"), b"false")
                again.wait_for(topic("lamp", "value"), b"false")
                wait_until(
                    lambda: (
                        b'"status": 200' in (again.get(topic("lamp", "result")) or b"")
                    ),
                    what="the set's answer on result",
                )
            finally:
                again.close()
            assert _log_events(daemon, "mqtt_disconnected")


@pytest.mark.timeout(90)
def test_the_bridge_speaks_tls_to_a_broker_with_its_own_ca(tmp_path: Path) -> None:
    """Issue 16: `tls` with a CA file; state goes out over TLS."""
    tls = make_tls_files(tmp_path / "tls")
    with running_mosquitto(tmp_path / "mosquitto", tls=tls) as broker:
        extra = f'tls = true\ntls_ca_file = "{tls.ca_cert}"\n'
        config = bridge_config(broker, extra)
        with running_daemon(tmp_path / "data", config_text=config):
            watcher = broker.watcher(f"{BASE}/#")
            try:
                watcher.wait_for(topic("lamp", "value"), b"false")
            finally:
                watcher.close()


@pytest.mark.timeout(90)
def test_tls_with_an_unknown_ca_is_refused_and_the_daemon_keeps_running(
    tmp_path: Path,
) -> None:
    """Issue 16: a broker whose certificate the CA file does not sign is refused
    (one clear log line), and raspyd goes on serving."""
    tls = make_tls_files(tmp_path / "tls")
    other = make_tls_files(tmp_path / "other")
    with running_mosquitto(tmp_path / "mosquitto", tls=tls) as broker:
        extra = f'tls = true\ntls_ca_file = "{other.ca_cert}"\n'
        config = bridge_config(broker, extra)
        with running_daemon(tmp_path / "data", config_text=config) as daemon:
            failures = wait_until(
                lambda: _log_events(daemon, "mqtt_connect_failed"),
                what="the TLS refusal in the log",
            )
            assert "CERTIFICATE_VERIFY_FAILED" in str(failures[0]["reason"])
            _command(daemon, action="get", device="lamp")


@pytest.mark.timeout(90)
def test_a_plain_connect_to_a_tls_port_says_to_set_tls(tmp_path: Path) -> None:
    """A broker's TLS port closes a plain connect before any answer: the log said
    only "closed: Unspecified error"; it says which setting to look at."""
    tls = make_tls_files(tmp_path / "tls")
    with running_mosquitto(tmp_path / "mosquitto", tls=tls) as broker:
        config = bridge_config(broker)  # tls = false
        with running_daemon(tmp_path / "data", config_text=config) as daemon:
            failures = wait_until(
                lambda: _log_events(daemon, "mqtt_connect_failed"),
                what="the failed connect in the log",
            )
            assert "set tls = true" in str(failures[0].get("hint")), failures[0]
            _command(daemon, action="get", device="lamp")


@pytest.mark.timeout(90)
def test_a_tls_connect_to_a_plain_port_says_it_takes_no_tls(tmp_path: Path) -> None:
    """`tls = true` against a broker's plain port: the log said only "Connection
    reset by peer"; it says the port takes no TLS."""
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        config = bridge_config(broker, "tls = true\n")
        with running_daemon(tmp_path / "data", config_text=config) as daemon:
            failures = wait_until(
                lambda: _log_events(daemon, "mqtt_connect_failed"),
                what="the failed connect in the log",
            )
            assert "takes no TLS" in str(failures[0].get("hint")), failures[0]
            _command(daemon, action="get", device="lamp")


@pytest.mark.timeout(90)
def test_a_broker_whose_certificate_names_another_host_is_refused(
    tmp_path: Path,
) -> None:
    """docs/mqtt.md, Security: the broker's certificate must match `host`. One our
    CA signed for 127.0.0.1 only, reached as `localhost`, is refused."""
    tls = make_tls_files(tmp_path / "tls", names="IP:127.0.0.1")
    with running_mosquitto(tmp_path / "mosquitto", tls=tls) as broker:
        extra = f'tls = true\ntls_ca_file = "{tls.ca_cert}"\n'
        config = bridge_config(broker, extra).replace(
            'host = "127.0.0.1"', 'host = "localhost"'
        )
        with running_daemon(tmp_path / "data", config_text=config) as daemon:
            failures = wait_until(
                lambda: _log_events(daemon, "mqtt_connect_failed"),
                what="the refusal of the certificate in the log",
            )
            reason = str(failures[0]["reason"])
            assert "CERTIFICATE_VERIFY_FAILED" in reason, reason
            assert "localhost" in reason, reason
            assert not _log_events(daemon, "mqtt_connected")


@pytest.mark.timeout(90)
def test_the_bridge_shows_its_client_certificate_to_a_broker_that_wants_one(
    tmp_path: Path,
) -> None:
    """docs/mqtt.md, Security: `tls_cert_file`/`tls_key_file` for a client
    certificate: a broker that requires one (signed by its CA) takes the bridge."""
    tls = make_tls_files(tmp_path / "tls")
    cert, key = make_client_cert(tls, tmp_path / "client")
    folder = tmp_path / "mosquitto"
    with running_mosquitto(folder, tls=tls, require_certificate=True) as broker:
        extra = (
            f'tls = true\ntls_ca_file = "{tls.ca_cert}"\n'
            f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        )
        with running_daemon(
            tmp_path / "data", config_text=bridge_config(broker, extra)
        ):
            watcher = broker.watcher(f"{BASE}/#", client_cert=(cert, key))
            try:
                watcher.wait_for(topic("lamp", "value"), b"false")
            finally:
                watcher.close()


@pytest.mark.timeout(90)
def test_a_wrong_password_is_refused_with_a_clear_log_line_and_raspyd_runs_on(
    tmp_path: Path,
) -> None:
    """Issue 16: username/password refused by the broker: logged, retried with
    backoff, and the daemon keeps serving; the right password then connects."""
    right_password, wrong_password = "right-horse", "Zebra-ninety"
    users = {"raspy": right_password}
    with running_mosquitto(tmp_path / "mosquitto", users=users) as broker:
        wrong = bridge_config(
            broker, f'username = "raspy"\npassword = "{wrong_password}"\n'
        )
        with running_daemon(tmp_path / "wrong", config_text=wrong) as daemon:
            refused = wait_until(
                lambda: _log_events(daemon, "mqtt_connect_refused"),
                what="the refusal in the log",
            )
            assert refused[0]["reason"] == "Not authorized"
            assert refused[0]["username"] == "raspy"
            assert wrong_password not in daemon.log_text()  # never a secret in the log
            _command(daemon, action="get", device="lamp")
        secret = tmp_path / "mqtt-password"
        secret.write_text(f"{right_password}\n", encoding="utf-8")
        right = bridge_config(
            broker, f'username = "raspy"\npassword_file = "{secret}"\n'
        )
        with running_daemon(tmp_path / "right", config_text=right):
            watcher = broker.watcher(
                f"{BASE}/#", username="raspy", password=right_password
            )
            try:
                watcher.wait_for(topic("lamp", "value"), b"false")
            finally:
                watcher.close()


@pytest.mark.timeout(60)
def test_a_device_outside_command_devices_is_refused_on_result(tmp_path: Path) -> None:
    """Issue 16: an unauthorised command (`command_devices`) gets 403 on `…/result`."""
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        config = bridge_config(broker, 'command_devices = ["*.fake.*"]\n')
        with running_daemon(tmp_path / "data", config_text=config) as daemon:
            watcher = broker.watcher(f"{BASE}/#")
            try:
                relay = topic("relay", "value", service="gpio")
                watcher.wait_for(relay, b"false")
                watcher.publish(topic("relay", "set", service="gpio"), b"true")
                result_topic = topic("relay", "result", service="gpio")
                body = wait_until(lambda: watcher.get(result_topic), what="a result")
                assert body is not None
                assert json.loads(body) == {
                    "v": 1,
                    "action": "set",
                    "status": 403,
                    "reply": {
                        "error": "forbidden",
                        "detail": f"{hostname()}.gpio.relay takes no MQTT commands",
                    },
                }
                assert watcher.get(relay) == b"false"
                assert _log_events(daemon, "mqtt_input_refused")
            finally:
                watcher.close()
