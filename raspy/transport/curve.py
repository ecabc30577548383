"""CURVE for raspyd's bound TCP sockets: the server's keys and the ZAP allowlist.

docs/protocols.md §8.2: the authenticator runs on the same context as the sockets and
is started before any of them binds; it is stopped after they close. A refused client
is logged (issue 18): once a minute per address and key, within the log budget.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from raspy.config_messaging import SecurityConfig
from raspy.errors import ConfigError
from raspy.ratelimit import LogRateLimiter
from raspy.transport.sockets import Context, CurveKeys

log = structlog.get_logger(component="curve")

_STOP_TIMEOUT_S: Final = 5.0  # for the ZAP thread to end once told
SECRET_SUFFIX: Final = "_secret"  # noqa: S105  # a file name's end (NAME.key_secret), no password

__all__ = [
    "CERTIFICATE_ERRORS",
    "CurveServer",
    "certificate_problem",
    "load_certificate_keys",
    "load_server_keys",
    "secret_server_key",
    "start_curve_server",
]


# pyzmq's certificate reader raises IndexError for a `public-key` or `secret-key`
# line without `=`: a file anyone may edit, so it is refused like any other
CERTIFICATE_ERRORS: Final = (OSError, ValueError, IndexError)


def certificate_problem(exc: Exception) -> str:
    """What is wrong with a certificate file pyzmq could not read."""
    return "a key line without '='" if isinstance(exc, IndexError) else str(exc)


def load_certificate_keys(
    path: str, *, need_secret: bool
) -> tuple[bytes, bytes | None]:
    """(public, secret) of a zmq certificate file; ConfigError naming the file."""
    if not os.path.exists(path):  # pyzmq says "Invalid certificate file" for it
        raise ConfigError([f"{path}: no such file"])
    try:
        public, secret = zmq.auth.load_certificate(path)
    except CERTIFICATE_ERRORS as exc:
        raise ConfigError(
            [f"{path}: cannot load CURVE certificate: {certificate_problem(exc)}"]
        ) from exc
    if need_secret and secret is None:
        raise ConfigError(
            [
                f"{path}: no secret key in this certificate (a .key_secret file is needed)"
            ]
        )
    try:
        CurveKeys(public, secret or public)
    except ValueError as exc:
        raise ConfigError([f"{path}: bad CURVE key: {exc}"]) from exc
    return public, secret


def load_server_keys(security: SecurityConfig) -> CurveKeys:
    """The server's CurveKeys from `security.curve_secret_key_file`."""
    public, secret = load_certificate_keys(
        security.curve_secret_key_file, need_secret=True
    )
    assert secret is not None
    return CurveKeys(public, secret)


class _LoggingAuthenticator(ThreadAuthenticator):
    """pyzmq's ZAP handler, telling what it refuses (it only says so at debug level).

    Runs in the authenticator's own thread: one ZAP request at a time, so the request
    being answered is the one handle_zap_message last saw.
    """

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.refused = 0  # every refusal, logged or not
        self._limiter = LogRateLimiter()
        self._clock = time.monotonic
        self._peer = ""
        self._client_key = ""

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        # RFC 27: version, request id, domain, address, identity, mechanism, *creds
        self._peer = msg[3].decode("ascii", "replace")[:64] if len(msg) > 3 else ""
        key = msg[6] if len(msg) > 6 and msg[5] == b"CURVE" else b""
        self._client_key = z85.encode(key).decode() if len(key) == 32 else key.hex()
        await super().handle_zap_message(msg)

    def _send_zap_reply(
        self,
        request_id: bytes,
        status_code: bytes,
        status_text: bytes,
        user_id: str = "anonymous",
    ) -> None:
        if status_code != b"200":
            self.refused += 1
            if self._limiter.should_log((self._peer, self._client_key), self._clock()):
                log.warning(
                    "curve_client_refused",
                    peer=self._peer,
                    client_key=self._client_key,
                    reason=status_text.decode("ascii", "replace")[:64],
                    count=self.refused,
                )
        super()._send_zap_reply(request_id, status_code, status_text, user_id)

    def start(self) -> None:
        super().start()
        # named as raspy's threads are (pyzmq's is Thread-N), for the tests' guard
        self.thread.name = "raspy-zap"

    def stop(self) -> None:
        """End the thread, then close the pipe and the ZAP socket; idempotent.

        They close even when the thread died first, and whatever the TERMINATE met
        (pyzmq's stop() sends it blocking and closes nothing if that raises): an open
        socket would hang the context's term() for ever. A thread that does not end
        keeps its sockets (they are its own): that is logged, not forced.
        """
        thread, pipe = self.thread, self.pipe
        if self.is_alive():
            try:
                pipe.send(b"TERMINATE", zmq.NOBLOCK)
            except zmq.ZMQError as exc:  # e.g. ETERM: the context is terminating
                log.debug("zap_terminate_unsent", reason=str(exc))
            thread.join(_STOP_TIMEOUT_S)
            if thread.is_alive():
                log.error("zap_thread_stuck", timeout_s=_STOP_TIMEOUT_S)
                return
        self.thread = None  # type: ignore[assignment]  # pyzmq's own "stopped" value
        self.pipe = None  # type: ignore[assignment]  # so super().stop() skips it
        try:
            if pipe is not None:
                pipe.close(linger=0)
        finally:
            super().stop()  # closes the ZAP socket


@dataclass
class CurveServer:
    """The server keys to put on every bound TCP socket, and the running ZAP handler."""

    keys: CurveKeys
    authenticator: _LoggingAuthenticator

    @property
    def refused(self) -> int:
        """ZAP refusals since start (a client retrying its handshake adds each try)."""
        return self.authenticator.refused

    def stop(self) -> None:
        """After the sockets close, before the context terminates; idempotent."""
        self.authenticator.stop()


def start_curve_server(context: Context, security: SecurityConfig) -> CurveServer:
    """Load the keys and start the ZAP allowlist on `context`; ConfigError on bad files."""
    keys = load_server_keys(security)
    folder = Path(security.authorized_keys_dir)
    if not folder.is_dir():
        raise ConfigError(
            [f"{security.authorized_keys_dir}: authorized_keys_dir is not a folder"]
        )
    authenticator = _LoggingAuthenticator(context)
    authenticator.start()
    try:
        authenticator.configure_curve(domain="*", location=str(folder))
    except (OSError, ValueError) as exc:
        authenticator.stop()
        raise ConfigError(
            [f"{security.authorized_keys_dir}: cannot load client keys: {exc}"]
        ) from exc
    except BaseException:
        authenticator.stop()
        raise
    return CurveServer(keys, authenticator)


def client_keys(
    server_key: str | None,
    client_cert: str | None,
    *,
    warn: Callable[[str], None] | None = None,
) -> CurveKeys | None:
    """Client CurveKeys from the hub's public certificate and this client's secret one.

    Both paths or neither (None: plain text). ConfigError names a missing or bad file.
    A server key file that holds the hub's secret key too works, but is told to
    `warn` (one line): it invites copying the hub's secret onto every board.
    """
    if server_key is None and client_cert is None:
        return None
    if server_key is None or client_cert is None:
        raise ConfigError(["--server-key and --client-cert go together"])
    server_public, server_secret = load_certificate_keys(server_key, need_secret=False)
    public, secret = load_certificate_keys(client_cert, need_secret=True)
    assert secret is not None  # need_secret=True guarantees it
    if server_secret is not None and warn is not None:
        warn(secret_server_key(server_key))
    return CurveKeys(public, secret, server_key=server_public)


def secret_server_key(path: str) -> str:
    """The line for a --server-key file that holds the hub's secret key: what to
    give instead (the public half `raspy keys` wrote beside it)."""
    public = (
        path.removesuffix(SECRET_SUFFIX)
        if path.endswith(".key" + SECRET_SUFFIX)
        else "its NAME.key"
    )
    return (
        f"--server-key {path} holds the hub's secret key: give the public "
        f"certificate ({public}) instead and keep the secret one on the hub alone"
    )
