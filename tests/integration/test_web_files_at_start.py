"""raspyd's start with [http] enabled, in a real in-process runtime: the login files'
modes are warned about (the token's made private) and the temp files a write cut
short left in the data dir are removed, before the web face loads its sessions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.net import free_port_base
from support.web_browser import Browser, allow_login

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET
from raspy.web.login import hash_secret
from raspy.web.login_files import token_path, write_private
from raspy.web.session_file import sessions_path

HOST = "testhost"
_WATCHED = ("web_login_file", "web_temp_file", "web_sessions_loaded")


@pytest.mark.timeout(60)
def test_raspyd_names_loose_login_files_and_removes_its_leftover_temp_files(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    token_path(data_dir).chmod(0o644)
    password = tmp_path / "web-password"
    write_private(password, hash_secret("a-password-for-the-test").line() + "\n")
    password.chmod(0o644)
    left = [data_dir / ".web-sessions.0123456789ab.tmp"]
    left.append(data_dir / ".web-token.0123456789ab.tmp")
    for path in left:
        path.write_bytes(b"half")
        os.utime(path, (1e9, 1e9))  # written long ago
    cfg = config_mod.load(
        f'[http]\nenabled = true\npassword_hash_file = "{password}"\n',
        "test.toml",
        data_dir=str(data_dir),
        hostname=HOST,
        network__port_base=free_port_base(5),
    )
    with capture_logs() as logs:
        rt = supervisor.start(cfg)
        try:
            browser = Browser(cfg.network.port_base + WEB_PORT_OFFSET)
            browser.log_in()  # the token works from its tightened file
        finally:
            rt.stop()
    said = [
        {k: v for k, v in e.items() if k not in ("log_level", "component", "count")}
        for e in logs
        if e["event"].startswith(_WATCHED)
    ]
    removed = sorted(
        (
            {
                "event": "web_temp_file_removed",
                "path": str(p),
                "reason": "a write cut short",
            }
            for p in left
        ),
        key=str,
    )
    assert said[:2] == [
        {
            "event": "web_login_file_permissions_tightened",
            "path": str(token_path(data_dir)),
            "mode": "0644",
            "now": "0600",
        },
        {
            "event": "web_login_file_not_private",
            "path": str(password),
            "what": "[http] password_hash_file",
            "mode": "0644",
            "reason": "the group or others may read or write this hash",
            "fix": f"chmod 600 {password}",
        },
    ]
    assert sorted(said[2:4], key=str) == removed
    assert said[4:] == [
        {"event": "web_sessions_loaded", "path": str(sessions_path(data_dir))}
    ]
    assert stat.S_IMODE(token_path(data_dir).stat().st_mode) == 0o600
    assert [p.exists() for p in left] == [False, False]
