"""The secrets of scenarios' `http:` actions: a TOML file of `name = "text"`
(`[http_client] secrets_file`, by default `secrets.toml` in the data dir), whose
values `{secret.NAME}` fills in where an action sends them (rules.run_http).

The file is outside the store, so no value is in the tree, a `raspy-kv dump` or a
backup, and a scenario's text (shown by `raspy scenario show` and `export`) holds
only the name. It is read again when it changes: one stat per use, so an edited
file counts at the next request, without a SIGHUP. Nothing here ever puts a value
in a message: a problem names the file, the line, the secret's name.
"""

from __future__ import annotations

import codecs
import grp
import os
import re
import stat
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any, BinaryIO, Final

import structlog

from raspy.errors import ConfigError, long_integer, looked_for, shown
from raspy.records import frozen

log = structlog.get_logger(component="http_client")

SECRETS_FILE: Final = "secrets.toml"  # in the data dir (a file name, not a secret)
MAX_FILE_BYTES: Final = 64 * 1024  # tokens and topics: a few lines
NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)  # `{secret.NAME}`
_NOT_OWNERS: Final = 0o077  # any right of the group or of others
_GROUP_READS: Final = 0o040


def secrets_path(data_dir: str, configured: str) -> Path:
    """The secrets file: `configured` ([http_client] secrets_file), else
    secrets.toml in the data dir, beside raspy's other private files."""
    return Path(configured) if configured else Path(data_dir) / SECRETS_FILE


def parse_secrets(text: str, source: str) -> dict[str, str]:
    """name -> text of a secrets file's `text`; ConfigError naming each problem
    (the line of a TOML error, the name of a value that is no text), never a value."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message is a reason and a place ("Invalid value (at line 2,
        # column 9)"), never the text it read
        raise ConfigError([f"{source}: not TOML: {exc}"]) from None
    except RecursionError:  # `a = [[[[…`: tomllib recurses once a level
        raise ConfigError([f"{source}: not TOML: nested too deeply"]) from None
    except ValueError:
        # tomllib's int() of a literal past Python's int_max_str_digits (4300)
        # raises no TOMLDecodeError: named by its line, as the main config does
        raise ConfigError([f"{source}: not TOML: {long_integer(text)}"]) from None
    problems: list[str] = []
    found: dict[str, str] = {}
    for name, value in table.items():
        if not NAME.fullmatch(name):
            problems.append(
                f"{source}: {shown(name)}: a secret's name is letters, digits and _"
                " (not first), as {secret.NAME} names it"
            )
        elif not isinstance(value, str):
            problems.append(
                f'{source}: {name}: expected text ({name} = "..."), got {_kind(value)}'
            )
        else:
            found[name] = value
    if problems:
        raise ConfigError(problems)
    return found


def _kind(value: object) -> str:
    """What TOML read in place of a text, named by its kind and never shown: a
    PIN written without quotes is a secret too."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number (quote it to keep it as written)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return "a date or time (quote it)"


def read_secrets(path: Path) -> dict[str, str]:
    """The secrets in `path`; ConfigError when it is missing, unreadable, bad, or
    no regular file: a FIFO would block the reading thread, a device is not
    opened at all (its stat is looked at first)."""
    try:
        with open_regular(path) as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file{looked_for(path)}"]) from None
    except OSError as exc:
        why = (exc.strerror or str(exc)).lower()
        raise ConfigError([f"{path}: cannot read it: {why}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_FILE_BYTES} bytes"])
    try:
        # a byte-order mark at the start (Windows editors write one) is skipped
        text = raw.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    return parse_secrets(text, str(path))


def open_regular(path: Path | str) -> BinaryIO:
    """`path` opened for reading in binary, only if it is a regular file: its stat
    is looked at before the open (a device is never opened) and again after it
    (swapped since). The open does not block (a FIFO nobody writes would hang the
    thread). ConfigError (`<path>: why`, `path` as given) for a file of another
    kind; OSError as the stat or the open raised it."""
    _regular(path, os.stat(path).st_mode)
    file = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb")
    try:
        _regular(path, os.fstat(file.fileno()).st_mode)
    except BaseException:
        file.close()
        raise
    return file


def _regular(path: Path | str, mode: int) -> None:
    why = not_regular(mode)
    if why is not None:
        raise ConfigError([f"{path}: {why}"])


def not_regular(mode: int) -> str | None:
    """Why a file of this `mode` is not read as a file a config names, or None:
    a pipe gives its bytes once and a FIFO nobody writes blocks the reader, while
    these files are read again; a device is never opened."""
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device)"
    return None


def mode_problem(
    path: Path, uid: int | None = None, groups: Sequence[int] | None = None
) -> tuple[int, str] | None:
    """(mode, the commands that fix it) when others than raspyd may read or write
    the file: raspyd's own (`uid`, its effective uid when None) must be 0600;
    another user's (root's, in /etc) is read through its group, which may read it
    (0640). None for a file that is private, or not there. `groups`: raspyd's
    groups, its own first (the process's when None), see shared_fix."""
    uid = os.geteuid() if uid is None else uid
    try:
        info = path.stat()
    except OSError:
        return None
    mode = stat.S_IMODE(info.st_mode)
    ours = info.st_uid == uid
    if not stat.S_ISREG(info.st_mode) or not mode & (
        _NOT_OWNERS if ours else _NOT_OWNERS & ~_GROUP_READS
    ):
        return None
    return mode, f"chmod 600 {path}" if ours else shared_fix(path, info.st_gid, groups)


def shared_fix(path: Path, file_gid: int, groups: Sequence[int] | None = None) -> str:
    """The fix for another user's file raspyd reads through its group: `chmod 640`
    alone when the file's group is one of raspyd's `groups` (the process's, its
    own first, when None); else a bare chmod would take raspyd's reading away
    (root:root 0644 -> 0640), so the file goes to raspyd's own group first."""
    groups = _own_groups() if groups is None else groups
    if file_gid in groups:
        return f"chmod 640 {path}"
    return f"chgrp {group_name(groups[0])} {path} && chmod 640 {path}"


def _own_groups() -> list[int]:
    return [os.getegid(), *os.getgroups()]


def group_name(gid: int) -> str:
    """The group's name, or its number when it has none."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def say_mode(
    path: Path | str,
    uid: int | None = None,
    *,
    groups: Sequence[int] | None = None,
    event: str = "secrets_file_mode",
    reason: str = "the group or others may read or write the secrets",
    fix_suffix: str = "",
    logger: Any = log,
) -> bool:
    """Warn (`secrets_file_mode`, naming the fix) when others may read or write the
    secrets file; whether it warned. Not a refusal: the file is read through the
    check of raspy.config_files at each start, and a restore or copy that lost
    the mode would otherwise stop the whole hub over what this line names. The
    MQTT password's files are said the same way, with their own `event`,
    `reason`, `logger` and `fix_suffix` (after the fix); `path` is said as given."""
    found = mode_problem(Path(path), uid, groups)
    if found is None:
        return False
    mode, fix = found
    logger.warning(
        event,
        path=str(path),
        mode=f"{mode:04o}",
        reason=reason,
        fix=fix + fix_suffix,
    )
    return True


@frozen
class Loaded:
    """The file as read last: its values, or why it cannot be used (`problem`:
    missing, unreadable, bad; it names no value)."""

    source: str  # the file's path
    values: Mapping[str, str] = field(default_factory=dict)
    problem: str | None = None

    def missing(self, name: str) -> str:
        """Why `{secret.name}` cannot be filled in, naming the name, not a value."""
        if self.problem is not None:
            return f"secret {name}: {self.problem}"
        return f"secret {name}: not in {self.source}"


_Identity = tuple[int, int, int, int] | None


class SecretsFile:
    """The secrets file, read again when its inode, time, size or mode changed (one
    stat per use); any thread may call load()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._known: tuple[_Identity, Loaded] | None = None

    def _identity(self) -> _Identity:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size, info.st_mode)

    def load(self) -> Loaded:
        identity = self._identity()
        with self._lock:
            known = self._known
            if known is not None and known[0] == identity:
                return known[1]
            try:
                loaded = Loaded(str(self.path), read_secrets(self.path))
            except ConfigError as exc:
                loaded = Loaded(str(self.path), problem="; ".join(exc.problems))
            self._known = (identity, loaded)
            return loaded
