"""Where the web logins live on disk: the token's hash in the data dir, the password's
hash in `[http] password_hash_file`. Files are written whole (temp, fsync, rename)
and private (0600); a missing file means "no such login", a bad one is a ConfigError.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from raspy.atomic_file import atomic_writer, is_special, write_named_output
from raspy.errors import ConfigError
from raspy.file_owner import give_to_folder_owner
from raspy.web.login import SecretHash, b64url, parse_hash

# in the data dir: the hash of `raspy web-token`'s token (a file name, not a secret)
TOKEN_FILE: Final = "web-token"  # noqa: S105


def token_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / TOKEN_FILE


def read_hash(path: Path, what: str) -> SecretHash | None:
    """The hash in `path`; None when the file does not exist; ConfigError if bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{what} {path}: cannot read: {exc}"]) from None
    try:
        return parse_hash(text)
    except ValueError as exc:
        raise ConfigError([f"{what} {path}: {exc}"]) from None


def write_private(path: Path, text: str, *, make_folder: bool = True) -> None:
    """Replace `path` with `text`, mode 0600, all or nothing. `make_folder`: its
    folder (a data dir raspyd has not made yet) may be made, never the ones above it:
    a mistyped path fails instead of growing a tree nobody reads. A pipe or a
    device (`/dev/stdout`) is written into: a rename would put a regular file in its
    place (as root, over the device node itself). Made by root in another user's
    folder (`sudo raspy web-token` into raspy's data dir), it is that user's."""
    if make_folder:
        path.parent.mkdir(mode=0o700, exist_ok=True)
    if is_special(path):
        write_named_output(path, text.encode("utf-8"))
        return
    with atomic_writer(path, mode=0o600) as out:
        # made with sudo in raspy's data dir: raspy's, as raspyd must read it
        give_to_folder_owner(out.fileno(), path.parent)
        out.write(text.encode("utf-8"))


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


class LoginFiles:
    """The two hashes a login is checked against, read again at every attempt (a
    new `raspy web-token` works at once, without a restart)."""

    def __init__(self, data_dir: str | Path, password_hash_file: str) -> None:
        self.token_file = token_path(data_dir)
        self.password_file = Path(password_hash_file) if password_hash_file else None
        self._fingerprint: tuple[tuple[tuple[int, int, int] | None, ...], str] | None
        self._fingerprint = None  # (generation, its fingerprint)

    def files(self) -> list[tuple[Path, str]]:
        """The login files (path, what it is), the token's first."""
        files = [(self.token_file, "web token hash")]
        if self.password_file is not None:
            files.append((self.password_file, "[http] password_hash_file"))
        return files

    def generation(self) -> tuple[tuple[int, int, int] | None, ...]:
        """What changes when a login file is written anew (inode, time, size; None
        for a missing file): one stat per file, cheap enough for every request."""
        return tuple(_identity(path) for path, _ in self.files())

    def fingerprint(self) -> str:
        """What the login files hold, as one short text: the SHA-256 of their content
        (a missing file and one that cannot be read each count as such), base64url.
        A session carries the one of its login, also in the sessions file: a token or
        password made anew, even while raspyd was stopped, ends it (a stat result
        would not survive a copy or tell content apart). Read again only when
        generation() changes: one stat per file per request, as before."""
        generation = self.generation()
        known = self._fingerprint
        if known is not None and known[0] == generation:
            return known[1]
        digest = hashlib.sha256()
        for path, _ in self.files():
            try:
                content = b"file " + path.read_bytes()
            except FileNotFoundError:
                content = b"missing"
            except OSError:
                content = b"unreadable"
            digest.update(len(content).to_bytes(8, "big") + content)
        value = b64url(digest.digest())
        self._fingerprint = (generation, value)
        return value

    def hashes(self) -> list[SecretHash]:
        found = [read_hash(path, what) for path, what in self.files()]
        return [h for h in found if h is not None]

    def configured(self) -> bool:
        """Is any login possible? (raises ConfigError for a file that is bad)."""
        return bool(self.hashes())
