"""A real Mosquitto broker for tests, and a real MQTT subscriber (paho) to watch it.

`Mosquitto` writes a config into a folder of the test, starts /usr/sbin/mosquitto on
127.0.0.1 with a free port (optionally TLS with a CA and server certificate made by the
openssl CLI, and a password file made by mosquitto_passwd), and always kills it.
`Watcher` is a paho client on its own loop thread that keeps every message it gets.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from support.daemon import hostname
from support.net import free_port_base
from support.wait import wait_until

MOSQUITTO = Path("/usr/sbin/mosquitto")
PASSWD = Path("/usr/bin/mosquitto_passwd")


BASE = "raspy-test"


def bridge_config(broker: Mosquitto, extra: str = "") -> str:
    return f"""
[devices]
fake_enabled = true
gpio_enabled = true
pin_factory = "mock"

[[devices.fake]]
name = "lamp"
oid = "switch"
poll_interval_s = 30.0

[[devices.fake]]
name = "attic"
oid = "sensor.temperature"
poll_interval_s = 0.5

[[devices.gpio]]
name = "relay"
oid = "switch"
pin = 17

[mqtt]
enabled = true
host = "127.0.0.1"
port = {broker.port}
base_topic = "{BASE}"
{extra}
"""


def topic(device: str, leaf: str, *, service: str = "fake") -> str:
    return f"{BASE}/{hostname()}/{service}/{device}/{leaf}"


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_tls_files(folder: Path, names: str = "IP:127.0.0.1,DNS:localhost") -> TlsFiles:
    """A CA and a server certificate for `names` (its subjectAltName; by default
    127.0.0.1 and localhost), by the openssl CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = folder / "ca.key", folder / "ca.crt"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=raspy test CA", "-keyout", str(ca_key), "-out", str(ca_cert),
    )  # fmt: skip
    cert, key = _signed(folder, "server", ca_cert, f"subjectAltName={names}")
    return TlsFiles(ca_cert, cert, key)


def make_client_cert(tls: TlsFiles, folder: Path) -> tuple[Path, Path]:
    """A client certificate (and its key) signed by the CA of `tls`."""
    folder.mkdir(parents=True, exist_ok=True)
    return _signed(folder, "client", tls.ca_cert, "extendedKeyUsage=clientAuth")


def _signed(
    folder: Path, name: str, ca_cert: Path, extension: str
) -> tuple[Path, Path]:
    """`<name>.crt` and `<name>.key` in `folder`, signed by the CA beside `ca_cert`."""
    ca_key = ca_cert.with_suffix(".key")
    key, csr, cert = (folder / f"{name}.{end}" for end in ("key", "csr", "crt"))
    ext = folder / f"{name}.ext"
    ext.write_text(extension + "\n", encoding="utf-8")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return cert, key


class Mosquitto:
    """One broker process on 127.0.0.1:port (the port stays the same on restart)."""

    def __init__(
        self,
        folder: Path,
        *,
        tls: TlsFiles | None = None,
        users: dict[str, str] | None = None,
        require_certificate: bool = False,
    ) -> None:
        """`require_certificate`: TLS clients must show a certificate of the CA."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port_base(span=1)
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "mosquitto.log"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if os.geteuid() == 0:
            lines.append("user root")  # keep the test's files readable
        if users:
            passwords = folder / "passwords"
            passwords.write_text("", encoding="utf-8")
            for name, password in users.items():
                subprocess.run(
                    [str(PASSWD), "-b", str(passwords), name, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            passwords.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if tls is not None:
            lines += [
                f"cafile {tls.ca_cert}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
            ]
            if require_certificate:
                lines.append("require_certificate true")
        self.config_path = folder / "mosquitto.conf"
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self) -> Mosquitto:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [str(MOSQUITTO), "-c", str(self.config_path)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._listening, what="mosquitto to listen", timeout_s=10)
        return self

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"mosquitto exited: {self.log_text()[-2000:]}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        """SIGKILL (what a crash or a power cut does to a broker)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def watcher(self, *topics: str, **kwargs: Any) -> Watcher:
        return Watcher(self, topics, **kwargs)


class Watcher:
    """A real subscriber: every message kept, and the latest one per topic."""

    def __init__(
        self,
        broker: Mosquitto,
        topics: tuple[str, ...],
        *,
        username: str | None = None,
        password: str | None = None,
        client_cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self.latest: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        if broker.tls is not None:
            cert, key = client_cert or (None, None)
            self.client.tls_set(
                ca_certs=str(broker.tls.ca_cert),
                certfile=None if cert is None else str(cert),
                keyfile=None if key is None else str(key),
            )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self._topics = topics
        self.client.on_connect = self._on_connect
        self.client.connect("127.0.0.1", broker.port, keepalive=30)
        self.client.loop_start()
        if topics:
            wait_until(self._subscribed.is_set, what="the watcher's subscription")

    def _on_connect(self, client: paho.Client, *_args: Any) -> None:
        if self._topics:
            client.subscribe([(topic, 1) for topic in self._topics])

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)
            self.latest[message.topic] = bytes(message.payload)

    def get(self, topic: str) -> bytes | None:
        with self._lock:
            return self.latest.get(topic)

    def wait_for(self, topic: str, payload: bytes, *, timeout_s: float = 10.0) -> None:
        wait_until(
            lambda: self.get(topic) == payload,
            what=f"{topic} = {payload!r} (last {self.get(topic)!r})",
            timeout_s=timeout_s,
        )

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def running_mosquitto(folder: Path, **kwargs: Any) -> Iterator[Mosquitto]:
    """A started broker, killed at the end whatever happens."""
    if not MOSQUITTO.exists():
        pytest.fail("mosquitto is not installed: run `make test` (it installs it)")
    broker = Mosquitto(folder, **kwargs)
    try:
        yield broker.start()
    finally:
        broker.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        yield broker
