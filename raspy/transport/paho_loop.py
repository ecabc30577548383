"""A paho MQTT client on a Runner (paho's "external loop" mode).

paho says when it opens or closes its socket and when it has bytes to write; this
registers the socket with the runner's poller accordingly and, when the poller says
so, lets paho read or write. Only the runner's thread calls into paho, so the socket
has one owner. paho's callbacks reach the owner as plain calls (PahoHandler), their
arguments already decoded; when to connect and what to publish is the owner's.
"""

from __future__ import annotations

import ssl
from typing import Any, Final, Protocol

import paho.mqtt.client as paho
import zmq
from paho.mqtt.reasoncodes import ReasonCode

from raspy.transport.runner import Runner


def reconnect(client: paho.Client) -> str | None:
    """(Re)connect on the caller's thread (blocking at most the client's
    connect_timeout); None once the connection is made (CONNACK comes later), else
    why it could not be."""
    try:
        client.reconnect()
    except (OSError, ssl.SSLError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# a TLS record is at most 16 KiB, and each read takes at least a byte of it
_MOST_TLS_READS: Final = 16_384


class PahoHandler(Protocol):
    """What the owner hears; called on the runner's thread, inside paho's calls."""

    def connected(self, refusal: str | None) -> None:
        """CONNACK came: accepted (None) or refused (paho's reason)."""

    def disconnected(self, reason: str) -> None:
        """The socket closed (or the attempt failed after it was made)."""

    def message(self, topic: str, payload: bytes, retained: bool) -> None: ...

    def acknowledged(self) -> None:
        """paho is done with one published message (sent, or acknowledged)."""

    def backlog(self) -> None:
        """A TLS record held more than one read took (bytes already decrypted,
        which the poller cannot see): the owner's next poll should not sleep."""


class PahoLoop:
    """Drives `client` from `runner` for `handler`; see the module docstring."""

    def __init__(
        self, client: paho.Client, runner: Runner, handler: PahoHandler
    ) -> None:
        self._client = client
        self._runner = runner
        self._handler = handler
        self._fd: int | None = None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_socket_open = self._opened
        client.on_socket_close = self._closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._written

    def close(self) -> None:
        """Unregister and close the socket paho may still hold (the runner ends)."""
        self._closed(self._client, None, None)
        sock = self._client.socket()
        if sock is not None:
            sock.close()

    # --- paho's callbacks -------------------------------------------------------------
    def _on_connect(
        self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        self._handler.connected(str(reason) if reason.is_failure else None)

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        self._handler.disconnected(str(reason))

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        topic, retained = message.topic, bool(message.retain)
        self._handler.message(topic, bytes(message.payload), retained)

    def _on_publish(self, _c: paho.Client, _u: Any, _m: int, _r: Any, _p: Any) -> None:
        self._handler.acknowledged()

    # --- the socket -------------------------------------------------------------------
    def _opened(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._fd = sock.fileno()
        self._runner.register(self._fd, self._on_events)

    def _closed(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            self._runner.unregister(self._fd)
            self._fd = None

    def _want_write(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            self._runner.modify(self._fd, zmq.POLLIN | zmq.POLLOUT)

    def _written(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            self._runner.modify(self._fd, zmq.POLLIN)

    def _on_events(self, events: int) -> None:
        client = self._client
        if events & zmq.POLLIN:
            client.loop_read()
            # TLS: a record may hold more packets than a read takes, decrypted
            # already, which the poller cannot see: read until none is left (a
            # record is at most 16 KiB, and each read takes some of it)
            for _ in range(_MOST_TLS_READS):  # bounded, should a read take nothing
                if not _tls_pending(client):
                    break
                self._handler.backlog()
                client.loop_read()
        if events & zmq.POLLOUT and self._fd is not None:
            client.loop_write()


def _tls_pending(client: paho.Client) -> bool:
    """Are decrypted bytes waiting in the client's TLS socket (False: none, or no
    TLS, or no socket any more)?"""
    pending = getattr(client.socket(), "pending", None)
    return pending is not None and pending() > 0
