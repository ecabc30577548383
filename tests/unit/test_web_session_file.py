"""Web sessions kept across restarts (raspy.web.session_file, Sessions.to_save and
restore): the file in tmp_path, the clock a FakeClock."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from support.clock import FakeClock

from raspy.atomic_file import prepare_atomic
from raspy.web.login import (
    SavedSession,
    Session,
    Sessions,
    hash_secret,
    session_key,
)
from raspy.web.login_files import LoginFiles, token_path, write_private
from raspy.web.session_file import (
    HEADER,
    MAX_FILE_BYTES,
    SessionFile,
    decode,
    encode,
    sessions_path,
)

DAY = 24 * 3600.0
WEEK = 7 * DAY
LOGINS = "fingerprint-of-the-login-files"


def _restarted(
    path: Path, clock: FakeClock, logins: str = LOGINS, lifetime_s: float = WEEK
) -> Sessions:
    """What a new raspyd makes of the file: a Sessions restored from it."""
    sessions = Sessions(lifetime_s)
    sessions.restore(SessionFile(path).load(), clock.monotonic(), clock.wall(), logins)
    return sessions


def _saved(sessions: Sessions, path: Path, clock: FakeClock) -> None:
    SessionFile(path).save(
        sessions.to_save(clock.monotonic(), clock.wall()), sessions.changes
    )


def test_a_session_saved_and_loaded_is_the_same_session_after_a_restart(
    tmp_path: Path,
) -> None:
    path = sessions_path(tmp_path)
    clock = FakeClock(monotonic=1000.0, wall=1_700_000_000.0)
    before = Sessions(WEEK)
    session = before.create(clock.monotonic(), LOGINS)
    _saved(before, path, clock)
    # a new process: its monotonic clock starts anew, the wall clock went on 60 s
    later = FakeClock(monotonic=5.0, wall=1_700_000_060.0)
    after = _restarted(path, later)
    assert after.get(session.sid, later.monotonic(), LOGINS) == Session(
        session.sid, session.csrf, 5.0 + WEEK - 60.0, LOGINS
    )


def test_a_session_ends_at_its_time_on_the_wall_clock_across_a_restart(
    tmp_path: Path,
) -> None:
    path = sessions_path(tmp_path)
    clock = FakeClock()
    before = Sessions(WEEK)
    session = before.create(clock.monotonic(), LOGINS)
    _saved(before, path, clock)
    clock.advance(6 * DAY)  # stopped for six days: one day left
    after = _restarted(path, clock)
    live = after.get(session.sid, clock.monotonic(), LOGINS)
    clock.advance(DAY)
    assert (live is None, after.get(session.sid, clock.monotonic(), LOGINS)) == (
        False,
        None,
    )
    assert len(_restarted(path, clock)) == 0  # and ended for a later start too


def test_an_ended_session_is_left_out_when_loaded(tmp_path: Path) -> None:
    path = sessions_path(tmp_path)
    clock = FakeClock()
    before = Sessions(WEEK)
    before.create(clock.monotonic(), LOGINS)
    _saved(before, path, clock)
    clock.advance(WEEK)
    assert len(_restarted(path, clock)) == 0


def test_a_wall_clock_set_back_does_not_stretch_a_session(tmp_path: Path) -> None:
    """The time left is capped at the lifetime: a Pi whose clock starts a month
    behind (no RTC, before NTP) must not make a week's session last five weeks."""
    path = sessions_path(tmp_path)
    clock = FakeClock()
    before = Sessions(WEEK)
    session = before.create(clock.monotonic(), LOGINS)
    _saved(before, path, clock)
    clock.step_wall(-30 * DAY)
    after = _restarted(path, clock)
    live = after.get(session.sid, clock.monotonic(), LOGINS)
    assert live is not None
    assert live.expires_at == clock.monotonic() + WEEK


def test_sessions_of_login_files_changed_while_stopped_are_not_loaded(
    tmp_path: Path,
) -> None:
    """A new `raspy web-token` while raspyd was stopped logs everybody out too."""
    path = sessions_path(tmp_path)
    write_private(token_path(tmp_path), hash_secret("first").line() + "\n")
    first = LoginFiles(tmp_path, "").fingerprint()
    clock = FakeClock()
    before = Sessions(WEEK)
    session = before.create(clock.monotonic(), first)
    _saved(before, path, clock)
    write_private(token_path(tmp_path), hash_secret("second").line() + "\n")
    after = _restarted(path, clock, LoginFiles(tmp_path, "").fingerprint())
    had_it_not_changed = _restarted(path, clock, first)
    assert (
        len(after),
        had_it_not_changed.get(session.sid, clock.monotonic(), first) is None,
    ) == (0, False)


def test_the_fingerprint_follows_the_content_of_the_login_files(
    tmp_path: Path,
) -> None:
    """Not a stat result: the same content copied (a restored backup, another inode)
    is the same, new content is not, a password file counts as much as the token."""
    password = tmp_path / "web.hash"
    line = hash_secret("first").line() + "\n"
    write_private(token_path(tmp_path), line)
    first = LoginFiles(tmp_path, "").fingerprint()
    token_path(tmp_path).unlink()
    write_private(token_path(tmp_path), line)
    copied = LoginFiles(tmp_path, "").fingerprint()
    write_private(token_path(tmp_path), hash_secret("first").line() + "\n")
    rehashed = LoginFiles(tmp_path, "").fingerprint()
    write_private(password, hash_secret("a password").line() + "\n")
    with_password = LoginFiles(tmp_path, str(password)).fingerprint()
    assert (copied == first, rehashed == first, with_password == rehashed) == (
        True,
        False,
        False,
    )


def test_the_fingerprint_changes_when_a_running_face_sees_a_new_token(
    tmp_path: Path,
) -> None:
    logins = LoginFiles(tmp_path, "")
    write_private(token_path(tmp_path), hash_secret("first").line() + "\n")
    first = logins.fingerprint()
    write_private(token_path(tmp_path), hash_secret("second").line() + "\n")
    assert (logins.fingerprint() != first, logins.fingerprint()) == (
        True,
        LoginFiles(tmp_path, "").fingerprint(),
    )


def test_the_file_holds_the_hash_of_the_cookie_never_the_cookie(
    tmp_path: Path,
) -> None:
    path = sessions_path(tmp_path)
    clock = FakeClock(wall=1_700_000_000.0)
    sessions = Sessions(WEEK)
    session = sessions.create(clock.monotonic(), LOGINS)
    _saved(sessions, path, clock)
    key = base64.urlsafe_b64encode(hashlib.sha256(session.sid.encode()).digest())
    text = path.read_text(encoding="ascii")
    assert text == (
        f"{HEADER}\n{key.rstrip(b'=').decode()} {session.csrf} "
        f"{1_700_000_000 + int(WEEK)} {LOGINS}\n"
    )
    assert session.sid not in text


def test_the_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    path = sessions_path(tmp_path)
    old_umask = os.umask(0)
    try:
        SessionFile(path).save([], 1)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_others_may_read_is_made_private_when_loaded(tmp_path: Path) -> None:
    path = sessions_path(tmp_path)
    clock = FakeClock()
    sessions = Sessions(WEEK)
    session = sessions.create(clock.monotonic(), LOGINS)
    _saved(sessions, path, clock)
    path.chmod(0o644)
    with capture_logs() as logs:
        after = _restarted(path, clock)
    assert logs == [
        {
            "event": "web_sessions_permissions_tightened",
            "log_level": "warning",
            "component": "web",
            "path": str(path),
            "mode": "0644",
            "now": "0600",
        }
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert after.get(session.sid, clock.monotonic(), LOGINS) is not None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\x00\xff garbage\n", "not ASCII text", id="binary"),
        pytest.param(
            HEADER.encode() + b"\nabc", "cut short: no line end at its end", id="cut"
        ),
        pytest.param(
            b"raspy-web-sessions 9\n",
            f"line 1: expected the header {HEADER}",
            id="header",
        ),
        pytest.param(
            HEADER.encode() + b"\nonly two\n",
            "line 2: expected 4 fields separated by spaces, got 2",
            id="fields",
        ),
        pytest.param(
            HEADER.encode() + b"\n" + b"k" * 42 + b" csrf 1 logins\n",
            "line 2: the key is not 43 base64url characters",
            id="short-key",
        ),
        pytest.param(
            HEADER.encode() + b"\n" + b"A" * 42 + b"B csrf 1 logins\n",
            "line 2: the key is not base64url",
            id="key-bits",
        ),
        pytest.param(
            HEADER.encode() + b"\n" + b"A" * 43 + b" csrf 1.5 logins\n",
            "line 2: the end is not a whole number of seconds",
            id="end",
        ),
        pytest.param(
            HEADER.encode() + b"\n" + b"A" * 43 + b" cs/rf 1 logins\n",
            "line 2: the CSRF token is not 1 to 64 base64url characters",
            id="csrf",
        ),
        pytest.param(
            HEADER.encode() + b"\n" + b"A" * 43 + b" csrf 1 \n",
            "line 2: the login files' fingerprint is not 1 to 64 base64url characters",
            id="logins",
        ),
        pytest.param(
            b"x" * (MAX_FILE_BYTES + 1), f"over {MAX_FILE_BYTES} bytes", id="huge"
        ),
    ],
)
def test_a_damaged_file_is_logged_once_and_read_as_empty(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = sessions_path(tmp_path)
    write_private(path, content.decode("latin-1"))  # 0600: nothing to tighten
    with capture_logs() as logs:
        loaded = SessionFile(path).load()
    assert (loaded, logs) == (
        [],
        [
            {
                "event": "web_sessions_unreadable",
                "log_level": "warning",
                "component": "web",
                "path": str(path),
                "reason": f"{reason}; everyone logs in again",
            }
        ],
    )


def test_an_unreadable_file_is_logged_and_read_as_empty(tmp_path: Path) -> None:
    """Not a file at all (a folder in its place): said, no traceback, no sessions."""
    path = sessions_path(tmp_path)
    path.mkdir()
    with capture_logs() as logs:
        loaded = SessionFile(path).load()
    assert (loaded, [(e["event"], e["path"]) for e in logs]) == (
        [],
        [("web_sessions_unreadable", str(path))],
    )


def test_a_missing_file_is_no_sessions_and_no_word(tmp_path: Path) -> None:
    with capture_logs() as logs:
        assert (SessionFile(sessions_path(tmp_path)).load(), logs) == ([], [])


def test_a_damaged_file_is_replaced_at_the_next_write(tmp_path: Path) -> None:
    path = sessions_path(tmp_path)
    path.write_bytes(b"\x00\x01 damaged")
    clock = FakeClock()
    sessions = _restarted(path, clock)
    session = sessions.create(clock.monotonic(), LOGINS)
    _saved(sessions, path, clock)
    assert _restarted(path, clock).get(session.sid, clock.monotonic(), LOGINS)


def test_the_saved_sessions_are_capped_at_the_limit_newest_kept(
    tmp_path: Path,
) -> None:
    path = sessions_path(tmp_path)
    clock = FakeClock()
    sessions = Sessions(WEEK, limit=3)
    made = [sessions.create(clock.monotonic() + i, LOGINS) for i in range(5)]
    _saved(sessions, path, clock)
    after = _restarted(path, clock)
    assert (len(decode(path.read_bytes())), len(after)) == (3, 3)
    assert [after.get(s.sid, clock.monotonic(), LOGINS) is not None for s in made] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_a_file_with_more_sessions_than_the_limit_keeps_the_newest() -> None:
    clock = FakeClock()
    saved = [
        SavedSession(session_key(f"sid-{i}"), "csrf", int(clock.wall() + DAY), LOGINS)
        for i in range(4)
    ]
    sessions = Sessions(WEEK, limit=2)
    sessions.restore(saved, clock.monotonic(), clock.wall(), LOGINS)
    found = [sessions.get(f"sid-{i}", clock.monotonic(), LOGINS) for i in range(4)]
    assert [s is not None for s in found] == [False, False, True, True]


def test_only_logins_logouts_and_old_login_files_count_as_changes() -> None:
    """What makes the file be written: an ended session does not (it is left out at
    the next write and when loaded), nor does a look-up."""
    clock = FakeClock()
    sessions = Sessions(60.0)
    first = sessions.create(clock.monotonic(), LOGINS)
    second = sessions.create(clock.monotonic(), LOGINS)
    counted = [sessions.changes]
    sessions.get(first.sid, clock.monotonic(), LOGINS)
    sessions.drop("no such cookie")
    counted.append(sessions.changes)
    sessions.drop(first.sid)
    counted.append(sessions.changes)
    third = sessions.create(clock.monotonic() + 30.0, LOGINS)
    clock.advance(60.0)
    sessions.get(second.sid, clock.monotonic(), LOGINS)  # ended
    counted.append(sessions.changes)
    sessions.get(third.sid, clock.monotonic(), "new login files")
    counted.append(sessions.changes)
    assert (counted, len(sessions)) == ([2, 2, 3, 4, 5], 0)


def test_an_older_list_never_replaces_a_newer_one(tmp_path: Path) -> None:
    """Two logins' writes finishing out of order: the later list stays."""
    path = sessions_path(tmp_path)
    newer = [SavedSession(session_key("b"), "csrf", 2_000_000_000, LOGINS)]
    older = [SavedSession(session_key("a"), "csrf", 2_000_000_000, LOGINS)]
    file = SessionFile(path)
    file.save(newer, 2)
    file.save(older, 1)
    assert decode(path.read_bytes()) == newer


_TOKEN_TEXT = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    min_size=1,
    max_size=64,
)
_SAVED = st.builds(
    SavedSession,
    st.binary(min_size=32, max_size=32),
    _TOKEN_TEXT,
    st.integers(min_value=0, max_value=10**12 - 1),
    _TOKEN_TEXT,
)


@given(st.lists(_SAVED, max_size=20))
def test_any_sessions_read_back_as_written(saved: list[SavedSession]) -> None:
    assert decode(encode(saved)) == saved


@given(
    st.binary(max_size=300)
    | st.lists(_SAVED, max_size=3)
    .map(encode)
    .flatmap(lambda good: st.integers(0, len(good)).map(lambda cut: good[:cut]))
)
def test_any_content_reads_as_sessions_or_a_reason(data: bytes) -> None:
    try:
        found: list[SavedSession] | str = decode(data)
    except ValueError as exc:
        found = str(exc)
    assert (
        found != ""
        if isinstance(found, str)
        else all(isinstance(s, SavedSession) for s in found)
    )


@settings(max_examples=30)
@given(st.binary(max_size=200))
def test_any_file_loads_as_sessions_or_nothing_without_raising(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = sessions_path(folder)
        path.write_bytes(data)
        with capture_logs():
            found = SessionFile(path).load()
    assert all(isinstance(s, SavedSession) for s in found)


def test_a_write_that_failed_is_tried_again_a_minute_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logout whose write failed (a full card) stayed in the file for good: the
    next restart let its cookie in again. The write is tried again at a request a
    minute later, not at every request before."""
    from raspy.web import session_file

    path = sessions_path(tmp_path)
    clock = FakeClock(monotonic=1000.0, wall=1_700_000_000.0)
    sessions = Sessions(WEEK)
    kept = session_file.KeptSessions(sessions, path, clock)
    stays = sessions.create(clock.monotonic(), LOGINS)
    leaves = sessions.create(clock.monotonic(), LOGINS)
    asyncio.run(kept.save())
    tries: list[Path] = []

    def full_card(target: Path, data: bytes, mode: int) -> None:
        tries.append(target)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_file, "prepare_atomic", full_card)
    sessions.drop(leaves.sid)
    with capture_logs() as logs:
        asyncio.run(kept.save())
    assert [e["event"] for e in logs] == ["web_sessions_not_saved"]
    monkeypatch.setattr(session_file, "prepare_atomic", prepare_atomic)
    clock.advance(session_file.SAVE_RETRY_S - 1)
    asyncio.run(kept.save())  # a request: too soon to try again
    assert _restarted(path, clock).get(leaves.sid, clock.monotonic(), LOGINS)
    clock.advance(1)
    asyncio.run(kept.save())
    restarted = _restarted(path, clock)
    assert restarted.get(leaves.sid, clock.monotonic(), LOGINS) is None
    assert restarted.get(stays.sid, clock.monotonic(), LOGINS) is not None
    assert tries == [path]
