"""What raspyd looks at in the web face's files when it starts (raspy.web.start_files):
the login files' modes and the temp files a write cut short left, in tmp_path."""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

from structlog.testing import capture_logs

from raspy.atomic_file import temp_target
from raspy.secrets_file import group_name
from raspy.web.login import hash_secret
from raspy.web.login_files import LoginFiles, token_path, write_private
from raspy.web.start_files import STALE_TEMP_S, check_login_modes, remove_leftovers

HASH = hash_secret("a-password-for-the-test").line() + "\n"


def _logins(tmp_path: Path, token_mode: int, password_mode: int) -> LoginFiles:
    data_dir = tmp_path / "data"
    write_private(token_path(data_dir), HASH)
    token_path(data_dir).chmod(token_mode)
    password = tmp_path / "web-password"
    write_private(password, HASH)
    password.chmod(password_mode)
    return LoginFiles(data_dir, str(password))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_files_others_may_read_are_named_with_the_fix_and_the_token_made_private(
    tmp_path: Path,
) -> None:
    """A group- or world-readable password hash file was taken without a word."""
    logins = _logins(tmp_path, 0o644, 0o640)
    password = tmp_path / "web-password"
    with capture_logs() as logs:
        check_login_modes(logins, uid=os.geteuid())
    assert logs == [
        {
            "event": "web_login_file_permissions_tightened",
            "log_level": "warning",
            "component": "web",
            "path": str(logins.token_file),
            "mode": "0644",
            "now": "0600",
        },
        {
            "event": "web_login_file_not_private",
            "log_level": "warning",
            "component": "web",
            "path": str(password),
            "what": "[http] password_hash_file",
            "mode": "0640",
            "reason": "the group or others may read or write this hash",
            "fix": f"chmod 600 {password}",
        },
    ]
    assert (_mode(logins.token_file), _mode(password)) == (0o600, 0o640)


def test_a_token_file_that_is_a_link_is_named_not_changed(tmp_path: Path) -> None:
    """A token file linked elsewhere (a setup's own doing): a chmod would change
    whatever it points at, so it is only named, with the fix."""
    logins = _logins(tmp_path, 0o600, 0o600)
    target = tmp_path / "shared-hash"
    write_private(target, HASH)
    target.chmod(0o644)
    logins.token_file.unlink()
    logins.token_file.symlink_to(target)
    with capture_logs() as logs:
        check_login_modes(logins, uid=os.geteuid())
    assert [log["event"] for log in logs] == ["web_login_file_not_private"]
    assert _mode(target) == 0o644


def test_private_login_files_and_missing_ones_say_nothing(tmp_path: Path) -> None:
    logins = _logins(tmp_path, 0o600, 0o400)
    missing = LoginFiles(tmp_path / "empty", str(tmp_path / "no-such-file"))
    with capture_logs() as logs:
        check_login_modes(logins, uid=os.geteuid())
        check_login_modes(missing, uid=os.geteuid())
    assert logs == []


def test_another_users_password_file_may_be_read_by_its_group_not_by_others(
    tmp_path: Path,
) -> None:
    """root's file in /etc, read by raspyd as one of its group: 0640 is right, and
    chmod 600 would lock raspyd out; others still may not read it."""
    logins = _logins(tmp_path, 0o600, 0o640)
    password = tmp_path / "web-password"
    other_user = os.geteuid() + 1
    with capture_logs() as quiet:
        check_login_modes(logins, uid=other_user)
    password.chmod(0o644)
    with capture_logs() as logs:
        check_login_modes(logins, uid=other_user)
    assert quiet == []
    assert [(e["event"], e["path"], e["mode"], e["fix"]) for e in logs] == [
        ("web_login_file_not_private", str(password), "0644", f"chmod 640 {password}")
    ]
    not_its_group = password.stat().st_gid + 1  # root:root in /etc: chmod alone
    with capture_logs() as logs:  # would lock raspyd out
        check_login_modes(logins, uid=other_user, groups=[not_its_group])
    assert [e["fix"] for e in logs] == [
        f"chgrp {group_name(not_its_group)} {password} && chmod 640 {password}"
    ]


def _left(path: Path) -> Path:
    """A temp file of `path` as a write cut short leaves it: named as atomic_writer
    names its temp files (temp_target knows it), with part of the content."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    assert temp_target(temp.name) == path.name
    temp.write_bytes(b"half")
    return temp


def test_temp_files_of_the_sessions_and_the_token_left_by_a_cut_write_are_removed(
    tmp_path: Path,
) -> None:
    """Nothing removed them: each power cut in the middle of a login's write left
    one more in the data dir for good."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sessions = _left(data_dir / "web-sessions")
    token = _left(data_dir / "web-token")
    now = time.time()
    os.utime(token, (now - 3600, now - 3600))
    writing = _left(data_dir / "web-token")  # `raspy web-token` at this moment
    others = [
        _left(data_dir / "web-sessions.bak"),  # not ours
        _left(data_dir / "store.dump"),
        data_dir / ".web-sessions.tmp",  # not our naming
        data_dir / "web-sessions",
    ]
    for path in others[2:]:
        path.write_bytes(b"x")
    folder = data_dir / ".web-sessions.0123456789ab.tmp"  # not a regular file
    folder.mkdir()
    elsewhere = _left(tmp_path / "web-sessions")  # not in the data dir
    with capture_logs() as logs:
        removed = remove_leftovers(data_dir, now)
    assert sorted(removed) == sorted([sessions, token])
    assert sorted(logs, key=lambda e: str(e["path"])) == sorted(
        (
            {
                "event": "web_temp_file_removed",
                "log_level": "info",
                "component": "web",
                "path": str(path),
                "reason": "a write cut short",
            }
            for path in (sessions, token)
        ),
        key=lambda e: str(e["path"]),
    )
    assert sorted(os.listdir(data_dir)) == sorted(
        p.name for p in [writing, *others, folder]
    )
    assert elsewhere.exists()


def test_a_token_temp_from_a_clock_far_ahead_is_stale_too(tmp_path: Path) -> None:
    """A Pi without a clock starts behind: the temp of a write cut short before it
    may look newer than now, and no write under way has a time that far off."""
    token = _left(tmp_path / "web-token")
    now = time.time()
    os.utime(token, (now + 10 * STALE_TEMP_S, now + 10 * STALE_TEMP_S))
    assert remove_leftovers(tmp_path, now) == [token]
    assert remove_leftovers(tmp_path / "no-data-dir", now) == []
