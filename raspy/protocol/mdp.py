"""Majordomo codecs: MDP/0.1 (RFC 7), MDP/0.2 (RFC 18) and the majortomo dialect.

Frames in peer view (routing id already stripped) <-> frozen dataclasses; protocols.md
§2-§3. Pure functions on the broker's hot path: no state, no I/O, no regexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from raspy.errors import MalformedMessage, quote


class Version(StrEnum):
    """An MDP version, or the majortomo 0.2.0 dialect of 0.2 (protocols.md §3.4)."""

    V01 = "0.1"
    V02 = "0.2"
    MAJORTOMO = "majortomo"


# protocols.md §2.2 and §3.2
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

_PROTO: Final = "mdp"


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """Client -> broker REQUEST; body has at least one frame."""

    version: Version
    service: bytes
    body: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ClientReply:
    """Broker -> client reply. 0.1 is always final; majortomo has no service frame.

    Decoding a majortomo reply gives service=b"" (the frame is absent on the wire).
    """

    version: Version
    service: bytes
    body: tuple[bytes, ...]
    final: bool = True


@dataclass(frozen=True, slots=True)
class Ready:
    """Worker -> broker READY for one service."""

    version: Version
    service: bytes


@dataclass(frozen=True, slots=True)
class WorkerRequest:
    """Broker -> worker REQUEST; client is the client's routing id at the broker."""

    version: Version
    client: bytes
    body: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class WorkerReply:
    """Worker -> broker: 0.1 REPLY (final), 0.2/majortomo PARTIAL or FINAL."""

    version: Version
    client: bytes
    body: tuple[bytes, ...]
    final: bool = True


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """HEARTBEAT, worker <-> broker."""

    version: Version


@dataclass(frozen=True, slots=True)
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


def _short(what: str, count: int) -> MalformedMessage:
    return MalformedMessage(_PROTO, "short", f"{what}: {count} frames")


def _bad_command(header: bytes, command: bytes) -> MalformedMessage:
    return MalformedMessage(
        _PROTO, "bad_command", f"{header.decode('ascii')} command {quote(command)}"
    )


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
    """Broker -> client reply frames; 0.1 replies must be final (§2.3, §3.3, §3.4)."""
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


# ---------------------------------------------------------------- broker side


def decode_at_broker(
    frames: Sequence[bytes], *, accept_majortomo: bool = True
) -> BrokerInbound:
    """Classify and decode a message received by the broker (§3.5, §2.8).

    Raises MalformedMessage with reason short, bad_header, bad_envelope,
    bad_service, bad_command or extra_frames.
    """
    count = len(frames)
    if count == 0:
        raise _short("empty message", 0)
    first = frames[0]
    if first == b"":
        if count < 2:
            raise _short("delimiter only", count)
        header = frames[1]
        if header == W_WORKER01:
            return _decode_worker_at_broker(frames, 2, _V01)
        if header == C_CLIENT01:
            return _decode_client_request01(frames)
        if header in (W_WORKER02, C_CLIENT02):
            if not accept_majortomo:
                raise MalformedMessage(
                    _PROTO, "bad_envelope", "delimited MDP/0.2 (majortomo disabled)"
                )
            if header == W_WORKER02:
                return _decode_worker_at_broker(frames, 2, _VMJ)
            return _decode_client_request02(frames, 2, _VMJ, CMJ_REQUEST)
        raise MalformedMessage(_PROTO, "bad_header", quote(header))
    if first == W_WORKER02:
        return _decode_worker_at_broker(frames, 1, _V02)
    if first == C_CLIENT02:
        return _decode_client_request02(frames, 1, _V02, C02_REQUEST)
    if first in (C_CLIENT01, W_WORKER01):
        raise MalformedMessage(
            _PROTO, "bad_envelope", f"{first.decode('ascii')} without empty frame"
        )
    raise MalformedMessage(_PROTO, "bad_header", quote(first))


def _decode_client_request01(frames: Sequence[bytes]) -> ClientRequest:
    # [b'', MDPC01, SVC, body0, *more] (§2.3)
    if len(frames) < 4:
        raise _short("MDPC01 request", len(frames))
    service = frames[2]
    if not service:
        raise MalformedMessage(_PROTO, "bad_service", "empty service name")
    return ClientRequest(_V01, service, tuple(frames[3:]))


def _decode_client_request02(
    frames: Sequence[bytes], start: int, version: Version, request: bytes
) -> ClientRequest:
    # RFC 18: [MDPC02, 0x01, SVC, body0, ...]; majortomo: [b'', MDPC02, 0x02, SVC, ...]
    count = len(frames)
    if count <= start:
        raise _short("MDPC02 without command", count)
    command = frames[start]
    if command != request:
        # PARTIAL/FINAL from a client, or any other byte, is invalid (§3.3)
        raise _bad_command(C_CLIENT02, command)
    if count < start + 3:
        raise _short("MDPC02 request", count)
    service = frames[start + 1]
    if not service:
        raise MalformedMessage(_PROTO, "bad_service", "empty service name")
    return ClientRequest(version, service, tuple(frames[start + 2 :]))


# Worker commands the broker may receive, per version: command byte -> kind.
_READY: Final = 1
_REQUEST: Final = 2
_PARTIAL: Final = 3
_FINAL: Final = 4
_HEARTBEAT: Final = 5
_DISCONNECT: Final = 6
_W01_COMMANDS: Final = {
    W01_READY: _READY,
    W01_REQUEST: _REQUEST,
    W01_REPLY: _FINAL,
    W01_HEARTBEAT: _HEARTBEAT,
    W01_DISCONNECT: _DISCONNECT,
}
_W02_COMMANDS: Final = {
    W02_READY: _READY,
    W02_REQUEST: _REQUEST,
    W02_PARTIAL: _PARTIAL,
    W02_FINAL: _FINAL,
    W02_HEARTBEAT: _HEARTBEAT,
    W02_DISCONNECT: _DISCONNECT,
}


def _decode_worker_at_broker(
    frames: Sequence[bytes], start: int, version: Version
) -> BrokerInbound:
    count = len(frames)
    if count <= start:
        raise _short("worker message without command", count)
    command = frames[start]
    table = _W01_COMMANDS if version is _V01 else _W02_COMMANDS
    kind = table.get(command)
    if kind is None:
        header = W_WORKER01 if version is _V01 else W_WORKER02
        raise _bad_command(header, command)
    rest = start + 1
    if kind in (_FINAL, _PARTIAL):
        client, body = _envelope(frames, rest, "reply")
        return WorkerReply(version, client, body, kind == _FINAL)
    if kind == _HEARTBEAT:
        _exactly(frames, rest, "HEARTBEAT")
        return Heartbeat(version)
    if kind == _READY:
        if count <= rest:
            raise _short("READY without service", count)
        if count > rest + 1:
            raise MalformedMessage(_PROTO, "extra_frames", f"READY: {count} frames")
        service = frames[rest]
        if not service:
            raise MalformedMessage(_PROTO, "bad_service", "READY with empty service")
        return Ready(version, service)
    if kind == _DISCONNECT:
        _exactly(frames, rest, "DISCONNECT")
        return Disconnect(version)
    client, body = _envelope(frames, rest, "request")
    return WorkerRequest(version, client, body)


def _exactly(frames: Sequence[bytes], end: int, what: str) -> None:
    if len(frames) > end:
        raise MalformedMessage(_PROTO, "extra_frames", f"{what}: {len(frames)} frames")


def _envelope(
    frames: Sequence[bytes], start: int, what: str
) -> tuple[bytes, tuple[bytes, ...]]:
    # client_addr, b'', body0, *more (§2.4, §3.3)
    if len(frames) < start + 3:
        raise _short(what, len(frames))
    if frames[start + 1]:
        raise MalformedMessage(
            _PROTO, "bad_envelope", f"{what}: frame after client address not empty"
        )
    return frames[start], tuple(frames[start + 2 :])


# ---------------------------------------------------------------- client and worker


def _opening(frames: Sequence[bytes], header: bytes, *, delimited: bool) -> int:
    """Index after the expected header; raises the §2.8 error if it is not there."""
    count = len(frames)
    if delimited:
        if count >= 2 and frames[0] == b"" and frames[1] == header:
            return 2
        if count == 0 or (frames[0] == b"" and count < 2):
            raise _short("no header", count)
        if frames[0] == header:
            raise MalformedMessage(_PROTO, "bad_envelope", "missing empty frame")
        found = frames[1] if frames[0] == b"" else frames[0]
        raise MalformedMessage(_PROTO, "bad_header", quote(found))
    if count and frames[0] == header:
        return 1
    if count == 0:
        raise _short("no header", count)
    if frames[0] == b"" and count > 1 and frames[1] == header:
        raise MalformedMessage(_PROTO, "bad_envelope", "unexpected empty frame")
    raise MalformedMessage(_PROTO, "bad_header", quote(frames[0]))


def decode_at_client(frames: Sequence[bytes], version: Version) -> ClientReply:
    """Decode a reply received by a client speaking `version` (peer view, DEALER).

    A REQ socket strips the leading empty frame of 0.1 replies: put it back first.
    Raises MalformedMessage.
    """
    count = len(frames)
    if version is _V01:
        # [b'', MDPC01, SVC, body0, *more] (§2.3)
        _opening(frames, C_CLIENT01, delimited=True)
        if count < 4:
            raise _short("MDPC01 reply", count)
        return ClientReply(_V01, frames[2], tuple(frames[3:]), True)
    start = _opening(frames, C_CLIENT02, delimited=version is _VMJ)
    if count <= start:
        raise _short("MDPC02 reply without command", count)
    command = frames[start]
    final, partial = (
        (C02_FINAL, C02_PARTIAL) if start == 1 else (CMJ_FINAL, CMJ_PARTIAL)
    )
    if command not in (final, partial):
        raise _bad_command(C_CLIENT02, command)
    if start == 1:
        # RFC 18: [MDPC02, cmd, SVC, body0, *more] (§3.3)
        if count < 4:
            raise _short("MDPC02 reply", count)
        return ClientReply(_V02, frames[2], tuple(frames[3:]), command == final)
    # majortomo: [b'', MDPC02, cmd, body0, *more], no service frame (§3.4)
    if count < 4:
        raise _short("majortomo reply", count)
    return ClientReply(_VMJ, b"", tuple(frames[3:]), command == final)


_AT_WORKER: Final = {
    W_WORKER01: {
        W01_REQUEST: _REQUEST,
        W01_HEARTBEAT: _HEARTBEAT,
        W01_DISCONNECT: _DISCONNECT,
    },
    W_WORKER02: {
        W02_REQUEST: _REQUEST,
        W02_HEARTBEAT: _HEARTBEAT,
        W02_DISCONNECT: _DISCONNECT,
    },
}


def decode_at_worker(
    frames: Sequence[bytes], version: Version
) -> WorkerRequest | Heartbeat | Disconnect:
    """Decode a message received by a worker speaking `version` (peer view).

    Raises MalformedMessage; READY, REPLY, PARTIAL and FINAL are bad_command here.
    """
    header = W_WORKER01 if version is _V01 else W_WORKER02
    start = _opening(frames, header, delimited=version is not _V02)
    if len(frames) <= start:
        raise _short("worker message without command", len(frames))
    command = frames[start]
    kind = _AT_WORKER[header].get(command)
    if kind is None:
        raise _bad_command(header, command)
    if kind == _REQUEST:
        client, body = _envelope(frames, start + 1, "request")
        return WorkerRequest(version, client, body)
    _exactly(frames, start + 1, "HEARTBEAT" if kind == _HEARTBEAT else "DISCONNECT")
    return Heartbeat(version) if kind == _HEARTBEAT else Disconnect(version)
