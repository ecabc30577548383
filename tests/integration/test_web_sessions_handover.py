"""One sessions file, two web faces: the supervisor restarts the web face while the
old one's last write is still on its way to the disk (raspy.web.session_file). Real
files in tmp_path, real threads; the disk is the one thing faked: its first fsync
waits at a gate the test opens, so the order is the test's, never the scheduler's."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock

from raspy.web.login import Sessions
from raspy.web.session_file import KeptSessions, SessionFile, sessions_path

WEEK = 7 * 24 * 3600.0
LOGINS = "fingerprint-of-the-login-files"
_GATE_S = 10.0  # far longer than the test; only a test that hangs waits this long

pytestmark = pytest.mark.timeout(30)


class SlowDisk:
    """os.fsync whose first call waits until open() (an SD card slow to sync): the
    write under way when the new face starts. Every later call goes straight on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self._open = threading.Event()
        calls = itertools.count()
        real = os.fsync

        def fsync(fd: int) -> None:
            if next(calls) == 0:
                self.entered.set()
                if not self._open.wait(_GATE_S):
                    raise AssertionError("the test never opened the gate")
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    def open(self) -> None:
        self._open.set()


def _restored(path: Path, clock: FakeClock) -> Sessions:
    """What a later start of raspyd makes of the file."""
    sessions = Sessions(WEEK)
    sessions.restore(SessionFile(path).load(), clock.monotonic(), clock.wall(), LOGINS)
    return sessions


def test_the_old_faces_write_under_way_never_replaces_the_new_faces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each face had its own lock and its own count of versions: the old face's
    list, synced last, was renamed over the one the new face had written since, and
    the login made at the new face was gone at the next restart."""
    path = sessions_path(tmp_path)
    clock = FakeClock()
    old_sessions = Sessions(WEEK)
    old = KeptSessions(old_sessions, path, clock)
    old.load(LOGINS)
    kept = old_sessions.create(clock.monotonic(), LOGINS)
    asyncio.run(old.save())
    old_sessions.create(clock.monotonic(), LOGINS)  # a login as the face is stopped
    disk = SlowDisk(monkeypatch)
    saving = threading.Thread(target=asyncio.run, args=(old.save(),))
    saving.start()
    try:
        assert disk.entered.wait(_GATE_S)  # the old face's write is under way
        new_sessions = Sessions(WEEK)
        with capture_logs() as logs:
            new = KeptSessions(new_sessions, path, clock)  # the restarted face
            new.load(LOGINS)
            newer = new_sessions.create(clock.monotonic(), LOGINS)
            asyncio.run(new.save())
            disk.open()
            saving.join(_GATE_S)
    finally:
        disk.open()
        saving.join(_GATE_S)
    restored = _restored(path, clock)
    now = clock.monotonic()
    assert restored.get(newer.sid, now, LOGINS) is not None
    assert restored.get(kept.sid, now, LOGINS) is not None
    assert len(restored) == 2
    assert [(e["event"], e.get("count")) for e in logs] == [
        ("web_sessions_loaded", 1),
        ("web_sessions_save_dropped", None),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web-sessions"]
