"""Web logins: scrypt hashes of the token and password, sessions, CSRF, throttling.

Pure: no files, no clock (time is passed in), no sockets. The hash format is one
line `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`, made with the standard library's
hashlib.scrypt; the token file and the password hash file both hold one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import math
import secrets
from collections import OrderedDict
from typing import Final

from raspy.errors import shown
from raspy.records import frozen

SCHEME: Final = "scrypt"
# scrypt cost: 16 MiB and ~50 ms per check on a Pi 4: slow for a guesser, fine for
# a person logging in (RFC 7914 §2 names N=2^14, r=8, p=1 for interactive use)
_N: Final = 2**14
_R: Final = 8
_P: Final = 1
_MAX_N: Final = 2**20  # refuse hashes that would make a check take minutes
_SALT_BYTES: Final = 16
_HASH_BYTES: Final = 32
_MAXMEM: Final = 64 * 1024 * 1024
TOKEN_BYTES: Final = 24  # 192 bits, as text 32 characters
MAX_SECRET_CHARS: Final = 1024


@frozen
class SecretHash:
    """A parsed hash line: the scrypt parameters, the salt and the derived key."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def line(self) -> str:
        salt = base64.b64encode(self.salt).decode("ascii")
        digest = base64.b64encode(self.digest).decode("ascii")
        return f"{SCHEME}${self.n}${self.r}${self.p}${salt}${digest}"


def _derive(secret: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=size
    )


def hash_secret(secret: str, salt: bytes | None = None) -> SecretHash:
    """The scrypt hash of a token or password; raises ValueError for an empty one."""
    if not secret or len(secret) > MAX_SECRET_CHARS:
        raise ValueError(f"expected 1..{MAX_SECRET_CHARS} characters")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    return SecretHash(_N, _R, _P, salt, _derive(secret, salt, _N, _R, _P, _HASH_BYTES))


def parse_hash(text: str) -> SecretHash:
    """A hash line as written by hash_secret(); raises ValueError saying what is wrong."""
    fields = text.strip().split("$")
    if len(fields) != 6 or fields[0] != SCHEME:
        raise ValueError(f"expected scrypt$N$r$p$salt$hash, got {shown(text[:64])}")
    try:
        n, r, p = int(fields[1]), int(fields[2]), int(fields[3])
        salt = base64.b64decode(fields[4], validate=True)
        digest = base64.b64decode(fields[5], validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"bad number or base64 in the hash: {exc}") from None
    if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError(f"scrypt parameters out of range: n={n} r={r} p={p}")
    if not 8 <= len(salt) <= 64 or not 16 <= len(digest) <= 64:
        raise ValueError("salt or hash of an unexpected length")
    if 128 * r * (n + p + 2) > _MAXMEM:
        raise ValueError(f"scrypt parameters need too much memory: n={n} r={r}")
    return SecretHash(n, r, p, salt, digest)


def unmatchable_hash() -> SecretHash:
    """A hash no secret matches (a random digest), as slow to check as a real one:
    checked in place of a login file that is absent, so that the time a login takes
    does not say which files exist."""
    return SecretHash(
        _N, _R, _P, secrets.token_bytes(_SALT_BYTES), secrets.token_bytes(_HASH_BYTES)
    )


def verify(secret: str, expected: SecretHash) -> bool:
    """Does `secret` hash to `expected`? Compared in constant time."""
    if not secret or len(secret) > MAX_SECRET_CHARS:
        return False
    derived = _derive(
        secret, expected.salt, expected.n, expected.r, expected.p, len(expected.digest)
    )
    return hmac.compare_digest(derived, expected.digest)


def new_token() -> str:
    """A fresh login token for `raspy web-token` (URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


MAX_SESSIONS: Final = 1000  # live sessions kept (the oldest go first)


def b64url(raw: bytes) -> str:
    """`raw` as base64url without padding: how the sessions file writes a session's
    key and the login files' fingerprint."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def session_key(sid: str) -> bytes:
    """What a session is known by, in memory and in the sessions file: the SHA-256 of
    its cookie value, never the value itself, so that a copy of the file hands out no
    live cookie. A plain hash is enough: the value is 32 random bytes, which no
    guesser can search (a slow, salted hash like scrypt is for secrets people choose),
    and it is computed at every request."""
    return hashlib.sha256(sid.encode("utf-8", "replace")).digest()


@frozen
class Session:
    """A logged-in browser: its cookie value, its CSRF token, when it ends (mono s),
    and the login files as they were at its login (see Sessions.get)."""

    sid: str
    csrf: str
    expires_at: float
    logins: str = ""


@frozen
class SavedSession:
    """A session as the sessions file keeps it: its key (session_key), its CSRF token,
    when it ends on the wall clock (s since the epoch: a monotonic time means nothing
    after a restart) and LoginFiles.fingerprint() at its login."""

    key: bytes
    csrf: str
    ends_wall_ts: int
    logins: str


@frozen
class _Live:
    csrf: str
    expires_at: float
    logins: str


class Sessions:
    """Live sessions by the hash of their cookie value, at most `limit` (the oldest go
    first). `changes` counts what a saved copy must follow (a login, a logout, the
    sessions of old login files dropped); an ended session counts for nothing: it is
    left out at the next save, and when loaded."""

    def __init__(self, lifetime_s: float, limit: int = MAX_SESSIONS) -> None:
        self._lifetime_s = lifetime_s
        self._limit = limit
        self._by_key: OrderedDict[bytes, _Live] = OrderedDict()
        self.changes = 0

    def create(self, now: float, logins: str = "") -> Session:
        """A new session; `logins`: LoginFiles.fingerprint() before the check."""
        session = Session(
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(24),
            now + self._lifetime_s,
            logins,
        )
        self._add(
            session_key(session.sid), _Live(session.csrf, session.expires_at, logins)
        )
        self.changes += 1
        return session

    def get(self, sid: str | None, now: float, logins: str = "") -> Session | None:
        """The live session of this cookie value, or None. Expired ones are dropped,
        and so are those logged in before the login files last changed (`logins`
        differs): a new `raspy web-token` or password logs every browser out."""
        if not sid:
            return None
        key = session_key(sid)
        live = self._by_key.get(key)
        if live is None:
            return None
        if live.logins != logins:
            self._keep_only(logins)  # every session of the old files at once
            return None
        if live.expires_at <= now:
            del self._by_key[key]
            return None
        return Session(sid, live.csrf, live.expires_at, live.logins)

    def drop(self, sid: str) -> None:
        if self._by_key.pop(session_key(sid), None) is not None:
            self.changes += 1

    def to_save(self, now: float, wall_now: float) -> list[SavedSession]:
        """The live sessions, oldest first, their ends on the wall clock (`wall_now`
        is the wall time at `now`); the ended ones are dropped here."""
        ended = [key for key, live in self._by_key.items() if live.expires_at <= now]
        for key in ended:
            del self._by_key[key]
        return [
            SavedSession(
                key,
                live.csrf,
                math.floor(wall_now + live.expires_at - now),
                live.logins,
            )
            for key, live in self._by_key.items()
        ]

    def restore(
        self, saved: list[SavedSession], now: float, wall_now: float, logins: str
    ) -> None:
        """Take the sessions a saved copy holds (as to_save gave them, oldest first).
        Left out: those of other login files (changed while raspyd was stopped) and
        those that have ended. The time left is never more than the lifetime: a wall
        clock set back since must not stretch a session."""
        for item in saved:
            left = min(item.ends_wall_ts - wall_now, self._lifetime_s)
            if item.logins == logins and left > 0:
                self._add(item.key, _Live(item.csrf, now + left, item.logins))

    def _add(self, key: bytes, live: _Live) -> None:
        self._by_key[key] = live
        self._by_key.move_to_end(key)
        while len(self._by_key) > self._limit:
            self._by_key.popitem(last=False)

    def _keep_only(self, logins: str) -> None:
        before = len(self._by_key)
        for key in [k for k, live in self._by_key.items() if live.logins != logins]:
            del self._by_key[key]
        if len(self._by_key) != before:
            self.changes += 1

    def __len__(self) -> int:
        return len(self._by_key)


def csrf_ok(session: Session, supplied: str | None) -> bool:
    """The synchronizer-token check: the form's or header's token is the session's."""
    return bool(supplied) and hmac.compare_digest(
        session.csrf.encode("ascii"), (supplied or "").encode("utf-8", "replace")
    )


MAX_NEXT_CHARS: Final = 2000  # longer than any page's address here


def safe_next(target: str | None) -> str:
    """Where a login goes after success: `target` when it is a path of this site
    (one leading slash, then printable ASCII, no space, no backslash), else `/`.
    Anything else would make a link to the hub's login an open redirect, sending
    the browser on to another site once logged in: two leading slashes name a host,
    so does a backslash after the first slash, a scheme names a site, and browsers
    drop tabs and newlines, which turns a slash, a tab and a slash into two."""
    if not target or len(target) > MAX_NEXT_CHARS:
        return "/"
    if not target.startswith("/") or target.startswith("//"):
        return "/"
    if any(not "!" <= char <= "~" or char == "\\" for char in target):
        return "/"
    return target


_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}


def same_origin(origin: str | None, host: str) -> bool:
    """Whether a POST's `Origin` header (None: the browser sent none) names the host
    it was sent to (its Host header). The scheme is not compared, only host and
    port (a scheme's default port when none is written): behind a TLS proxy the
    browser says `https://hub.lan` to a server that itself speaks plain HTTP."""
    if origin is None:
        return True
    scheme, separator, netloc = origin.partition("://")
    port = _DEFAULT_PORTS.get(scheme.lower())
    if not separator or port is None or not netloc or not host:
        return False  # "null", a file: page, an extension's own scheme
    return _host_port(netloc, port) == _host_port(host, port)


def _host_port(netloc: str, default_port: str) -> str:
    """`name:port` in lower case, the port filled in (IPv6 `[::1]:80` kept whole)."""
    netloc = netloc.lower()
    _, colon, port = netloc.rpartition(":")
    if colon and port.isdigit():
        return netloc
    return f"{netloc}:{default_port}"


class LoginThrottle:
    """Failed logins per client and in all (scrypt already costs a guesser; this caps
    the rate).

    One client (an address) may fail `attempts` times per `window_s`: a gadget on
    the LAN that guesses, or a child at the keyboard, locks out itself and not the
    household. All clients together may fail `total` times per window: a guesser
    who changes address is held too. A try is counted before its check, so that
    tries sent at once cannot all pass; a try that succeeds is taken
    back (cleared). Memory stays bounded: a client is kept only while it has a
    failure in the window, so there are never more than `total` of them.
    """

    def __init__(
        self, attempts: int = 10, window_s: float = 60.0, total: int = 50
    ) -> None:
        self._attempts = attempts
        self._window_s = window_s
        self._total = total
        self._failures: dict[str, list[float]] = {}

    def refusal(self, client: str, now: float) -> str | None:
        """Why a try from `client` (see client_key) is refused now; None: go on."""
        self._forget_before(now - self._window_s)
        if len(self._failures.get(client, ())) >= self._attempts:
            return "Too many failed logins from this address; wait a minute."
        if sum(map(len, self._failures.values())) >= self._total:
            return "Too many failed logins; wait a minute."
        return None

    def failed(self, client: str, now: float) -> None:
        self._failures.setdefault(client, []).append(now)

    def cleared(self, client: str, at: float) -> None:
        """The try counted by failed(client, at) succeeded: it no longer counts."""
        times = self._failures.get(client)
        if times is None or at not in times:
            return
        times.remove(at)
        if not times:
            del self._failures[client]

    def _forget_before(self, limit: float) -> None:
        for client, times in list(self._failures.items()):
            kept = [t for t in times if t > limit]
            if kept:
                self._failures[client] = kept
            else:
                del self._failures[client]


def client_key(host: str | None) -> str:
    """The throttle's client for a peer address: the address itself, an IPv4-mapped
    IPv6 one as its IPv4 address, anything else (a Unix socket: no address) as it is.

    Not an IPv6 /64, as servers on the Internet group them: on a home LAN every
    host shares the one /64 of the router's prefix."""
    if not host:
        return ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)
