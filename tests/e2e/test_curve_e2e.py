"""raspyd with [security]: CURVE on every bound TCP socket and a ZAP allowlist of
client public keys (docs/architecture.md "Security model", docs/protocols.md §8.2)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq
import zmq.auth
from support.daemon import Daemon, hostname, running_daemon
from support.wait import wait_until

from raspy.cli import raspy as raspy_cli
from raspy.client import Client, CloneClient, fetch_snapshot
from raspy.errors import ClientTimeout
from raspy.protocol import clone
from raspy.transport.sockets import CurveKeys, make_socket


@dataclass(frozen=True, slots=True)
class Keys:
    server_public: Path
    server_secret: Path
    client_a: CurveKeys
    client_a_secret: Path
    client_b: CurveKeys
    config_text: str


def _client_keys(secret_file: str, server_public: bytes) -> CurveKeys:
    public, secret = zmq.auth.load_certificate(secret_file)
    assert secret is not None
    return CurveKeys(public, secret, server_key=server_public)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """Server and clients A and B; only A's public certificate is authorized. One
    set for the module: no test writes to the key files or the folder."""
    folder = tmp_path_factory.mktemp("keys")
    made = folder / "made"
    allowed = folder / "authorized"
    allowed.mkdir()
    made.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(made, "server")
    a_public, a_secret = zmq.auth.create_certificates(made, "client-a")
    _, b_secret = zmq.auth.create_certificates(made, "client-b")
    (allowed / "client-a.key").write_bytes(Path(a_public).read_bytes())
    server_key, _ = zmq.auth.load_certificate(server_public)
    config_text = (
        "[security]\n"
        f'curve_secret_key_file = "{server_secret}"\n'
        f'authorized_keys_dir = "{allowed}"\n'
    )
    return Keys(
        Path(server_public),
        Path(server_secret),
        _client_keys(a_secret, server_key),
        Path(a_secret),
        _client_keys(b_secret, server_key),
        config_text,
    )


def _echo(endpoint: str, curve: CurveKeys | None, timeout_s: float) -> list[bytes]:
    with Client(endpoint, timeout_s=timeout_s, retries=1, curve=curve) as client:
        return client.request(f"{hostname()}.echo", b"hello")


def _ready_a(keys: Keys) -> Callable[[str], bool]:
    """Readiness under CURVE: client A's echo gets through (a plain probe cannot)."""

    def ready(endpoint: str) -> bool:
        try:
            return _echo(endpoint, keys.client_a, 0.3) == [b"hello"]
        except ClientTimeout:
            return False

    return ready


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[Daemon]:
    """raspyd with [security]: only client A's key is authorized. One for the
    module: its tests only ask it things, or write each under keys of its own
    (/secure/door, /secure-kv/window, /device/remotepi.*) that no other test reads;
    none stops, signals or reconfigures it (the SIGTERM test starts its own)."""
    data_dir = tmp_path_factory.mktemp("curve") / "data"
    with running_daemon(
        data_dir, config_text=keys.config_text, ready=_ready_a(keys)
    ) as started:
        yield started


def test_an_authorized_curve_client_gets_the_echo_reply_and_sigterm_exits_0(
    tmp_path: Path, keys: Keys
) -> None:
    """§8.2: a listed client key gets through; the daemon stops cleanly with ZAP."""
    daemon = Daemon(
        tmp_path / "data", config_text=keys.config_text, ready=_ready_a(keys)
    )
    try:
        daemon.start()
        assert _echo(daemon.endpoint, keys.client_a, 2.0) == [b"hello"]
        assert daemon.terminate() == 0
    finally:
        daemon.kill()
    assert "listening_beyond_loopback_without_curve" not in daemon.log_text()


def test_unlisted_and_plain_clients_get_no_reply(keys: Keys, daemon: Daemon) -> None:
    """§8.2: a key not in the folder never delivers a message; nor does plain text."""
    with pytest.raises(ClientTimeout):
        _echo(daemon.endpoint, keys.client_b, 0.5)
    with pytest.raises(ClientTimeout):
        _echo(daemon.endpoint, None, 0.5)
    assert _echo(daemon.endpoint, keys.client_a, 2.0) == [b"hello"]


def test_clone_snapshot_works_for_an_authorized_curve_client_only(
    keys: Keys, daemon: Daemon
) -> None:
    """§8.2: the Clone snapshot ROUTER is a CURVE server like the MDP ROUTER."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = make_socket(ctx, zmq.DEALER, linger_ms=0, curve=keys.client_a)
    try:
        sock.connect(endpoints.snapshot)
        sock.send_multipart(clone.encode_icanhaz(b""))
        assert sock.poll(3000), "no snapshot for the authorized client"
        first = clone.decode_kvmsg(sock.recv_multipart())
        while first.key != clone.KTHXBAI:
            assert sock.poll(3000), "snapshot stopped before KTHXBAI"
            first = clone.decode_kvmsg(sock.recv_multipart())
    finally:
        sock.close(linger=0)
        ctx.term()
    with pytest.raises(ClientTimeout):
        fetch_snapshot(endpoints, timeout_s=0.5)


def test_raspy_call_with_server_key_and_client_cert_gets_the_reply(
    keys: Keys, daemon: Daemon
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "raspy.cli.raspy",
            "call",
            f"{hostname()}.echo",
            "hi",
            "--server",
            daemon.endpoint,
            "--server-key",
            str(keys.server_public),
            "--client-cert",
            str(keys.client_a_secret),
            "--timeout",
            "3",
            "--retries",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n"


def test_raspy_call_with_only_one_of_the_key_options_is_a_usage_error(
    keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        raspy_cli.main(["call", "x.echo", "--server-key", str(keys.server_public)])
    assert caught.value.code == 2
    assert "--client-cert" in capsys.readouterr().err


def test_raspy_call_with_a_missing_certificate_exits_2_naming_it(
    tmp_path: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.key_secret"
    status = raspy_cli.main(
        [
            "call",
            "x.echo",
            "--server-key",
            str(keys.server_public),
            "--client-cert",
            str(missing),
        ]
    )
    assert status == 2
    assert str(missing) in capsys.readouterr().err


def test_raspy_keys_writes_a_pair_in_a_new_0700_folder_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "keys"
    assert raspy_cli.main(["keys", str(folder), "hub"]) == 0
    out = capsys.readouterr().out
    assert str(folder / "hub.key") in out
    assert str(folder / "hub.key_secret") in out
    assert folder.stat().st_mode & 0o777 == 0o700
    public, secret = zmq.auth.load_certificate(folder / "hub.key_secret")
    assert secret is not None
    assert zmq.curve_public(secret) == public
    before = (folder / "hub.key_secret").read_bytes()
    assert raspy_cli.main(["keys", str(folder), "hub"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (folder / "hub.key_secret").read_bytes() == before


def test_raspyd_with_a_missing_server_certificate_exits_2_naming_it(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nope.key_secret"
    text = (
        f'[security]\ncurve_secret_key_file = "{missing}"\n'
        f'authorized_keys_dir = "{tmp_path}"\n'
    )
    daemon = Daemon(tmp_path / "data", config_text=text)
    result = subprocess.run(
        daemon.args(), capture_output=True, text=True, timeout=20, check=False
    )
    assert result.returncode == 2
    assert str(missing) in result.stderr


def test_curve_clone_client_writes_and_sees_its_update_through_all_three_sockets(
    keys: Keys, daemon: Daemon
) -> None:
    """§8.2: collector SUB and publisher PUB are CURVE servers too: a KVSET from an
    authorized client is stored, published and seen in its own copy of the tree."""
    with (
        CloneClient(
            clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base),
            b"/secure/",
            curve=keys.client_a,
        ) as client,
    ):
        client.wait_synced(timeout_s=10)
        client.set(b"/secure/door", b"locked", confirm_timeout_s=10)
        snapshot = fetch_snapshot(
            clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base),
            b"/secure/",
            curve=keys.client_a,
        )
        assert snapshot.items == {b"/secure/door": b"locked"}


def test_raspy_poller_with_keys_publishes_into_a_curve_hub(
    tmp_path: Path, keys: Keys, daemon: Daemon
) -> None:
    """A second board joins a CURVE hub: raspy-poller --server-key --client-cert."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
    command = [
        sys.executable,
        "-m",
        "raspy.cli.poller",
        "--connect",
        daemon.endpoint,
        "--service",
        "fake",
        "--hostname",
        "remotepi",
        "--log-format",
        "json",
        "--server-key",
        str(keys.server_public),
        "--client-cert",
        str(keys.client_a_secret),
    ]
    with (tmp_path / "poller.log").open("ab") as log_file:
        poller = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:

        def remote_values() -> bool:
            snapshot = fetch_snapshot(
                endpoints, b"/device/remotepi.", timeout_s=2, curve=keys.client_a
            )
            return any(key.endswith(b"/value") for key in snapshot.items)

        wait_until(remote_values, what="the poller's values in the tree", timeout_s=20)
        poller.send_signal(signal.SIGTERM)
        assert poller.wait(timeout=10) == 0
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait(timeout=10)


def test_raspy_kv_live_commands_take_the_key_options(
    keys: Keys, daemon: Daemon
) -> None:
    """raspy-kv set then get against a CURVE hub, with --server-key/--client-cert."""
    common = [
        "--server",
        f"127.0.0.1:{daemon.port_base}",
        "--server-key",
        str(keys.server_public),
        "--client-cert",
        str(keys.client_a_secret),
    ]

    def kv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "raspy.cli.kv", *args, *common],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    # not under /secure/: the Clone test's snapshot of that subtree is its door alone
    assert kv("set", "/secure-kv/window", "shut").returncode == 0
    result = kv("get", "/secure-kv/window")
    assert (result.returncode, result.stdout) == (0, "shut\n")


def test_raspy_status_takes_the_key_options(keys: Keys, daemon: Daemon) -> None:
    """A CURVE hub's table, with the same two options as raspy call (before, status
    refused them as unrecognized arguments)."""
    result = subprocess.run(
        [
            sys.executable, "-m", "raspy.cli.raspy", "status",
            "--server", daemon.endpoint,
            "--server-key", str(keys.server_public),
            "--client-cert", str(keys.client_a_secret),
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("SERVICE ")
    assert f"{hostname()}.edge " in result.stdout
