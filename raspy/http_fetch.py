"""One HTTP request of the `<host>.http` service, made with the standard library's
http.client on the caller's thread (never an actor's: it blocks for up to its
timeout).

The host is looked up first, on a thread of raspy.http_lookup's, bounded by the
request's timeout too (getaddrinfo takes none), and the connection made to its
addresses in turn, each within what is left; the Host header, TLS's server name and
the certificate's check stay on the host name.

Certificates are checked against the system's store (the TLS context is the
caller's: `ssl.create_default_context()` in raspyd). No proxy is taken from the
environment (http.client reads none): a hub's notifications go straight out, and a
variable set for another program cannot send them, tokens and all, elsewhere. The
whole exchange, redirects included, ends by `timeout_s`: a server that dribbles its
answer a byte at a time is cut off too. At most MAX_ANSWER_BYTES of an answer are
read, and at most MAX_REDIRECTS redirects followed, to http or https only, never from
https down to http; a redirect to another host takes none of the scenario's headers
along but Content-Type (they may hold its token), and 303 (and 301 or 302 after a POST) goes on as a
GET without the body, as browsers do.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from raspy import __version__
from raspy.http_lookup import AddrInfo, HostLookup, LookupTimeout
from raspy.http_reply import (
    MAX_ANSWER_BYTES,
    Answer,
    Failure,
    Outcome,
)
from raspy.http_request import (
    MAX_REDIRECTS,
    HttpRequest,
    UrlError,
    check_url,
    shown_url,
)
from raspy.records import frozen

REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
USER_AGENT: Final = f"raspy/{__version__}"
Monotonic = Callable[[], float]


def fetch(
    request: HttpRequest,
    tls: ssl.SSLContext,
    lookup: HostLookup,
    now: Monotonic = time.monotonic,
) -> Outcome:
    """Make `request`, following redirects, its hosts looked up by `lookup`; what
    the last server answered, or why there was no answer."""
    deadline = now() + request.timeout_s
    hop = _Hop(request.method, request.url, request.headers, request.body)
    for redirects in range(MAX_REDIRECTS + 1):
        outcome = _exchange(hop, request.timeout_s, deadline, tls, lookup, now)
        if (
            isinstance(outcome, Failure)
            or outcome.status not in REDIRECTS
            or not outcome.location
        ):
            return outcome
        if redirects == MAX_REDIRECTS:
            return Failure("redirect", f"more than {MAX_REDIRECTS} redirects")
        followed = _redirected(
            hop, outcome.status, outcome.location, guarded=bool(request.secrets)
        )
        if isinstance(followed, Failure):
            return followed
        hop = followed
    raise AssertionError("unreachable: the loop returns")  # pragma: no cover


@frozen
class _Hop:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _redirected(
    hop: _Hop, status: int, location: str, *, guarded: bool = False
) -> _Hop | Failure:
    """The next hop of a redirect, or why it is not made. Another host gets none of
    the headers but Content-Type; `guarded` (the request carried a secret, which may
    be in its body) refuses a redirect that would send the body to another host."""
    try:
        target = urljoin(hop.url, location.strip())
    except ValueError:  # a host in brackets that is no address: no URL at all
        return Failure("redirect", "a redirect to a Location that is no URL refused")
    try:
        target = check_url(target)
    except UrlError as exc:
        return Failure("redirect", f"a redirect to {shown_url(target)} refused: {exc}")
    before, after = urlsplit(hop.url), urlsplit(target)
    if before.scheme == "https" and after.scheme == "http":
        return Failure(
            "redirect", f"a redirect from https to http refused ({shown_url(target)})"
        )
    headers = hop.headers
    elsewhere = (before.scheme, before.hostname, before.port) != (
        after.scheme,
        after.hostname,
        after.port,
    )
    if elsewhere:
        headers = tuple(
            (name, value) for name, value in headers if name.lower() == "content-type"
        )
    to_get = status == 303 or (status in (301, 302) and hop.method == "POST")
    if guarded and elsewhere and hop.body and not to_get:
        return Failure(
            "redirect",
            "a redirect to another host refused: the body of a request that carries"
            " a secret goes to the host the scenario names only",
        )
    if to_get:
        kept = tuple(pair for pair in headers if pair[0].lower() != "content-type")
        return _Hop("GET", target, kept, b"")
    return replace(hop, url=target, headers=headers)


def _exchange(
    hop: _Hop,
    timeout_s: float,
    deadline: float,
    tls: ssl.SSLContext,
    lookup: HostLookup,
    now: Monotonic,
) -> Outcome:
    parts = urlsplit(hop.url)
    host, port = parts.hostname or "", parts.port
    left = max(deadline - now(), 0.001)
    connection = (
        http.client.HTTPSConnection(host, port, timeout=left, context=tls)
        if parts.scheme == "https"
        else http.client.HTTPConnection(host, port, timeout=left)
    )
    # a server that answers a byte at a time stays within each read's timeout: the
    # socket is shut at the deadline, whatever the request is waiting for then
    watchdog = threading.Timer(max(deadline - now(), 0.0), _cut, (connection,))
    watchdog.name, watchdog.daemon = "raspy-http-watchdog", True
    watchdog.start()
    try:
        addresses = lookup.addresses(host, connection.port, deadline - now())
        # http.client opens its socket through this attribute (CPython's own tests
        # replace it so): connect() then goes to the addresses found above, while
        # the Host header and TLS (server name, certificate) keep the host name
        connection._create_connection = functools.partial(  # type: ignore[attr-defined]  # http.client's, not in typeshed
            _open, addresses, deadline, now
        )
        return _talk(connection, hop, parts, deadline, now)
    except LookupTimeout:
        return Failure(
            "timeout", f"no answer within {timeout_s:g}s (looking up {host})"
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if now() >= deadline:
            return Failure("timeout", f"no answer within {timeout_s:g}s")
        return _failure(exc, host, timeout_s)
    finally:
        watchdog.cancel()
        connection.close()


def _talk(
    connection: http.client.HTTPConnection,
    hop: _Hop,
    parts: SplitResult,
    deadline: float,
    now: Monotonic,
) -> Answer:
    """`parts`: hop.url, split."""
    connection.connect()
    _on_time(connection, deadline, now)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    connection.putrequest(hop.method, target, skip_accept_encoding=True)
    given = {name.lower() for name, _ in hop.headers}
    for name, value in hop.headers:
        connection.putheader(name, value.encode("utf-8"))
    if parts.username is not None and "authorization" not in given:
        user, password = unquote(parts.username), unquote(parts.password or "")
        secret = f"{user}:{password}".encode()
        connection.putheader("Authorization", b"Basic " + base64.b64encode(secret))
    if "user-agent" not in given:
        connection.putheader("User-Agent", USER_AGENT)
    if hop.body or hop.method != "GET":
        connection.putheader("Content-Length", str(len(hop.body)))
    connection.putheader("Connection", "close")
    connection.endheaders(hop.body or None)
    _on_time(connection, deadline, now)
    response = connection.getresponse()
    _on_time(connection, deadline, now)
    body = response.read(MAX_ANSWER_BYTES + 1)
    return Answer(
        response.status,
        response.reason,
        body[:MAX_ANSWER_BYTES],
        len(body) > MAX_ANSWER_BYTES,
        response.getheader("Location"),
    )


def _open(
    addresses: Sequence[AddrInfo],
    deadline: float,
    now: Monotonic,
    _address: tuple[str, int],
    _timeout: float | None = None,
    _source: tuple[str, int] | None = None,
) -> socket.socket:
    """A socket connected to the first of `addresses` that takes it, each tried
    within what is left (socket.create_connection gives each the whole timeout);
    the error of the last when none does. http.client's call, whose address and
    timeout are the host name's and the first step's."""
    error: OSError = socket.gaierror(socket.EAI_NONAME, "no address")
    for family, kind, proto, _, sockaddr in addresses:
        left = deadline - now()
        if left <= 0:
            raise TimeoutError("deadline")
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error


def _on_time(
    connection: http.client.HTTPConnection, deadline: float, now: Monotonic
) -> None:
    """The next step's socket timeout is what is left; none left is a timeout."""
    left = deadline - now()
    if left <= 0:
        raise TimeoutError("deadline")
    if connection.sock is not None:
        connection.sock.settimeout(left)


def _cut(connection: http.client.HTTPConnection) -> None:
    """Shut the request's socket (from the watchdog's thread): the read or write
    waiting on it returns at once. The plain socket's shutdown, under TLS too: the
    TLS layer's own would change its state under the reading thread."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _failure(exc: Exception, host: str, timeout_s: float) -> Failure:
    match exc:
        case TimeoutError():  # socket.timeout too: the same class
            return Failure("timeout", f"no answer within {timeout_s:g}s")
        case ssl.SSLCertVerificationError():
            why = exc.verify_message or exc.reason
            return Failure("tls", f"TLS: certificate verify failed: {why}")
        case ssl.SSLError():
            return Failure("tls", f"TLS: {exc.reason or exc}")
        case ConnectionRefusedError():
            return Failure("connect", "connection refused")
        case socket.gaierror():
            return Failure("connect", f"cannot resolve the host {host}")
        case http.client.RemoteDisconnected():
            return Failure("protocol", "the server closed the connection, no answer")
        case http.client.HTTPException():
            return Failure("protocol", f"not an HTTP answer ({type(exc).__name__})")
        case OSError():
            return Failure("connect", exc.strerror or type(exc).__name__)
    # http.client refused what we would send (check_url and the header checks
    # should have caught it first)
    return Failure("bad_request", f"{type(exc).__name__}: {exc}"[:200])
