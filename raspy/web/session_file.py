"""The web face's sessions in the data dir (file `web-sessions`), so that a restart of
raspyd keeps every browser logged in for the rest of its session (docs/web.md).

The file holds no cookie value, only its SHA-256 (raspy.web.login.session_key): a
copy of the data dir or a backup hands out no live session. The CSRF token is kept
as it is: without the cookie it opens nothing. It is written whole (temp, fsync,
rename; mode 0600) and only when the sessions change, never per request nor on a
timer: the disk is often an SD card. A file that cannot be read or is damaged
never stops anything: it is logged once and read as empty (everyone logs in again),
and the next write replaces it.

The format is text, one session a line after a header line:

    raspy-web-sessions 1
    <key> <csrf> <ends> <logins>

`key`: the SHA-256 of the cookie value, base64url without padding (43 characters);
`csrf`: the session's CSRF token; `ends`: when it ends, whole seconds since the epoch;
`logins`: raspy.web.login_files.LoginFiles.fingerprint() at its login.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import stat
import threading
from pathlib import Path
from typing import Final

import structlog

from raspy.atomic_file import prepare_atomic
from raspy.clock import Clock
from raspy.web.login import MAX_SESSIONS, SavedSession, Sessions, b64url

log = structlog.get_logger(component="web")

SESSIONS_FILE: Final = "web-sessions"
HEADER: Final = "raspy-web-sessions 1"
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")  # base64url, as our tokens are
_KEY_CHARS: Final = 43  # 32 bytes in base64url without padding
_ENDS: Final = re.compile(r"[0-9]{1,12}")
# a line is at most 43 + 64 + 12 + 64 characters and 3 spaces: the file of
# MAX_SESSIONS sessions stays well below this; a longer one was not written here
MAX_FILE_BYTES: Final = len(HEADER) + 1 + MAX_SESSIONS * 200
# a write that failed is tried again at a request this long after, not at every one
SAVE_RETRY_S: Final = 60.0


def sessions_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / SESSIONS_FILE


class _Owner:
    """Who writes one sessions file: a lock, and the newest web face that took it
    over. Shared by every SessionFile of the path in this process, since a web face
    restarted by the supervisor is a new one while its predecessor's last write may
    still be under way."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.face = 0  # the newest SessionFile.take_over's number; 0: none yet


_OWNERS: dict[Path, _Owner] = {}  # by absolute path; one a data dir
_OWNERS_LOCK: Final = threading.Lock()


def _owner_of(path: Path) -> _Owner:
    with _OWNERS_LOCK:
        return _OWNERS.setdefault(Path(os.path.abspath(path)), _Owner())


def encode(sessions: list[SavedSession]) -> bytes:
    """The file's content; ValueError for a session it could not read back."""
    lines = [HEADER]
    for number, session in enumerate(sessions, 2):
        line = " ".join(
            (
                b64url(session.key),
                session.csrf,
                str(session.ends_wall_ts),
                session.logins,
            )
        )
        if _session(line) != session:
            raise ValueError(f"session {number - 1} cannot be written as a line")
        lines.append(line)
    return ("\n".join(lines) + "\n").encode("ascii")


def decode(data: bytes) -> list[SavedSession]:
    """The sessions of a file's content, in its order; ValueError naming the line and
    what is wrong with it (never its content: a CSRF token is no one's business)."""
    if not data:
        raise ValueError("empty")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"over {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("not ASCII text") from None
    if not text.endswith("\n"):
        raise ValueError("cut short: no line end at its end")
    lines = text[:-1].split("\n")
    if lines[0] != HEADER:
        raise ValueError(f"line 1: expected the header {HEADER}")
    sessions: list[SavedSession] = []
    for number, line in enumerate(lines[1:], 2):
        found = _session(line)
        if isinstance(found, str):
            raise ValueError(f"line {number}: {found}")
        sessions.append(found)
    return sessions


def _session(line: str) -> SavedSession | str:
    """The session of one line, or what is wrong with it."""
    fields = line.split(" ")
    if len(fields) != 4:
        return f"expected 4 fields separated by spaces, got {len(fields)}"
    key, csrf, ends, logins = fields
    if len(key) != _KEY_CHARS or not _TOKEN.fullmatch(key):
        return f"the key is not {_KEY_CHARS} base64url characters"
    try:
        raw_key = base64.urlsafe_b64decode(key + "=")
    except (binascii.Error, ValueError):
        return "the key is not base64url"
    if b64url(raw_key) != key:  # the last character's unused bits are set
        return "the key is not base64url"
    if not _TOKEN.fullmatch(csrf):
        return "the CSRF token is not 1 to 64 base64url characters"
    if not _ENDS.fullmatch(ends):
        return "the end is not a whole number of seconds"
    if not _TOKEN.fullmatch(logins):
        return "the login files' fingerprint is not 1 to 64 base64url characters"
    return SavedSession(raw_key, csrf, int(ends), logins)


class SessionFile:
    """The sessions file of one data dir. save() may run on several threads at once
    (each login's write off the HTTP loop): the newest list wins whatever the order
    in which they get there. Once a web face took the file over (take_over), a face
    before it writes it no more: a restart of the web face while its predecessor
    was writing let the older list replace the newer one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._owner = _owner_of(path)
        self._face = 0  # this one's number if it took the file over
        self._written = 0  # the newest version on disk

    def take_over(self) -> list[SavedSession]:
        """load() for the web face that writes the file from now on: a write of an
        earlier face that is being renamed into place ends first (so its list is
        read), and none of its writes lands after this."""
        with self._owner.lock:
            self._owner.face += 1
            self._face = self._owner.face
            return self.load()

    def load(self) -> list[SavedSession]:
        """The saved sessions; none when the file is missing, and none (logged, event
        `web_sessions_unreadable`) when it cannot be read or is damaged. A file the
        group or others may read is made 0600 (`web_sessions_permissions_tightened`),
        as raspyd does with its data dir; one that cannot be is not read."""
        try:
            data = self._read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            self._unreadable(exc.strerror or str(exc))
            return []
        except ValueError as exc:
            self._unreadable(str(exc))
            return []
        try:
            return decode(data)
        except ValueError as exc:
            self._unreadable(str(exc))
            return []

    def _read(self) -> bytes:
        # not a link's target; a pipe opens without waiting for a writer (and is
        # refused below)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(self.path, flags)
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValueError("not a regular file")
            mode = stat.S_IMODE(info.st_mode)
            if mode & 0o077:
                try:
                    os.fchmod(file.fileno(), 0o600)
                except OSError as exc:
                    raise ValueError(
                        f"the group or others may read it (mode {mode:04o}) and it "
                        f"cannot be made private: {exc.strerror}"
                    ) from None
                log.warning(
                    "web_sessions_permissions_tightened",
                    path=str(self.path),
                    mode=f"{mode:04o}",
                    now="0600",
                )
            return file.read(MAX_FILE_BYTES + 1)

    def _unreadable(self, reason: str) -> None:
        log.warning(
            "web_sessions_unreadable",
            path=str(self.path),
            reason=f"{reason}; everyone logs in again",
        )

    def save(self, sessions: list[SavedSession], version: int) -> None:
        """Replace the file with `sessions`, all or nothing, mode 0600. `version`
        counts up with each list (Sessions.changes): one older than the file's is
        not written, as the newer one on disk already says what it had to."""
        data = encode(sessions)
        if not self._current(version):  # no write at all for what cannot count
            return
        # written and synced first (the slow part, on an SD card), then decided on
        # again: a newer list or face may have come meanwhile
        prepared = prepare_atomic(self.path, data, mode=0o600)
        try:
            with self._owner.lock:
                if self._current(version):
                    prepared.commit()
                    self._written = version
        finally:
            prepared.discard()  # nothing left once committed

    def _current(self, version: int) -> bool:
        """Whether a list of `version` is still to be written by this face."""
        if self._face < self._owner.face:
            log.info(
                "web_sessions_save_dropped",
                path=str(self.path),
                reason="a newer web face took the file over",
            )
            return False
        return version > self._written


class KeptSessions:
    """A web face's Sessions and their file: loaded when it starts, written when they
    changed (Sessions.changes: a login, a logout, those of old login files dropped),
    off the asyncio loop. `path` None: in memory only."""

    def __init__(self, sessions: Sessions, path: Path | None, clock: Clock) -> None:
        self._sessions = sessions
        # one per web face: its versions are this Sessions' changes
        self._file = None if path is None else SessionFile(path)
        self._clock = clock
        self._saved = sessions.changes
        self._failed_at: float | None = None  # monotonic, the last write that failed

    def load(self, logins: str) -> None:
        """Take the saved sessions of these login files (their fingerprint), and the
        file: from now on no face before this one writes it (SessionFile.take_over)."""
        if self._file is None:
            return
        self._sessions.restore(
            self._file.take_over(), self._clock.monotonic(), self._clock.wall(), logins
        )
        self._saved = self._sessions.changes
        log.info(
            "web_sessions_loaded", path=str(self._file.path), count=len(self._sessions)
        )

    async def save(self) -> None:
        """Write the sessions if they changed since the last write; awaited before
        the answer goes out, so that a login answered survives a kill. A write that
        fails is logged, and the sessions stay in memory; it is tried again at a
        request SAVE_RETRY_S later (not at each one: a disk that refuses would be
        asked at every request), or at the next change. Until then the file may
        still hold a session logged out: a restart would let it in again."""
        version = self._sessions.changes
        if self._file is None:
            return
        now = self._clock.monotonic()
        retry = self._failed_at is not None and now >= self._failed_at + SAVE_RETRY_S
        if version == self._saved and not retry:
            return
        self._saved = version
        saved = self._sessions.to_save(now, self._clock.wall())
        try:
            await asyncio.to_thread(self._file.save, saved, version)
        except OSError as exc:
            self._failed_at = now
            log.error(
                "web_sessions_not_saved",
                path=str(self._file.path),
                reason=exc.strerror or str(exc),
            )
        else:
            self._failed_at = None
