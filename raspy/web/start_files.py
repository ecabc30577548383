"""What raspyd looks at in the web face's files when it starts: the login files'
modes, and the temp files a stop in the middle of a write left in the data dir.

The login files hold scrypt hashes, not the secrets: a copy lets nobody in, but it
lets a password be guessed offline, at the guesser's pace, and a file others may
write lets them put in a hash of their own. raspyd warns at start about such a file
(`web_login_file_not_private`, naming the fix); it does not refuse it as ssh refuses
a key others may read. A hub is reached through its web face: a refusal would lock
everyone out after a restore or a copy that lost the mode, over a risk the warning
names as well. A password file of another user (root's, in /etc) is read by raspyd
through its group, so the group may read that one. The token's hash file is raspy's
own, in the data dir: it is made 0600 with a warning, as the sessions file and the
data dir are.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import structlog

from raspy.atomic_file import temp_target
from raspy.secrets_file import mode_problem
from raspy.web.login_files import TOKEN_FILE, LoginFiles
from raspy.web.session_file import SESSIONS_FILE

log = structlog.get_logger(component="web")

PRIVATE_MODE: Final = 0o600
# `raspy web-token` writes its temp file for a moment (a few lines, synced): one whose
# time is further from now than this is nobody's write under way
STALE_TEMP_S: Final = 10.0


def check_login_modes(
    logins: LoginFiles, uid: int | None = None, groups: Sequence[int] | None = None
) -> None:
    """Warn about each login file the group or others may use (see the module
    docstring); the token's is made 0600 if it can be. `uid`: raspyd's user (its
    effective uid when None); `groups`: its groups (raspy.secrets_file.shared_fix).
    A missing file is no login, an unreadable one is raspy.config_files' to name."""
    for path, what in logins.files():
        found = mode_problem(path, uid, groups)
        if found is None:
            continue
        mode, fix = found
        if (
            path == logins.token_file
            and not path.is_symlink()  # a chmod would reach whatever it points at
            and _made_private(path)
        ):
            log.warning(
                "web_login_file_permissions_tightened",
                path=str(path),
                mode=f"{mode:04o}",
                now=f"{PRIVATE_MODE:04o}",
            )
            continue
        log.warning(
            "web_login_file_not_private",
            path=str(path),
            what=what,
            mode=f"{mode:04o}",
            reason="the group or others may read or write this hash",
            fix=fix,
        )


def _made_private(path: Path) -> bool:
    try:
        os.chmod(path, PRIVATE_MODE)
    except OSError:  # not raspy's (made by root): the warning names the fix
        return False
    return True


def remove_leftovers(data_dir: Path, now: float) -> list[Path]:
    """Remove the temp files of the sessions file and the token's hash file that a
    power cut or a kill in the middle of a write left in `data_dir` (named as
    raspy.atomic_file names them, regular files only): nothing else would ever
    remove them. raspyd alone writes the sessions file, so no temp of it is a write
    under way when raspyd starts; a token's temp is left while its time (wall,
    `now`) is within STALE_TEMP_S: `raspy web-token` may be writing it. The removed
    files, logged (`web_temp_file_removed`)."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(data_dir))
    except OSError:  # no data dir: nothing was left in it
        return removed
    for entry in entries:
        target = temp_target(entry.name)
        if target not in (SESSIONS_FILE, TOKEN_FILE):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            written = entry.stat(follow_symlinks=False).st_mtime
            if target == TOKEN_FILE and abs(now - written) <= STALE_TEMP_S:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:  # renamed meanwhile: the write ended
            continue
        except OSError as exc:
            log.warning(
                "web_temp_file_not_removed",
                path=entry.path,
                reason=exc.strerror or str(exc),
            )
            continue
        log.info("web_temp_file_removed", path=entry.path, reason="a write cut short")
        removed.append(Path(entry.path))
    return removed
