"""paho on the runner (raspy.transport.paho_loop) over TLS, against a broker that
puts several MQTT packets in one TLS record. Mosquitto writes one record a packet;
a broker that batches its writes (EMQX, say) does not, and the packets after the
first ones of a record wait decrypted in the TLS layer, where the poller cannot see
them. The peer here is a TLS socket that speaks just enough MQTT for that.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from support.mosquitto import TlsFiles, make_tls_files
from support.wait import wait_until

from raspy.transport.paho_loop import PahoLoop, reconnect
from raspy.transport.runner import Runner

COUNT = 5


def _publish(topic: str, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH (short enough for a one-byte remaining length)."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + payload
    return bytes([0x30, len(body)]) + body


class _Peer:
    """Accepts one TLS connection, reads the CONNECT, answers CONNACK and COUNT
    PUBLISHes in one write (one TLS record), then stays silent until closed."""

    def __init__(self, tls: TlsFiles) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(tls.server_cert, tls.server_key)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with self._context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1024)  # CONNECT
            packets = [_publish("t", str(i).encode()) for i in range(COUNT)]
            tls.sendall(b"\x20\x02\x00\x00" + b"".join(packets))
            self._done.wait(10)

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)
        self._listener.close()


class _Owner:
    """The runner's owner: a TLS paho client on PahoLoop, recording what comes."""

    def __init__(self, port: int, tls: TlsFiles) -> None:
        self.port, self.tls = port, tls
        self.received: list[bytes] = []
        self._loop: PahoLoop | None = None

    def open(self, runner: Runner) -> None:
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv311
        )
        client.tls_set(ca_certs=str(self.tls.ca_cert))
        client.connect_async("127.0.0.1", self.port, keepalive=30)
        self._loop = PahoLoop(client, runner, self)
        assert reconnect(client) is None

    def next_deadline(self) -> float | None:
        return None

    def on_turn(self, now: float) -> None:
        pass

    def execute(self, command: object) -> object:
        return None

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()

    def connected(self, refusal: str | None) -> None:
        assert refusal is None

    def disconnected(self, reason: str) -> None:
        pass

    def message(self, topic: str, payload: bytes, retained: bool) -> None:
        self.received.append(payload)

    def acknowledged(self) -> None:
        pass

    def backlog(self) -> None:
        pass


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[tuple[_Peer, TlsFiles]]:
    tls = make_tls_files(tmp_path / "tls")
    served = _Peer(tls)
    try:
        yield served, tls
    finally:
        served.close()


@pytest.mark.timeout(60)
def test_every_packet_of_one_tls_record_is_read_at_once(
    peer: tuple[_Peer, TlsFiles],
) -> None:
    """Two packets were read per readable socket; the rest of the record waited
    for the broker's next bytes (a ping answer, up to a keepalive away)."""
    served, tls = peer
    owner = _Owner(served.port, tls)
    runner = Runner("tls-records", owner)
    runner.start()
    try:
        wait_until(
            lambda: len(owner.received) == COUNT,
            what=f"{COUNT} messages of one TLS record",
            timeout_s=5,
        )
        assert owner.received == [str(i).encode() for i in range(COUNT)]
    finally:
        runner.stop()
