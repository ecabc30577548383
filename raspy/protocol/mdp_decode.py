"""Majordomo decoders: frames (peer view) -> the dataclasses of raspy.protocol.mdp.

One decoder per receiving side, for MDP/0.1 (RFC 7), MDP/0.2 (RFC 18) and the majortomo
dialect; docs/protocols.md §2-§3.5. Anything malformed raises MalformedMessage with a stable
reason token. Pure functions on the broker's hot path: no state, no I/O, no regexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from raspy.errors import MalformedMessage, quote
from raspy.protocol.mdp import (
    C02_FINAL,
    C02_PARTIAL,
    C02_REQUEST,
    C_CLIENT01,
    C_CLIENT02,
    CMJ_FINAL,
    CMJ_PARTIAL,
    CMJ_REQUEST,
    W01_DISCONNECT,
    W01_HEARTBEAT,
    W01_READY,
    W01_REPLY,
    W01_REQUEST,
    W02_DISCONNECT,
    W02_FINAL,
    W02_HEARTBEAT,
    W02_PARTIAL,
    W02_READY,
    W02_REQUEST,
    W_WORKER01,
    W_WORKER02,
    BrokerInbound,
    ClientReply,
    ClientRequest,
    Disconnect,
    Heartbeat,
    Ready,
    Version,
    WorkerReply,
    WorkerRequest,
)

_PROTO: Final = "mdp"
_V01: Final = Version.V01
_V02: Final = Version.V02
_VMJ: Final = Version.MAJORTOMO


def _short(what: str, count: int) -> MalformedMessage:
    return MalformedMessage(_PROTO, "short", f"{what}: {count} frames")


def _bad_command(header: bytes, command: bytes) -> MalformedMessage:
    return MalformedMessage(
        _PROTO, "bad_command", f"{header.decode('ascii')} command {quote(command)}"
    )


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
        # majortomo's worker ends a stream with a FINAL of no body frame (§3.4)
        bodiless = version is _VMJ and kind == _FINAL
        client, body = _envelope(frames, rest, "reply", bodiless=bodiless)
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
    frames: Sequence[bytes], start: int, what: str, *, bodiless: bool = False
) -> tuple[bytes, tuple[bytes, ...]]:
    # client_addr, b'', body0, *more (§2.4, §3.3); `bodiless`: body0 may be missing
    if len(frames) < start + (2 if bodiless else 3):
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
    # majortomo: [b'', MDPC02, cmd, *body], no service frame, and no body frame
    # needed: majortomo's worker ends a stream with an empty FINAL (§3.4)
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
