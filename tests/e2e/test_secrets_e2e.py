"""Secrets of `http:` actions in the real raspyd: `{secret.NAME}` filled in from the
data dir's secrets.toml when the action runs (a real request to a server on
127.0.0.1 carries them in its URL path and a header), never shown (the trace, the
run's `last_error` and the log show an answer by its status line alone, the log at debug level, the
exported text), the file read again when it changes; `raspyd --check-config` names
a bad file by its line (docs/scenarios.md "Secrets")."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Daemon, running_daemon
from support.http_server import http_server
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.rules.secret_uses import WHY

pytestmark = pytest.mark.timeout(90)

TOKEN = "4242:AAsecret-bot-token"  # noqa: S105  # a test value to look for
KEY = "sk_live_7f3c9e1d"
NEW_TOKEN = "4343:AAthe-new-bot-token"  # noqa: S105  # as TOKEN


CONFIG = '[core]\nenabled = true\ntimezone = "UTC"\n'


def scenario_cli(daemon: Daemon, *args: str) -> tuple[int, str, str]:
    """`raspy scenario ARGS` as a process against this daemon."""
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", *args]
    command += ["--server", daemon.endpoint, "--timeout", "10"]
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def value(tree: CloneClient, key: str) -> Any:
    body = tree.get(key.encode())
    return None if body is None else json.loads(body)


def _secrets(path: Path, token: str) -> None:
    path.write_text(f'token = "{token}"\napi_key = "{KEY}"\n', encoding="utf-8")
    os.chmod(path, 0o600)


def test_secrets_are_sent_and_never_shown_and_an_edit_counts_at_once(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    secrets = data / "secrets.toml"
    _secrets(secrets, TOKEN)
    with (
        http_server() as server,
        running_daemon(
            data, config_text=CONFIG, extra_args=("--log-level", "debug")
        ) as daemon,
    ):
        document = tmp_path / "e2e-tell.yaml"
        text = (
            "name: e2e-tell\n"
            "actions:\n"
            f'  - http: "{server.url}/echo/bot{{secret.token}}/sendMessage"\n'
            "    headers:\n"
            '      Authorization: "Bearer {secret.api_key}"\n'
            "    body: {chat_id: 42, text: Door open}\n"
            f'  - http: "{server.url}/ok/{{secret.unknown}}"\n'
        )
        document.write_text(text, encoding="utf-8")
        assert scenario_cli(daemon, "import", str(document)) == (
            0,
            f"imported e2e-tell from {document}\n",
            f"raspy scenario import: {document}:7:11: warning: http: secret "
            f"unknown: not in {secrets}: {WHY}\n",
        )
        with CloneClient(daemon.endpoint) as tree:
            tree.wait_synced()
            assert scenario_cli(daemon, "run", "e2e-tell")[0] == 0
            got = server.take(timeout_s=10)
            assert (got.path, got.headers["authorization"]) == (
                f"/echo/bot{TOKEN}/sendMessage",
                f"Bearer {KEY}",
            )
            assert json.loads(got.body) == {"chat_id": 42, "text": "Door open"}
            wait_until(
                lambda: value(tree, "/scenario/e2e-tell/last_error") is not None,
                what="the first run's failure",
            )
            # the server's 404 quotes the path it was asked: a request that
            # carried a secret is shown by its status line alone
            assert value(tree, "/scenario/e2e-tell/last_error") == (
                f"http POST {server.url}/…: 404 Not Found"
            )
            _secrets(secrets, NEW_TOKEN)  # read at the next request, no SIGHUP
            assert scenario_cli(daemon, "run", "e2e-tell")[0] == 0
            assert server.take(timeout_s=10).path == f"/echo/bot{NEW_TOKEN}/sendMessage"
            # the service's debug line of each failed request (quoting the answer)
            wait_until(
                lambda: daemon.log_text().count('"http_request_failed"') == 2,
                what="the second request's log line",
            )
        status, shown, _ = scenario_cli(daemon, "show", "e2e-tell")
        assert status == 0
        assert "{secret.token}" in shown
        status, exported, _ = scenario_cli(daemon, "export", "e2e-tell")
        assert (status, exported) == (0, text)
        log = daemon.log_text()
        failed = [
            json.loads(line)
            for line in log.splitlines()
            if '"http_request_failed"' in line
        ]
        assert [line["reason"] for line in failed] == ["404 Not Found"] * 2
        for seen in (shown, exported, log):
            for secret in (TOKEN, NEW_TOKEN, KEY):
                assert secret not in seen


def test_check_config_names_a_bad_secrets_file_by_its_line(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'token = "{TOKEN}"\napi_key = {KEY}\n', encoding="utf-8")
    config = tmp_path / "raspyd.toml"
    config.write_text(f'[http_client]\nsecrets_file = "{secrets}"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspyd", "--check-config", str(config)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout.decode()) == (2, "")
    assert done.stderr.decode() == (
        f"raspyd: {config}: http_client.secrets_file: {secrets}: not TOML: Invalid "
        "value (at line 2, column 11)\n"
    )
    assert KEY not in done.stderr.decode()


def test_a_password_secret_is_sent_as_basic_auth_and_in_no_log_line(
    tmp_path: Path,
) -> None:
    """A secret as the URL's password (`http://me:{secret.pw}@host/`, the one place
    before the host a secret may go) reaches the server as basic authentication;
    the `<host>.http` service logs the URL as scheme and host, and the run shows it
    so, never the value. (A secret in the host itself is refused at import.)"""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    password = "s3cr3t/pw?x"  # noqa: S105  # a / and a ? that must not end it
    (data / "secrets.toml").write_text(f'pw = "{password}"\n', encoding="utf-8")
    os.chmod(data / "secrets.toml", 0o600)
    with http_server() as server:
        host_port = server.url.removeprefix("http://")
        with running_daemon(
            data, config_text=CONFIG, extra_args=("--log-level", "debug")
        ) as daemon:
            document = tmp_path / "e2e-pw.yaml"
            document.write_text(
                "name: e2e-pw\nactions:\n"
                f'  - http: "http://me:{{secret.pw}}@{host_port}/ok"\n',
                encoding="utf-8",
            )
            assert scenario_cli(daemon, "import", str(document))[0] == 0
            assert scenario_cli(daemon, "run", "e2e-pw")[0] == 0
            got = server.take(timeout_s=10)
            wait_until(
                lambda: '"http_request_done"' in daemon.log_text(),
                what="the service's log line of the request",
            )
            status, shown, _ = scenario_cli(daemon, "show", "e2e-pw")
    assert got.path == "/ok"
    sent = base64.b64decode(got.headers["authorization"].removeprefix("Basic "))
    assert sent.decode() == f"me:{password}"
    assert status == 0
    assert f"http POST http://{host_port}/…: 200 OK" in shown
    log = daemon.log_text()
    for piece in ("s3cr3t", "s3cr3t%2F"):
        assert piece not in log
        assert piece not in shown


def test_a_broken_secrets_file_does_not_keep_raspyd_from_starting(
    tmp_path: Path,
) -> None:
    """A typo made in the secrets file while raspyd runs must not keep the whole hub
    from its next boot: raspyd starts and logs the problem, and an `http:` action
    that names a secret fails saying it; `--check-config` still names it (above)."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    secrets = data / "secrets.toml"
    secrets.write_text(f'token = "{TOKEN}"\napi_key = {KEY}\n', encoding="utf-8")
    os.chmod(secrets, 0o600)
    with http_server() as server, running_daemon(data, config_text=CONFIG) as daemon:
        wait_until(
            lambda: '"secrets_file_unusable"' in daemon.log_text(),
            what="the secrets file's problem in the log",
        )
        document = tmp_path / "e2e-broken.yaml"
        document.write_text(
            "name: e2e-broken\nactions:\n"
            f'  - http: "{server.url}/bot{{secret.token}}/send"\n',
            encoding="utf-8",
        )
        assert scenario_cli(daemon, "import", str(document))[0] == 0
        # it fails at once, nothing sent: the command says so, and exits 1
        code, _, said = scenario_cli(daemon, "run", "e2e-broken")
        assert (code, said.split(": ")[:4]) == (
            1,
            ["raspy scenario run", "e2e-broken", "failed", f"http POST {server.url}/…"],
        )
        with CloneClient(daemon.endpoint) as tree:
            tree.wait_synced()
            key = "/scenario/e2e-broken/last_error"
            wait_until(lambda: value(tree, key), what="the run's failure")
            error = value(tree, key)
    assert "secret token:" in error, error
    assert "not TOML" in error, error
    assert server.taken() == []
    assert TOKEN not in daemon.log_text()
    assert KEY not in daemon.log_text()


def test_a_start_without_the_secrets_file_names_the_scenarios_that_need_it(
    tmp_path: Path,
) -> None:
    """A store restored to a new card without secrets.toml (no dump holds it):
    raspyd started without a word, and each `http:` action that names a secret
    failed at its run. Its start now logs one line: the file's problem and the
    scenarios it fails."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    preload = tmp_path / "scenarios"
    preload.mkdir()
    for name in ("e2e-door", "e2e-bell"):
        (preload / f"{name}.yaml").write_text(
            f"name: {name}\nactions:\n"
            '  - http: "https://api.telegram.org/bot{secret.token}/sendMessage"\n',
            encoding="utf-8",
        )
    config = CONFIG + f'preload_dir = "{preload}"\n'
    with running_daemon(data, config_text=config) as daemon:
        wait_until(
            lambda: '"scenario_secrets_unusable"' in daemon.log_text(),
            what="the start's line of the missing file",
        )
        said = [
            json.loads(line)
            for line in daemon.log_text().splitlines()
            if '"scenario_secrets' in line
        ]
    assert [(line["event"], line["scenarios"], line["problem"]) for line in said] == [
        (
            "scenario_secrets_unusable",
            ["e2e-bell", "e2e-door"],
            f"{data / 'secrets.toml'}: no such file",
        )
    ]


def test_a_redirect_to_no_url_fails_as_a_redirect_and_shows_no_secret(
    tmp_path: Path,
) -> None:
    """A redirect whose Location is no URL (a host in brackets that is no IP
    address, built by the server from the secret it was sent) is a refused
    redirect, not a crash of the fetch (urljoin's ValueError quoted the host, and
    the secret with it). The run's `last_error`, `show` and the log never hold
    the value."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    _secrets(data / "secrets.toml", TOKEN)
    with http_server() as server, running_daemon(data, config_text=CONFIG) as daemon:
        document = tmp_path / "e2e-crash.yaml"
        document.write_text(
            "name: e2e-crash\nactions:\n"
            f'  - http: "{server.url}/elsewhere?to=http://[{{secret.token}}]/"\n',
            encoding="utf-8",
        )
        assert scenario_cli(daemon, "import", str(document))[0] == 0
        assert scenario_cli(daemon, "run", "e2e-crash")[0] == 0
        got = server.take(timeout_s=10)
        with CloneClient(daemon.endpoint) as tree:
            tree.wait_synced()
            key = "/scenario/e2e-crash/last_error"
            wait_until(lambda: value(tree, key), what="the run's failure")
            error = value(tree, key)
        status, shown, _ = scenario_cli(daemon, "show", "e2e-crash")
    assert got.path == f"/elsewhere?to=http://[{TOKEN}]/"
    # a request that carried a secret is told of a refused redirect in bare words
    assert error == f"http POST {server.url}/…: a redirect was not followed"
    log = daemon.log_text()
    assert status == 0
    assert '"http_request_crashed"' not in log
    for seen in (error, shown, log):
        assert TOKEN not in seen
