"""Every deliberate raspy error derives from RaspyError (docs/style.md §4)."""

from __future__ import annotations

import difflib
import json
import math
import re
import sys
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import Final

_QUOTE_LIMIT = 64


def quote(value: bytes | str, limit: int | None = _QUOTE_LIMIT) -> str:
    """Render an outside value for a message: at most `limit` bytes (64; None: not
    cut, for a text already bounded), never raw control bytes.

    Bytes show as their repr without the b prefix ('ab\\x00'), text as its repr.
    """
    if isinstance(value, bytes):
        kept = value if limit is None else value[:limit]
        return repr(kept)[1:] + ("…" if len(kept) < len(value) else "")
    raw = value.encode("utf-8", "replace")
    kept = raw if limit is None else raw[:limit]
    return repr(kept.decode("utf-8", "replace")) + ("…" if len(kept) < len(raw) else "")


def did_you_mean(name: str, known: Iterable[str], *, written: str = "{}") -> str:
    """` (did you mean X?)` for the one known name close to a mistyped `name`
    (`min_of_s`: `min_off_s`), else nothing: a hint to append to a refusal.
    `written`: how the name is shown (`{}()` for a function)."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {written.format(close[0])}?)" if close else ""


def looked_for(path: str | PathLike[str]) -> str:
    """` (looked for /run/raspy/x.pem: a relative path is from raspyd's working
    directory)` for a relative `path`, nothing for an absolute one: the hint of
    `PATH: no such file`, which did not say that such a path is taken from
    raspyd's working directory (which the systemd unit sets: /run/raspy), not the
    config's folder."""
    if Path(path).is_absolute():
        return ""
    return (
        f" (looked for {Path(path).absolute()}: a relative path is from raspyd's"
        " working directory)"
    )


def long_integer(text: str) -> str:
    """What tomllib could not read when its int() of a literal past Python's
    int_max_str_digits raised a plain ValueError, and where: the first line of
    `text` with a run of over that many digits (hex digits and `_` counted too).
    That error's own words name neither the line nor the file."""
    limit = sys.get_int_max_str_digits()
    run = re.compile(f"[0-9A-Za-z_]{{{limit + 1},}}")
    said = f"an integer of over {limit} digits"
    for number, line in enumerate(text.splitlines(), 1):
        if run.search(line):
            return f"{said} (at line {number})"
    return said


# DEL and the C1 controls, which JSON leaves as they are: a terminal may act on
# one (U+009B is an 8-bit CSI), so a message shows it escaped as JSON would
_C1: Final = re.compile("[\x7f-\x9f]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def c1_escaped(json_text: str) -> str:
    """`json_text` (JSON written with ensure_ascii=False) with DEL and the C1
    controls as their JSON escapes: still the same JSON, and safe on a terminal."""
    return _C1.sub(_escaped, json_text)


def _number_text(value: float) -> str:
    """`value` as text; an integer of over 64 digits by its size (`an integer of
    4816 digits`), as shown() cuts a text: past 4300 digits Python will not write
    one (str() raises ValueError), which a TOML or YAML number in hex reaches in
    a few kilobytes."""
    try:
        text = str(value)
    except ValueError:
        digits = _digits(int(value))
    else:
        if len(text) <= _QUOTE_LIMIT:
            return text
        digits = len(text.lstrip("-"))
    return f"{'a negative' if value < 0 else 'an'} integer of {digits} digits"


def _digits(value: int) -> int:
    """How many decimal digits `value` has, without writing it out."""
    size = abs(value)
    digits = int(math.log10(size)) + 1  # log10 of an int is near: set it right
    if size < 10 ** (digits - 1):
        digits -= 1
    elif size >= 10**digits:
        digits += 1
    return digits


def shown(value: object) -> str:
    """Render an outside value for a user's message, with no Python repr in it.

    Text (and bytes that are printable UTF-8) in double quotes, JSON-escaped, cut at
    64 bytes; other bytes as 0x-hex; true/false; numbers as they are (an integer of
    over 64 digits by its size); anything else as JSON.
    """
    if isinstance(value, bytes):
        raw_bytes = value
        try:
            value = raw_bytes.decode("utf-8")
        except UnicodeDecodeError:
            more = "…" if len(raw_bytes) > _QUOTE_LIMIT else ""
            return "0x" + raw_bytes[:_QUOTE_LIMIT].hex() + more
    if isinstance(value, str):
        raw = value.encode("utf-8", "replace")
        text = raw[:_QUOTE_LIMIT].decode("utf-8", "ignore")
        return _C1.sub(_escaped, json.dumps(text, ensure_ascii=False)) + (
            "…" if len(raw) > _QUOTE_LIMIT else ""
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        text = type(value).__name__
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"


class RaspyError(Exception):
    """Base of every error raised on purpose by raspy."""


class MalformedMessage(RaspyError):
    """Frames that cannot be decoded: protocol, a stable reason token, a detail."""

    def __init__(self, protocol: str, reason: str, detail: str = "") -> None:
        self.protocol = protocol
        self.reason = reason
        self.detail = detail
        text = f"{protocol}: {reason}"
        super().__init__(f"{text}: {detail}" if detail else text)


class PackingError(RaspyError):
    """A msgpack value that is too large, too deep or not decodable."""


class ConfigError(RaspyError):
    """One or more configuration problems, each naming source, key path and value."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class StoreError(RaspyError):
    """The store cannot do what was asked (schema, lock, corruption, limits)."""


class StoreFullError(StoreError):
    """The map reached its configured maximum, or the disk is full."""


class StoreOutcomeUnknown(StoreError):
    """A write the store's writer took and has not ended in the time waited (a
    dying card's sync): it may still be stored, or not. Said so, never as "not
    stored"; raspyd's hang watch ends such a hub, whose start reads what was."""


def outcome_unknown(what_done: str, exc: StoreOutcomeUnknown) -> str:
    """How a reply says a write of unknown outcome, the same for every part
    (`what_done`: "scenario heat was deleted", "the change was stored")."""
    return (
        f"it is not known whether {what_done}: {exc} (raspyd's next start reads"
        " what the store holds)"
    )


class StoreNotTaken(StoreError):
    """A write never made: the store was not handed it in time, or the part that
    hands it on stopped first, and it was cancelled: nothing of it is stored, then
    or later (raspy.actors.clone.server.commit_along). Said "not stored", never
    "may not have been"."""


class StoreDeviceError(StoreError):
    """A write failed with an I/O error while its filesystem had room: the storage
    device may be failing. `fault` says so without what to do, for a caller whose
    advice differs (a restore: nothing was written, so there is no store to save)."""

    def __init__(self, fault: str, advice: str) -> None:
        super().__init__(f"{fault}. {advice}")
        self.fault = fault


class StoreLockedError(StoreError):
    """Another process holds the data dir for writing; `holder` is what it said it
    is (`raspyd`, `raspy-kv restore`), None if it did not say."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class StoreBeingReadError(StoreLockedError):
    """No writer holds the data dir, but a raspy-kv reading it without a reader slot
    holds its lock shared (storage.lock.ReadLock): a writer must wait for it to end,
    or write over the pages being read."""


class DataDirError(StoreError):
    """The data dir cannot be created or made private (0700)."""


class DataDirLockError(StoreError):
    """The data dir's lock file cannot be made, locked or written for a reason
    other than a full disk (a folder in its place, no permission, a read-only
    mount, an I/O error): a runtime failure, named with the file and the OS's
    words, not a bug."""


class StoreNewerError(StoreError):
    """The store was written by a newer raspy (a newer schema): not damaged, and
    nothing was written to it; the message says what helps."""


class StoreDamagedError(StoreError):
    """The data file is damaged, or missing from a data dir that held a store;
    nothing was written to it."""


class ValueTooLargeError(StoreError):
    """A key or value over the store's limits; nothing was written."""


class DumpFormatError(RaspyError):
    """A dump file that cannot be restored; names the line."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


class DumpTooNewError(DumpFormatError):
    """A dump of a newer raspy-kv (a newer format version): not damaged, unread."""


class ScenarioError(RaspyError):
    """A scenario document that is not valid; names the path inside it."""


class DeviceError(RaspyError):
    """A device config or command that is not valid, or a device that failed.

    `problems` holds each problem on its own (a config check may find several), so
    that `raspyd --check-config` shows one a line; the message joins them."""

    def __init__(self, *problems: str) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problems))


class ClientTimeout(RaspyError, TimeoutError):
    """A client call got no answer within its timeout and retries."""


class MalformedReply(ClientTimeout):
    """A reply came but cannot be decoded: the request ends there, never resent (its
    handler would run again, and its answer would be the same). A ClientTimeout, so
    that a caller that handles a call left without an answer handles this one too;
    `reason` is the decoder's token (docs/protocols.md §2.8)."""

    def __init__(self, message: str, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class TitanicError(RaspyError):
    """Titanic refused a call: 400 (unknown, do not retry) or 500 (retry later)."""

    def __init__(self, status: bytes, message: str) -> None:
        self.status = status
        super().__init__(message)
