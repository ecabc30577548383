"""raspyd tells who it refuses (issue 18): a client whose CURVE key is not in the
allowlist is logged as curve_client_refused, once a minute per address and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zmq
import zmq.auth
from support.daemon import hostname, running_daemon

from raspy.client import Client
from raspy.errors import ClientTimeout
from raspy.transport.sockets import CurveKeys


def _keys(made: Path, name: str, server_public: bytes) -> CurveKeys:
    _, secret_file = zmq.auth.create_certificates(made, name)
    public, secret = zmq.auth.load_certificate(secret_file)
    assert secret is not None
    return CurveKeys(public, secret, server_key=server_public)


def _echo(endpoint: str, curve: CurveKeys, timeout_s: float) -> list[bytes]:
    with Client(endpoint, timeout_s=timeout_s, retries=1, curve=curve) as client:
        return client.request(f"{hostname()}.echo", b"hello")


@pytest.mark.timeout(60)
def test_a_refused_curve_client_is_logged_once_and_others_are_served(
    tmp_path: Path,
) -> None:
    made, allowed = tmp_path / "made", tmp_path / "authorized"
    made.mkdir()
    allowed.mkdir()
    server_public_file, server_secret_file = zmq.auth.create_certificates(
        made, "server"
    )
    server_public, _ = zmq.auth.load_certificate(server_public_file)
    client_a = _keys(made, "client-a", server_public)
    client_b = _keys(made, "client-b", server_public)
    (allowed / "client-a.key").write_bytes((made / "client-a.key").read_bytes())
    config_text = (
        "[security]\n"
        f'curve_secret_key_file = "{server_secret_file}"\n'
        f'authorized_keys_dir = "{allowed}"\n'
    )

    def ready(endpoint: str) -> bool:
        try:
            return _echo(endpoint, client_a, 0.3) == [b"hello"]
        except ClientTimeout:
            return False

    with running_daemon(
        tmp_path / "data", config_text=config_text, ready=ready
    ) as daemon:
        for _ in range(3):  # each try is a new connection and a new handshake
            with pytest.raises(ClientTimeout):
                _echo(daemon.endpoint, client_b, 0.5)
        assert _echo(daemon.endpoint, client_a, 2.0) == [b"hello"]
        with Client(daemon.endpoint, timeout_s=5.0, retries=1, curve=client_a) as c:
            code, document = c.request(f"{hostname()}.edge.statistics", "all")
            # <host>.stats has every counter of raspyd, this one too
            whole = json.loads(c.request(f"{hostname()}.stats", b"")[1])
        refused = json.loads(document)["curve_refused"]
        logged = [
            json.loads(line)
            for line in daemon.log_text().splitlines()
            if line.startswith("{")
        ]
    events = [e for e in logged if e["event"] == "curve_client_refused"]
    assert (code, refused["type"]) == (b"200", "counter")
    assert refused["value"] >= 3  # one per handshake at least
    assert whole["edge.curve_refused"] >= refused["value"]
    assert [(e["peer"], e["client_key"], e["reason"]) for e in events] == [
        ("127.0.0.1", client_b.public_key.decode(), "Unknown key")
    ]
