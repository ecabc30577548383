"""Majordomo codecs: MDP/0.1 (RFC 7), MDP/0.2 (RFC 18) and the majortomo dialect.

Frames in peer view (routing id already stripped) <-> frozen dataclasses; docs/protocols.md
§2-§3. Pure functions on the broker's hot path: no state, no I/O, no regexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Final

from raspy.records import frozen


class Version(StrEnum):
    """An MDP version, or the majortomo 0.2.0 dialect of 0.2 (docs/protocols.md §3.4)."""

    V01 = "0.1"
    V02 = "0.2"
    MAJORTOMO = "majortomo"


# docs/protocols.md §2.2 and §3.2
C_CLIENT01: Final = b"MDPC01"
W_WORKER01: Final = b"MDPW01"
C_CLIENT02: Final = b"MDPC02"
W_WORKER02: Final = b"MDPW02"

# MDPW01 command bytes (§2.2)
W01_READY: Final = b"\x01"
W01_REQUEST: Final = b"\x02"
W01_REPLY: Final = b"\x03"
W01_HEARTBEAT: Final = b"\x04"
W01_DISCONNECT: Final = b"\x05"

# MDPC02 command bytes, RFC 18 (§3.2)
C02_REQUEST: Final = b"\x01"
C02_PARTIAL: Final = b"\x02"
C02_FINAL: Final = b"\x03"

# MDPC02 command bytes as majortomo writes them (§3.4)
CMJ_REQUEST: Final = b"\x02"
CMJ_PARTIAL: Final = b"\x03"
CMJ_FINAL: Final = b"\x04"

# MDPW02 command bytes, RFC 18 and majortomo alike (§3.2, §3.4)
W02_READY: Final = b"\x01"
W02_REQUEST: Final = b"\x02"
W02_PARTIAL: Final = b"\x03"
W02_FINAL: Final = b"\x04"
W02_HEARTBEAT: Final = b"\x05"
W02_DISCONNECT: Final = b"\x06"

# the longest service name raspy's broker takes (docs/protocols.md §2.5)
MAX_SERVICE_BYTES: Final = 255

_PROTO: Final = "mdp"


@frozen
class ClientRequest:
    """Client -> broker REQUEST; body has at least one frame."""

    version: Version
    service: bytes
    body: tuple[bytes, ...]


@frozen
class ClientReply:
    """Broker -> client reply. 0.1 is always final; majortomo has no service frame.

    Decoding a majortomo reply gives service=b"" (the frame is absent on the wire).
    """

    version: Version
    service: bytes
    body: tuple[bytes, ...]
    final: bool = True


@frozen
class Ready:
    """Worker -> broker READY for one service."""

    version: Version
    service: bytes


@frozen
class WorkerRequest:
    """Broker -> worker REQUEST; client is the client's routing id at the broker."""

    version: Version
    client: bytes
    body: tuple[bytes, ...]


@frozen
class WorkerReply:
    """Worker -> broker: 0.1 REPLY (final), 0.2/majortomo PARTIAL or FINAL."""

    version: Version
    client: bytes
    body: tuple[bytes, ...]
    final: bool = True


@frozen
class Heartbeat:
    """HEARTBEAT, worker <-> broker."""

    version: Version


@frozen
class Disconnect:
    """DISCONNECT, worker <-> broker."""

    version: Version


BrokerInbound = (
    ClientRequest | Ready | WorkerReply | Heartbeat | Disconnect | WorkerRequest
)
Message = (
    ClientRequest
    | ClientReply
    | Ready
    | WorkerRequest
    | WorkerReply
    | Heartbeat
    | Disconnect
)

_V01: Final = Version.V01
_V02: Final = Version.V02
_VMJ: Final = Version.MAJORTOMO

# Frames that open each outgoing message, per version (peer view).
_WORKER_PREFIX: Final = {
    _V01: (b"", W_WORKER01),
    _V02: (W_WORKER02,),
    _VMJ: (b"", W_WORKER02),
}
_HEARTBEAT_FRAMES: Final = {
    _V01: (b"", W_WORKER01, W01_HEARTBEAT),
    _V02: (W_WORKER02, W02_HEARTBEAT),
    _VMJ: (b"", W_WORKER02, W02_HEARTBEAT),
}
_DISCONNECT_FRAMES: Final = {
    _V01: (b"", W_WORKER01, W01_DISCONNECT),
    _V02: (W_WORKER02, W02_DISCONNECT),
    _VMJ: (b"", W_WORKER02, W02_DISCONNECT),
}


# ---------------------------------------------------------------- frame builders


def worker_request_frames(
    version: Version, client: bytes, body: Sequence[bytes]
) -> list[bytes]:
    """Broker -> worker REQUEST frames (§2.4, §3.3, §3.4)."""
    if version is _V02:
        return [W_WORKER02, W02_REQUEST, client, b"", *body]
    if version is _V01:
        return [b"", W_WORKER01, W01_REQUEST, client, b"", *body]
    return [b"", W_WORKER02, W02_REQUEST, client, b"", *body]


def client_reply_frames(
    version: Version, service: bytes, body: Sequence[bytes], final: bool = True
) -> list[bytes]:
    """Broker -> client reply frames; 0.1 replies must be final (§2.3, §3.3, §3.4).

    An empty `body` (a majortomo worker's bodiless FINAL) goes to a majortomo client
    as it is, to an RFC 7 or RFC 18 client as one empty frame: their replies need a
    body frame (§3.4).
    """
    if not body and version is not _VMJ:
        body = (b"",)
    if version is _V02:
        return [C_CLIENT02, C02_FINAL if final else C02_PARTIAL, service, *body]
    if version is _V01:
        if not final:
            raise ValueError("MDP/0.1 has no partial replies")
        return [b"", C_CLIENT01, service, *body]
    return [b"", C_CLIENT02, CMJ_FINAL if final else CMJ_PARTIAL, *body]


def heartbeat_frames(version: Version) -> list[bytes]:
    """HEARTBEAT frames in the given version."""
    return list(_HEARTBEAT_FRAMES[version])


def disconnect_frames(version: Version) -> list[bytes]:
    """DISCONNECT frames in the given version."""
    return list(_DISCONNECT_FRAMES[version])


def encode(message: Message) -> list[bytes]:
    """Frames (peer view) for a message, in its version; direction follows the type.

    Raises ValueError for a message that cannot be valid on the wire (no body frame,
    empty service name, a non-final 0.1 reply).
    """
    if isinstance(message, WorkerRequest):
        if not message.body:
            raise ValueError("an MDP request needs at least one body frame")
        return worker_request_frames(message.version, message.client, message.body)
    if isinstance(message, WorkerReply):
        if not message.body:
            raise ValueError("an MDP reply needs at least one body frame")
        return _worker_reply_frames(message)
    if isinstance(message, ClientRequest):
        if not message.body or not message.service:
            raise ValueError("an MDP request needs a service and a body frame")
        return _client_request_frames(message)
    if isinstance(message, ClientReply):
        if not message.body:
            raise ValueError("an MDP reply needs at least one body frame")
        return client_reply_frames(
            message.version, message.service, message.body, message.final
        )
    if isinstance(message, Ready):
        if not message.service:
            raise ValueError("READY needs a service name")
        cmd = W01_READY if message.version is _V01 else W02_READY
        return [*_WORKER_PREFIX[message.version], cmd, message.service]
    if isinstance(message, Heartbeat):
        return list(_HEARTBEAT_FRAMES[message.version])
    if isinstance(message, Disconnect):
        return list(_DISCONNECT_FRAMES[message.version])
    raise TypeError(f"not an MDP message: {type(message).__name__}")


def _client_request_frames(message: ClientRequest) -> list[bytes]:
    version = message.version
    if version is _V02:
        return [C_CLIENT02, C02_REQUEST, message.service, *message.body]
    if version is _V01:
        return [b"", C_CLIENT01, message.service, *message.body]
    return [b"", C_CLIENT02, CMJ_REQUEST, message.service, *message.body]


def _worker_reply_frames(message: WorkerReply) -> list[bytes]:
    version = message.version
    if version is _V01:
        if not message.final:
            raise ValueError("MDP/0.1 has no partial replies")
        cmd = W01_REPLY
    else:
        cmd = W02_FINAL if message.final else W02_PARTIAL
    return [*_WORKER_PREFIX[version], cmd, message.client, b"", *message.body]
