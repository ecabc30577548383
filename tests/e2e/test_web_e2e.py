"""The web face's setup in the real raspyd and CLI, without a browser (issue 14):
no listening beyond loopback without a login, a taken port said at start, the token
and password commands, a password login over plain HTTP, a login that outlives a
restart of raspyd (SIGTERM or SIGKILL) but not a new token.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.daemon import Daemon
from support.net import free_port_base
from support.wait import wait_until

from raspy.storage.lock import DataDirLock, ReadLock, being_read
from raspy.web.login import parse_hash, verify


def raspy_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspy", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def raspyd(
    data_dir: Path, config: Path, port_base: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "raspy.cli.raspyd",
            "--data-dir",
            str(data_dir),
            "--port-base",
            str(port_base),
            "--config",
            str(config),
            "--allow-root",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_raspyd_refuses_to_serve_beyond_loopback_without_a_login(
    tmp_path: Path,
) -> None:
    config = tmp_path / "raspyd.toml"
    config.write_text('[http]\nenabled = true\nbind = "0.0.0.0"\n', encoding="utf-8")
    data_dir = tmp_path / "data"
    done = raspyd(data_dir, config, free_port_base(5))
    assert (done.returncode, done.stderr) == (
        2,
        f"raspyd: {config}: http.bind: 0.0.0.0 is beyond loopback and no login is "
        f"configured: run `raspy web-token --data-dir {data_dir}` or set "
        "http.password_hash_file\n",
    )


def test_a_missing_password_hash_file_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "raspyd.toml"
    missing = tmp_path / "nope.hash"
    config.write_text(
        f'[http]\nenabled = true\npassword_hash_file = "{missing}"\n', encoding="utf-8"
    )
    done = raspyd(tmp_path / "data", config, free_port_base(5))
    assert (done.returncode, done.stderr) == (
        2,
        f"raspyd: {config}: http.password_hash_file: {missing}: no such file "
        "(make it with raspy web-password FILE)\n",
    )


def test_a_taken_web_port_stops_raspyd_at_start(tmp_path: Path) -> None:
    base = free_port_base(5)
    config = tmp_path / "raspyd.toml"
    config.write_text("[http]\nenabled = true\n", encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 4))
        taken.listen(1)
        done = raspyd(tmp_path / "data", config, base)
    assert (done.returncode, done.stderr) == (  # one line, before anything started
        1,
        f"raspyd: web face cannot listen on 127.0.0.1:{base + 4}: "
        "Address already in use (--port-base N moves all of raspyd's ports)\n",
    )
    assert not (tmp_path / "data").exists()


def test_a_web_address_this_host_lacks_is_one_line_and_a_usage_error(
    tmp_path: Path,
) -> None:
    base = free_port_base(5)
    config = tmp_path / "raspyd.toml"
    config.write_text(  # 192.0.2.1 (TEST-NET-1): no interface of this host has it
        '[http]\nenabled = true\nbind = "192.0.2.1"\n', encoding="utf-8"
    )
    assert raspy_cli("web-token", "--data-dir", str(tmp_path / "data")).returncode == 0
    done = raspyd(tmp_path / "data", config, base)
    assert (done.returncode, done.stderr) == (
        2,
        f"raspyd: web face cannot listen on 192.0.2.1:{base + 4}: "
        "Cannot assign requested address\n",
    )


def test_a_port_base_that_leaves_no_web_port_is_a_config_error(
    tmp_path: Path,
) -> None:
    """65532 is a valid port base (MDP and Clone end at 65535), but not with [http]:
    one line naming the key and the flag that set it, not a traceback from bind()."""
    config = tmp_path / "raspyd.toml"
    config.write_text("[http]\nenabled = true\n", encoding="utf-8")
    done = raspyd(tmp_path / "data", config, 65532)
    assert (done.returncode, done.stderr) == (
        2,
        f"raspyd: {config} with --port-base 65532: network.port_base: 65532 leaves "
        "no port for the web face "
        "(port base + 4 = 65536); at most 65531 with [http] enabled\n",
    )
    checked = subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspyd", "--check-config", str(config),
         "--port-base", "65532"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (checked.returncode, checked.stderr) == (2, done.stderr)


def test_web_token_prints_a_token_and_keeps_only_its_hash_private(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    done = raspy_cli("web-token", "--data-dir", str(data_dir))
    token = done.stdout.strip()
    stored = (data_dir / "web-token").read_text(encoding="utf-8")
    mode = stat.S_IMODE(os.stat(data_dir / "web-token").st_mode)
    assert (
        done.returncode,
        mode,
        token in stored,
        verify(token, parse_hash(stored)),
    ) == (
        0,
        0o600,
        False,
        True,
    )


def test_web_token_if_none_keeps_the_token_made_before_and_a_running_hub_s(
    tmp_path: Path,
) -> None:
    """`make run` runs it at every start: a second start once made a new token each
    time (every browser logged out), and made it even beside a running raspyd,
    whose own start then failed on the held data dir."""
    data_dir = tmp_path / "data"
    made = raspy_cli("web-token", "--data-dir", str(data_dir), "--if-none")
    stored = (data_dir / "web-token").read_text(encoding="utf-8")
    kept = raspy_cli("web-token", "--data-dir", str(data_dir), "--if-none")
    assert (
        made.returncode,
        made.stderr,
        kept.returncode,
        kept.stdout,
        kept.stderr,
    ) == (
        0,
        "",
        0,
        "",
        "",
    )
    assert verify(made.stdout.strip(), parse_hash(stored))
    assert (data_dir / "web-token").read_text(encoding="utf-8") == stored
    (data_dir / "web-token").unlink()
    lock = DataDirLock(data_dir)  # as a running raspyd holds it
    try:
        held = raspy_cli("web-token", "--data-dir", str(data_dir), "--if-none")
    finally:
        lock.release()
    assert (held.returncode, held.stdout, held.stderr) == (
        2,
        "",
        f"raspy web-token: data dir {data_dir} is in use by another process "
        f"(pid {os.getpid()}): no token made (the one in use stays valid)\n",
    )
    assert not (data_dir / "web-token").exists()


def test_web_token_if_none_beside_a_read_without_a_reader_slot_names_that_read(
    tmp_path: Path,
) -> None:
    """A raspy-kv reading with no reader slot holds the data dir shared: no raspyd
    runs, so no token is in use, yet it was said to stay valid."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    DataDirLock(data_dir).release()  # the lock file a raspyd leaves
    reader = ReadLock(data_dir)
    try:
        held = raspy_cli("web-token", "--data-dir", str(data_dir), "--if-none")
    finally:
        reader.release()
    assert (held.returncode, held.stdout, held.stderr) == (
        2,
        "",
        f"raspy web-token: {being_read(data_dir)}: no token made; let that raspy-kv"
        " end, then run web-token again\n",
    )
    assert not (data_dir / "web-token").exists()


@pytest.mark.timeout(60)
def test_two_web_token_if_none_at_once_make_one_token(tmp_path: Path) -> None:
    """Two first `make run`s at once: both looked for a holder and a token file
    with no lock held, both printed a token, and the second write replaced the
    first (its browser's login refused). The first is stopped here between its
    print and its write, as a busy machine may; the second now finds the data
    dir held by it and makes none."""
    data_dir = tmp_path / "data"
    command = [sys.executable, "-m", "raspy.cli.raspy", "web-token"]
    command += ["--data-dir", str(data_dir), "--if-none"]
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert first.stdout is not None
        token = first.stdout.readline().strip()  # printed before it is stored
        first.send_signal(signal.SIGSTOP)
        second = raspy_cli("web-token", "--data-dir", str(data_dir), "--if-none")
    finally:
        first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=30)
    assert (first.returncode, out, err) == (0, "", "")
    assert second.stdout == ""
    assert (second.returncode, second.stderr) == (
        2,
        f"raspy web-token: data dir {data_dir} is in use by another process "
        f"(pid {first.pid}): no token made (the one in use stays valid)\n",
    )
    stored = (data_dir / "web-token").read_text(encoding="utf-8")
    assert verify(token, parse_hash(stored))


SERVICE_UID = 65534  # the user a data dir belongs to (raspy's, as a service)
SERVICE_GID = 65533


def _owned(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


@pytest.mark.timeout(60)
def test_login_files_made_with_sudo_in_the_services_data_dir_are_the_services(
    tmp_path: Path,
) -> None:
    """`sudo raspy web-token --data-dir /var/lib/raspy` left root's 0600 file in
    raspy's data dir: raspyd could not read it, so no login ever worked (401,
    `web_login_unusable`). Made by root in another user's folder, the token's hash,
    the lock file --if-none takes and web-password's FILE are now that user's."""
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root (CI runs as root)")
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    os.chown(data_dir, SERVICE_UID, SERVICE_GID)
    made = raspy_cli("web-token", "--data-dir", str(data_dir))
    assert made.returncode == 0, made.stderr
    assert _owned(data_dir / "web-token") == (SERVICE_UID, SERVICE_GID, 0o600)
    (data_dir / "web-token").unlink()
    first = raspy_cli("web-token", "--data-dir", str(data_dir), "--if-none")
    assert first.returncode == 0, first.stderr
    assert _owned(data_dir / "web-token") == (SERVICE_UID, SERVICE_GID, 0o600)
    assert _owned(data_dir / "lock") == (SERVICE_UID, SERVICE_GID, 0o600)
    password = raspy_cli(
        "web-password", str(data_dir / "web-password"), stdin="correct horse\n"
    )
    assert password.returncode == 0, password.stderr
    assert _owned(data_dir / "web-password") == (SERVICE_UID, SERVICE_GID, 0o600)
    root_folder = tmp_path / "etc"  # root's own folder: the file stays root's
    root_folder.mkdir()
    kept = raspy_cli("web-password", str(root_folder / "pw"), stdin="correct horse\n")
    assert kept.returncode == 0, kept.stderr
    assert _owned(root_folder / "pw") == (0, 0, 0o600)


def test_web_password_hashes_a_password_and_refuses_a_short_one(tmp_path: Path) -> None:
    target = tmp_path / "web.hash"
    short = raspy_cli("web-password", str(target), stdin="short\n")
    good = raspy_cli("web-password", str(target), stdin="a long enough one\n")
    stored = parse_hash(target.read_text(encoding="utf-8"))
    assert (
        short.returncode,
        short.stderr,
        good.returncode,
        verify("a long enough one", stored),
    ) == (2, "raspy web-password: expected 8..1024 characters, got 5\n", 0, True)


def test_a_mistyped_folder_is_refused_not_made(tmp_path: Path) -> None:
    """Both wrote into folders they made, parents and all (a token nobody reads)."""
    token = raspy_cli("web-token", "--data-dir", str(tmp_path / "no" / "data"))
    password = raspy_cli(
        "web-password", str(tmp_path / "nodir" / "web.hash"), stdin="long enough 1\n"
    )
    assert (token.returncode, token.stdout, token.stderr) == (
        2,
        "",
        f"raspy web-token: cannot write {tmp_path}/no/data/web-token: "
        "No such file or directory (--data-dir names raspyd's data dir: var/raspy "
        "under make run, run from the clone; /var/lib/raspy for the service)\n",
    )
    assert (password.returncode, password.stderr) == (
        2,
        f"raspy web-password: cannot write {tmp_path}/nodir/web.hash: "
        "No such file or directory\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_password_login_over_http_gives_a_strict_http_only_cookie(
    tmp_path: Path,
) -> None:
    password_file = tmp_path / "web.hash"
    raspy_cli("web-password", str(password_file), stdin="kitchen-light-42\n")
    config = f'[http]\nenabled = true\npassword_hash_file = "{password_file}"\n'
    daemon = Daemon(tmp_path / "data", port_base=free_port_base(5), config_text=config)
    port = daemon.port_base + 4
    try:
        daemon.start(timeout_s=30)
        answer = _login_answer(port, "kitchen-light-42")
    finally:
        daemon.kill()
    cookie = next(c for c in answer.cookies if c.startswith("raspy_session="))
    flags = sorted(part.strip().lower() for part in cookie.split(";")[1:])
    assert (answer.status, answer.location, flags) == (
        303,
        "/",
        ["httponly", "max-age=691200", "path=/", "samesite=strict"],
    )


@pytest.mark.timeout(120)
def test_a_login_outlives_a_restart_of_raspyd_but_not_a_new_token(
    tmp_path: Path,
) -> None:
    """Sessions were kept in memory only: every restart logged every browser out.
    A login answered is on disk already (a SIGKILL right after keeps it), and a
    token made while raspyd was stopped ends the logins made with the old one."""
    data_dir = tmp_path / "data"
    token = raspy_cli("web-token", "--data-dir", str(data_dir)).stdout.strip()
    daemon = Daemon(
        data_dir, port_base=free_port_base(5), config_text="[http]\nenabled = true\n"
    )
    port = daemon.port_base + 4
    try:
        daemon.start(timeout_s=30)
        first = _log_in(port, token)
        stopped = daemon.terminate()
        daemon.start(timeout_s=30)
        after_stop = _logged_in(port, first)
        second = _log_in(port, token)
        daemon.kill()  # at once after the answer, as a power cut
        daemon.start(timeout_s=30)
        after_kill = (_logged_in(port, first), _logged_in(port, second))
        daemon.kill()
        new_token = raspy_cli("web-token", "--data-dir", str(data_dir))
        daemon.start(timeout_s=30)
        after_token = (_logged_in(port, first), _logged_in(port, second))
    finally:
        daemon.kill()
    assert (stopped, new_token.returncode) == (0, 0)
    assert (after_stop, after_kill, after_token) == (
        True,
        (True, True),
        (False, False),
    )


def _login_answer(port: int, secret: str) -> Answer:
    """The answer to the login form sent with `secret` (its CSRF token and login
    cookie taken from the form, as a browser does)."""
    form = wait_until(lambda: _get(port, "/login"), what="the login form")
    assert form is not None
    login_cookie = form.cookies[0].split(";")[0]
    match = re.search(r'name="csrf" value="([^"]+)"', form.body)
    assert match is not None
    return _post(port, "/login", f"csrf={match.group(1)}&secret={secret}", login_cookie)


def _log_in(port: int, secret: str) -> str:
    """Log in with the login form: the session cookie (`raspy_session=...`)."""
    answer = _login_answer(port, secret)
    assert answer.status == 303, answer.body
    cookie = next(c for c in answer.cookies if c.startswith("raspy_session="))
    return cookie.split(";")[0]


def _logged_in(port: int, cookie: str) -> bool:
    """GET /login with the cookie: a live session is sent on to the devices (303),
    any other browser gets the form (200)."""
    wait_until(lambda: _get(port, "/login"), what="the web face")
    answer = _exchange(port, "GET", "/login", None, Cookie=cookie)
    assert answer.status in (200, 303), answer.status
    return answer.status == 303


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    location: str
    cookies: list[str]
    body: str


def _exchange(
    port: int, method: str, path: str, body: bytes | None, **headers: str
) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(
            response.status,
            response.getheader("location") or "",
            response.headers.get_all("set-cookie") or [],
            response.read().decode("utf-8"),
        )
    finally:
        connection.close()


def _get(port: int, path: str) -> Answer | None:
    try:
        return _exchange(port, "GET", path, None)
    except ConnectionRefusedError:
        return None


def _post(port: int, path: str, body: str, cookie: str) -> Answer:
    return _exchange(
        port,
        "POST",
        path,
        body.encode(),
        **{"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
